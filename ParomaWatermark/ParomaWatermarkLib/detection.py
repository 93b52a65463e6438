"""The leak check: whose copy is this volume? (DESIGN §6, the slides' algorithm made fast and sound.)

1. Hash the suspect; an exact copy of a recorded watermarked volume, or of some of its slices, is found through the
   ledger's index, with no scan.
2. Otherwise read the suspect's blocks once (the key-independent work) and ask every watermark block whose slices
   have the suspect's in-plane size: how many of the bits its key reads agree with its watermark?
3. Declare a match only if chance alone would do as well with probability below the bound (1e-9 by default) across
   all the blocks tried: Binomial(voted bits, 1/2) tail times the number of blocks tried.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from .codec import BlockReadout, read_blocks
from .errors import VolumeError
from .hashing import VolumeHash, volume_hash
from .ledger.records import WatermarkRecord
from .slicewise import Progress
from .statistics import DEFAULT_FALSE_MATCH_BOUND, chance_match_probability, log_tail_table
from .watermark import SecretKey

HASH = "hash"
WATERMARK = "watermark"


@dataclass(frozen=True)
class Finding:
    """The answer of a leak check."""

    detected: bool
    method: str | None = None
    """'hash' (an exact copy of a recorded volume or of some of its slices), 'watermark', or None."""
    block: int | None = None
    paroma_id: str | None = None
    recipient: str | None = None
    matched_bits: int | None = None
    voted_bits: int | None = None
    false_match_probability: float | None = None
    """Chance that an unrelated volume matches as well, over all the blocks tried (0 for an exact hash match)."""
    slices: tuple[int, ...] = ()
    """The suspect's slices (numbered from 0) where the copy was recognised."""
    candidates: int = 0
    """How many recorded copies of the suspect's slice size were tried by extraction."""
    orientations: int = 0
    """In how many in-plane orientations they were tried."""
    bound: float = DEFAULT_FALSE_MATCH_BOUND
    suspect_hash: str = ""
    orientation: str | None = None
    """How the suspect's slices had to be turned for the watermark to read ('as stored', 'columns flipped', ...)."""

    def summary(self) -> str:
        """The answer in plain words."""
        if not self.detected:
            if not self.candidates:
                return "No watermark detected (no recorded copy has slices of this size)"
            return (
                f"No watermark detected ({self.candidates} recorded copies of this size tried, "
                f"in {self.orientations} orientation{'s' if self.orientations > 1 else ''})"
            )
        where = _ranges(self.slices)
        if self.method == HASH:
            return (
                f"Leaked copy of {self.paroma_id} given to {self.recipient}, block {self.block}: "
                f"identical to the recorded copy (slices {where})"
            )
        turned = "" if self.orientation in (None, AS_STORED) else f", {self.orientation}"
        return (
            f"Leaked copy of {self.paroma_id} given to {self.recipient}, block {self.block}, "
            f"{self.matched_bits} of {self.voted_bits} bits, chance match {_probability(self.false_match_probability)} "
            f"(found in slices {where}{turned})"
        )

    def to_dict(self) -> dict:
        return asdict(self) | {"slices": list(self.slices)}


