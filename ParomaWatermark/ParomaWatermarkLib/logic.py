"""ParomaWatermarkLogic: the one class the Slicer panel, the Python console, the command line and the server call.

    from ParomaWatermarkLib import ParomaWatermarkLogic
    logic = ParomaWatermarkLogic(ledger="path/to/ledger.db")
    marked, record = logic.watermark(volume, paroma_id="P-0001", recipient="DS-42")
    finding = logic.check(suspect)
    original = logic.restore(marked)
    report = logic.verify_ledger()

`volume` is a numpy integer array (2D, or 3D with slices along axis 0) or a scalar volume node; for a node, watermark
and restore return a new node in the same scene with the same geometry.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from . import codec
from .detection import Finding, check_volume
from .errors import NotRecordedError, RestoreError
from .hashing import volume_hash
from .ledger import KEY_READ, LEAK_CHECK, RESTORE, WATERMARK, LocalLedger, MasterKey, VerifyReport
from .ledger.blocks import utc_timestamp
from .ledger.postgres import PostgresLedger, is_postgres_url
from .ledger.remote import RemoteLedger
from .ledger.records import WatermarkRecord, leak_check_payload, seal_context, watermark_payload
from .slicewise import Progress
from .statistics import DEFAULT_FALSE_MATCH_BOUND
from .volumes.files import VolumeFile, check_target, read_volume, write_volume
from .volumes.mrml import check_output_node, is_mrml_node, node_array, node_geometry, node_like
from .watermark import SecretKey, watermark_bits, watermark_message

LEDGER_ENVIRONMENT_VARIABLE = "PAROMA_LEDGER"


def default_ledger_path() -> Path:
    """PAROMA_LEDGER if set, else `ledger.db` in the user's data folder for ParomaWatermark (created if missing)."""
    if os.environ.get(LEDGER_ENVIRONMENT_VARIABLE):
        return Path(os.environ[LEDGER_ENVIRONMENT_VARIABLE]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = base / "ParomaWatermark"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / "ledger.db"


class ParomaWatermarkLogic:
    """Watermark volumes for recipients, record them in a ledger, trace leaked copies, restore originals."""

    def __init__(
        self,
        ledger: str | os.PathLike | LocalLedger | PostgresLedger | RemoteLedger | None = None,
        *,
        token: str | None = None,
        master_key: MasterKey | str | None = None,
        false_match_bound: float = DEFAULT_FALSE_MATCH_BOUND,
        workers: int | None = None,
    ) -> None:
        if isinstance(ledger, (LocalLedger, RemoteLedger)):
            self.ledger = ledger
        elif isinstance(ledger, str) and ledger.startswith(("http://", "https://")):
            self.ledger = RemoteLedger(ledger, token)
        elif is_postgres_url(ledger):
            self.ledger = PostgresLedger(ledger, master_key)
        else:
            self.ledger = LocalLedger(default_ledger_path() if ledger is None else ledger, master_key)
        if not 0 < false_match_bound < 1:
            raise ValueError(f"the false-match bound must lie strictly between 0 and 1, got {false_match_bound}")
        self.false_match_bound = false_match_bound
        self.workers = workers

    def watermark(
        self,
        volume,
        paroma_id: str,
        recipient: str,
        *,
        value_range: tuple[int, int] | None = None,
        stride: int = codec.DEFAULT_STRIDE,
        progress: Progress | None = None,
        source: str | None = None,
        geometry: dict | None = None,
        output=None,
    ):
        """Watermark a copy of `volume` for `recipient` and record it; returns (watermarked copy, WatermarkRecord).

        `source` and `geometry` (spacing, origin, directions) describe an array's origin in the record; a node's own
        name and geometry are recorded without being given. For a node, `output` is an existing volume node to fill
        instead of creating a new one.
        """
        message = watermark_message(paroma_id, recipient)
        array, own_geometry = self._array_and_geometry(volume)
        if is_mrml_node(volume):
            check_output_node(volume, output)
        geometry = own_geometry or geometry or {}
        phases = _Phases(progress, 3)
        original = volume_hash(array, progress=phases.next(), workers=self.workers)
        key = SecretKey.generate()
        watermarked_at = utc_timestamp()
        bits = watermark_bits(message, key, watermarked_at)
        embedding = codec.embed(
            array, key, bits, stride=stride, value_range=value_range, progress=phases.next(), workers=self.workers
        )
        marked = volume_hash(embedding.volume, progress=phases.next(), workers=self.workers)
        payload = watermark_payload(
            paroma_id=paroma_id,
            recipient=recipient,
            watermarked_at=watermarked_at,
            watermark=bits,
            sealed_key=self.ledger.seal(key, seal_context(self.ledger.ledger_id, message, watermarked_at)),
            key_fingerprint=key.fingerprint(),
            embedding=embedding,
            original=original,
            marked=marked,
            geometry={"shape": list(array.shape), "dtype": array.dtype.newbyteorder("<").str} | geometry,
            source=volume.GetName() if is_mrml_node(volume) else source,
        )
        record = WatermarkRecord(self.ledger.append(WATERMARK, payload, slice_hashes=marked.slices))
        if is_mrml_node(volume):
            name = f"{volume.GetName()} [watermarked: {recipient}]"
            return node_like(volume, embedding.volume, name, into=output), record
        return embedding.volume, record

    def check(
        self, suspect, *, orientations: bool = True, progress: Progress | None = None, actor: dict | None = None
    ) -> Finding:
        """Whose copy is `suspect`? Records the check in the ledger and returns the Finding.

        With `orientations`, a suspect not traced as stored is also tried mirrored and transposed. `actor` (who asked,
        e.g. the server's role and token id) goes into the audit block. With a remote ledger the check runs on the
        server, where the keys are.
        """
        array, _ = self._array_and_geometry(suspect)
        if self.ledger.remote:
            return self.ledger.check(array, orientations=orientations)
        hashes = volume_hash(array, workers=self.workers)
        finding = check_volume(
            self.ledger,
            array,
            self.ledger.key_for,
            bound=self.false_match_bound,
            orientations=orientations,
            suspect_hash=hashes,
            progress=progress,
            workers=self.workers,
        )
        self.ledger.append(LEAK_CHECK, leak_check_payload(finding, array.shape, actor))
        return finding

    def read_key(self, block: int, actor: dict) -> SecretKey:
        """The secret key of watermark block `block`, for a custodian; the read is recorded in the ledger."""
        record = self.record(block)
        key = self.ledger.key_for(record)
        self.ledger.append(KEY_READ, {"block": block, "key_fingerprint": record.key_fingerprint} | actor)
        return key

    def restore(self, marked, *, progress: Progress | None = None, output=None):
        """The exact original of a watermarked copy, checked against the original's recorded hash.

        For a node, `output` is an existing volume node to fill instead of creating a new one.
        """
        array, _ = self._array_and_geometry(marked)
        if is_mrml_node(marked):
            check_output_node(marked, output)
        restored, _ = self._restored(array, progress)
        if is_mrml_node(marked):
            name = marked.GetName().split(" [watermarked:")[0]
            return node_like(marked, restored, f"{name} [restored original]", into=output)
        return restored

    def _restored(self, array: np.ndarray, progress: Progress | None) -> tuple[np.ndarray, WatermarkRecord]:
        record = self._record_of(array)
        phases = _Phases(progress, 2)
        restored = codec.restore(
            array,
            self.ledger.key_for(record),
            record.side_info,
            stride=record.stride,
            value_range=record.value_range,
            progress=phases.next(),
            workers=self.workers,
        )
        restored_hash = volume_hash(restored, progress=phases.next(), workers=self.workers)
        if restored_hash.volume != record.original_hash:
            raise RestoreError(
                f"the restored voxels do not match the original recorded in block {record.index}: this copy was "
                "changed after it was watermarked, so the exact original cannot be recovered from it"
            )
        self.ledger.append(RESTORE, {"block": record.index, "restored_hash": restored_hash.volume, "verified": True})
        return restored, record

    def watermark_file(
        self, source: str | os.PathLike, target: str | os.PathLike, paroma_id: str, recipient: str, *,
        progress: Progress | None = None,
    ) -> tuple[WatermarkRecord, VolumeFile]:
        """Watermark a volume file (or DICOM series folder) into `target` in the same format; returns the record."""
        volume = read_volume(source)
        check_target(target, volume)
        marked, record = self.watermark(
            volume.array,
            paroma_id,
            recipient,
            value_range=volume.value_range,
            progress=progress,
            source=volume.name,
            geometry=volume.geometry,
        )
        derivation = (
            f"Reversible watermark ({codec.SCHEME}) for recipient {recipient} of {paroma_id}, "
            f"ParomaWatermark ledger block {record.index}; the original pixel data can be restored exactly"
        )
        write_volume(target, marked, volume, derivation)
        return record, volume

    def check_file(self, path: str | os.PathLike, *, progress: Progress | None = None) -> Finding:
        """Whose copy is the volume in this file (or DICOM series folder)?"""
        return self.check(read_volume(path).array, progress=progress)

    def restore_file(
        self, source: str | os.PathLike, target: str | os.PathLike, *, progress: Progress | None = None
    ) -> tuple[WatermarkRecord, VolumeFile]:
        """Restore the original pixel data of a watermarked file into `target`; returns the record it came from."""
        volume = read_volume(source)
        check_target(target, volume)
        restored, record = self._restored(volume.array, progress)
        derivation = f"Original pixel data restored from a watermarked copy (ParomaWatermark ledger block {record.index})"
        write_volume(target, restored, volume, derivation)
        return record, volume

    def verify_ledger(self) -> VerifyReport:
        """Verify every block's hash and link, and the ledger's index."""
        return self.ledger.verify()

    def record(self, block: int) -> WatermarkRecord:
        """The watermark record in block `block`."""
        return WatermarkRecord(self.ledger.block(block))

    def _record_of(self, array: np.ndarray) -> WatermarkRecord:
        hashes = volume_hash(array, workers=self.workers)
        exact = self.ledger.find_volume(hashes.volume)
        if exact:
            return WatermarkRecord(exact[0])
        if self.ledger.remote:
            finding = self.ledger.check(array, orientations=True)
        else:
            finding = check_volume(
                self.ledger, array, self.ledger.key_for, bound=self.false_match_bound, suspect_hash=hashes,
                workers=self.workers,
            )
        if not finding.detected:
            raise NotRecordedError(
                "this volume is not a watermarked copy recorded in the ledger: there is nothing to restore "
                "(check that the right ledger is open)"
            )
        return self.record(finding.block)

    @staticmethod
    def _array_and_geometry(volume) -> tuple[np.ndarray, dict]:
        if is_mrml_node(volume):
            return node_array(volume), node_geometry(volume)
        return volume, {}


class _Phases:
    """Reports progress over several passes of a volume as one sequence: pass i of n, slice j of m."""

    def __init__(self, progress: Progress | None, passes: int) -> None:
        self._progress, self._passes, self._done = progress, passes, 0

    def next(self) -> Progress | None:
        if self._progress is None:
            return None
        offset, self._done = self._done, self._done + 1
        passes, progress = self._passes, self._progress
        return lambda done, total: progress(offset * total + done, passes * total)