def _orientations() -> list[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """The eight in-plane orientations of a stack of slices: as stored first, then flips, then transposes."""
    found = []
    for transposed in (False, True):
        for flip_rows, flip_cols in ((False, False), (True, False), (False, True), (True, True)):
            parts = [n for n, on in (("transposed", transposed), ("rows flipped", flip_rows), ("columns flipped", flip_cols)) if on]

            def turn(stack, t=transposed, r=flip_rows, c=flip_cols):
                stack = stack.transpose(0, 2, 1) if t else stack
                return stack[:, ::-1 if r else 1, ::-1 if c else 1]

            found.append((", ".join(parts) or AS_STORED, turn))
    return found


AS_STORED = "as stored"
ORIENTATIONS = _orientations()


def check_volume(
    ledger,
    suspect: np.ndarray,
    key_for: Callable[[WatermarkRecord], SecretKey],
    *,
    bound: float = DEFAULT_FALSE_MATCH_BOUND,
    orientations: bool = True,
    suspect_hash: VolumeHash | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Finding:
    """Run the leak check of `suspect` (2D or 3D, slices along axis 0) against `ledger`.

    `key_for` opens a record's sealed key; it is only called when no exact copy is found by hash. With `orientations`,
    a suspect not traced as stored is tried in the seven other in-plane orientations (flipped, transposed), as format
    conversions leave them; the bound is then split evenly between the two stages, so it holds over both.
    """
    suspect = _checkable(suspect)
    hashes = suspect_hash or volume_hash(suspect, workers=workers)
    found = _by_hash(ledger, suspect, hashes)
    if found is not None:
        return found
    stack = suspect if suspect.ndim == 3 else suspect[None]
    stages = [ORIENTATIONS[:1], ORIENTATIONS[1:]] if orientations else [ORIENTATIONS[:1]]
    keys: dict[int, SecretKey] = {}
    orientations_tried = 0
    for stage in stages:
        best, candidates = None, 0
        for name, turn in stage:
            oriented = turn(stack)
            records = [WatermarkRecord(block) for block in ledger.candidates(*oriented.shape[1:])]
            candidates += len(records)
            orientations_tried += bool(records)
            match = _best_match(oriented, records, key_for, keys, progress, workers)
            if match is not None and (best is None or match[0] < best[0]):
                best = match + (name,)
        if best is None:
            continue
        _, record, key, matched, voted, readout, name = best
        probability = min(1.0, chance_match_probability(matched, voted, candidates) * len(stages))
        if probability < bound:
            extraction = readout.extract(key)
            agree, disagree = extraction.slice_agreement(record.watermark)
            slices = tuple(int(i) for i in np.flatnonzero(agree > disagree))
            return _traced(
                record,
                WATERMARK,
                slices,
                hashes,
                matched_bits=matched,
                voted_bits=voted,
                false_match_probability=probability,
                candidates=len(keys),
                orientations=orientations_tried,
                bound=bound,
                orientation=name,
            )
    return Finding(
        detected=False, candidates=len(keys), orientations=orientations_tried, bound=bound, suspect_hash=hashes.volume
    )


def _best_match(
    stack: np.ndarray,
    records: list[WatermarkRecord],
    key_for: Callable[[WatermarkRecord], SecretKey],
    keys: dict[int, SecretKey],
    progress: Progress | None,
    workers: int | None,
) -> tuple[float, WatermarkRecord, SecretKey, int, int, BlockReadout] | None:
    """The record whose key reads the most improbable agreement from `stack`.

    Returns (log tail, record, key, matched, voted, readout): the readout is kept so that the winner's per-slice votes
    need no second pass over the volume.
    """
    best = None
    by_stride: dict[int, list[WatermarkRecord]] = {}
    for record in records:
        by_stride.setdefault(record.stride, []).append(record)
    table = log_tail_table()
    for stride, group in by_stride.items():
        readout = read_blocks(stack, stride=stride, progress=progress, workers=workers)
        for record in group:
            if record.index not in keys:
                keys[record.index] = key_for(record)
        group_keys = [keys[record.index] for record in group]
        votes = np.array([readout.votes(key) for key in group_keys])
        zeros, ones = votes[:, 0], votes[:, 1]
        majority = np.where(ones > zeros, 1, np.where(zeros > ones, 0, -1))
        voted = np.count_nonzero(majority >= 0, axis=1)
        watermarks = np.array([record.watermark for record in group])
        matched = np.count_nonzero(majority == watermarks, axis=1)
        log_tails = table[voted, matched]
        winner = int(np.argmin(log_tails))
        if best is None or log_tails[winner] < best[0]:
            best = (
                float(log_tails[winner]), group[winner], group_keys[winner], int(matched[winner]), int(voted[winner]),
                readout,
            )
    return best


def _by_hash(ledger, suspect: np.ndarray, hashes: VolumeHash) -> Finding | None:
    exact = ledger.find_volume(hashes.volume)
    if exact:
        slices = tuple(range(1 if suspect.ndim == 2 else suspect.shape[0]))
        return _traced(WatermarkRecord(exact[0]), HASH, slices, hashes, false_match_probability=0.0)
    matches = ledger.find_slices(hashes.slices)
    if not matches:
        return None
    by_block: dict[int, list[int]] = {}
    for position, places in matches.items():
        for block, _ in places:
            by_block.setdefault(block, []).append(position)
    block = max(by_block, key=lambda b: (len(by_block[b]), -b))
    record = WatermarkRecord(ledger.block(block))
    return _traced(record, HASH, tuple(sorted(by_block[block])), hashes, false_match_probability=0.0)


def _traced(record: WatermarkRecord, method: str, slices: tuple[int, ...], hashes: VolumeHash, **figures) -> Finding:
    """A positive finding: the copy recorded in `record`, recognised by `method` in the suspect's `slices`."""
    return Finding(
        detected=True,
        method=method,
        block=record.index,
        paroma_id=record.paroma_id,
        recipient=record.recipient,
        slices=slices,
        suspect_hash=hashes.volume,
        **figures,
    )


def _checkable(suspect: np.ndarray) -> np.ndarray:
    """Found files come in all types: 64-bit integers that fit 32 bits are narrowed rather than refused."""
    if not isinstance(suspect, np.ndarray):
        raise VolumeError(f"expected a numpy array of voxels, got {type(suspect).__name__}")
    if suspect.dtype.kind in "iu" and suspect.dtype.itemsize == 8 and suspect.size:
        low, high = int(suspect.min()), int(suspect.max())
        info = np.iinfo(np.int32)
        if info.min <= low and high <= info.max:
            return suspect.astype(np.int32)
    return suspect


def _probability(p: float | None) -> str:
    if p is None:
        return "unknown"
    if p == 0:
        return "0"
    exponent = math.floor(math.log10(p))
    return f"below 1e{exponent + 1}" if p < 1e-6 else f"{p:.1e}"


def _ranges(indices: tuple[int, ...]) -> str:
    """0,1,2,5,7,8 -> '0-2, 5, 7-8'."""
    if not indices:
        return "none"
    parts, start, previous = [], indices[0], indices[0]
    for index in indices[1:] + (None,):
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ", ".join(parts)
