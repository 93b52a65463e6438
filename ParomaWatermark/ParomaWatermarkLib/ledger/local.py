"""The local ledger: one SQLite file, durable and safe with several processes appending at once.

Every append runs in one `BEGIN IMMEDIATE` transaction (SQLite's write lock): read the last block, link the new one
to it, insert it and its index rows, commit. Concurrent writers queue on the lock, so the chain stays linear; the
write-ahead log with `synchronous=FULL` makes an acknowledged block survive a crash or a killed process, and a
transaction cut short leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import LedgerError, LedgerIntegrityError, MasterKeyError
from ..watermark import SecretKey
from .blocks import GENESIS, LEDGER_FORMAT, WATERMARK, ZERO_HASH, Block
from .chain import SLICE_HASH_BYTES, StoredBlock, VerifyReport, export_document, index_columns, stored_from_document, verify_blocks
from .sealing import MasterKey, find_master_key, key_file_for

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    idx INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    volume_hash TEXT,
    rows INTEGER,
    cols INTEGER,
    request_id TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS blocks_volume_hash ON blocks(volume_hash) WHERE volume_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS blocks_geometry ON blocks(rows, cols) WHERE rows IS NOT NULL;
CREATE TABLE IF NOT EXISTS slice_sets (
    block INTEGER PRIMARY KEY REFERENCES blocks(idx),
    digests BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS slice_lookup (
    prefix INTEGER NOT NULL,
    block INTEGER NOT NULL,
    slice INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS slice_lookup_prefix ON slice_lookup(prefix);
"""
_BUSY_TIMEOUT_SECONDS = 60.0


class LocalLedger:
    """A ledger kept in one SQLite file, with the master key that seals its watermark keys (if available).

    `master_key`: a MasterKey, its 64 hexadecimal digits, or None to use PAROMA_LEDGER_KEY or the key file beside the
    ledger (`<ledger>.key`), created with owner-only permissions the first time a key has to be sealed.
    """

    remote = False
    """Leak checks run where the keys are: here, in this process."""

    def __init__(self, path: str | os.PathLike, master_key: MasterKey | str | None = None) -> None:
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise LedgerError(f"{self.path} is a folder; give the path of a ledger file, e.g. {self.path / 'ledger.db'}")
        if not self.path.parent.exists():
            raise LedgerError(f"the folder {self.path.parent} does not exist; create it first or choose another path")
        self._master_key = MasterKey.from_hex(master_key) if isinstance(master_key, str) else master_key
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._execute("PRAGMA journal_mode=WAL")
            self._execute("PRAGMA synchronous=FULL")
            self._create_schema()
            self._ensure_genesis()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path} is not a usable ledger file ({exc}); check the path, or restore it from a backup") from None

    # The database: what another SQL store changes

    _database_errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)

    def _create_schema(self) -> None:
        self._db.executescript(_SCHEMA)

    def _execute(self, statement: str, parameters: Sequence = ()):
        return self._db.execute(statement, parameters)

    def _executemany(self, statement: str, rows: list) -> None:
        self._db.executemany(statement, rows)

    def _begin_write(self) -> None:
        """Take the write lock: appenders queue here, so the chain stays linear."""
        self._execute("BEGIN IMMEDIATE")

    def _key_file(self) -> Path | None:
        """Where the master key file is created on first use (None: the key must be given or set in the environment)."""
        return key_file_for(self.path)

    # Appending

    def append(
        self, kind: str, payload: dict, *, slice_hashes: Sequence[str] | None = None, request_id: str | None = None
    ) -> Block:
        """Add a block at the end of the chain and return it; a repeated `request_id` returns the first block instead."""
        blob = None if slice_hashes is None else b"".join(bytes.fromhex(h) for h in slice_hashes)
        with self._write():
            if request_id is not None:
                row = self._execute("SELECT body FROM blocks WHERE request_id = ?", (request_id,)).fetchone()
                if row:
                    return Block.from_json(row[0])
            index, previous = self._execute("SELECT idx, hash FROM blocks ORDER BY idx DESC LIMIT 1").fetchone()
            block = Block.create(index + 1, previous, kind, payload)
            self._insert(block, blob, request_id)
            return block

    def append_many(self, entries: Iterable[tuple[str, dict, Sequence[str] | None]]) -> list[Block]:
        """Add several (kind, payload, slice hashes) blocks in one transaction: all of them, or none."""
        added = []
        with self._write():
            index, previous = self._execute("SELECT idx, hash FROM blocks ORDER BY idx DESC LIMIT 1").fetchone()
            for kind, payload, slice_hashes in entries:
                index += 1
                block = Block.create(index, previous, kind, payload)
                blob = None if slice_hashes is None else b"".join(bytes.fromhex(h) for h in slice_hashes)
                self._insert(block, blob, None)
                added.append(block)
                previous = block.hash
        return added

    def _insert(self, block: Block, blob: bytes | None, request_id: str | None) -> None:
        columns = index_columns(block)
        self._execute(
            "INSERT INTO blocks (idx, hash, kind, body, volume_hash, rows, cols, request_id) VALUES (?,?,?,?,?,?,?,?)",
            (block.index, block.hash, block.kind, block.to_json(), columns["volume_hash"], columns["rows"],
             columns["cols"], request_id),
        )
        if blob is not None:
            self._execute("INSERT INTO slice_sets (block, digests) VALUES (?, ?)", (block.index, blob))
            unchanged = set(block.payload.get("unchanged_slices", ()))
            self._executemany(
                "INSERT INTO slice_lookup (prefix, block, slice) VALUES (?, ?, ?)",
                [
                    (_prefix(blob[i : i + SLICE_HASH_BYTES]), block.index, i // SLICE_HASH_BYTES)
                    for i in range(0, len(blob), SLICE_HASH_BYTES)
                    if i // SLICE_HASH_BYTES not in unchanged
                ],
            )

    def _ensure_genesis(self) -> None:
        with self._write():
            if self._execute("SELECT 1 FROM blocks LIMIT 1").fetchone() is None:
                payload = {"format": LEDGER_FORMAT, "ledger_id": uuid.uuid4().hex}
                self._insert(Block.create(0, ZERO_HASH, GENESIS, payload), None, None)

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            try:
                self._begin_write()
            except self._database_errors as exc:
                raise LedgerError(f"the ledger {self.path} is locked by another writer ({exc}); try again") from None
            try:
                yield
            except BaseException:
                self._execute("ROLLBACK")
                raise
            else:
                self._execute("COMMIT")

    # Reading

    def __len__(self) -> int:
        with self._lock:
            return self._execute("SELECT COUNT(*) FROM blocks").fetchone()[0]

    @property
    def ledger_id(self) -> str:
        return self.block(0).payload["ledger_id"]

    def block(self, index: int) -> Block:
        with self._lock:
            row = self._execute("SELECT body FROM blocks WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise LookupError(f"the ledger has no block {index} (it has {len(self)} blocks, numbered from 0)")
        return Block.from_json(row[0])

    def last_block(self) -> Block:
        with self._lock:
            (body,) = self._execute("SELECT body FROM blocks ORDER BY idx DESC LIMIT 1").fetchone()
        return Block.from_json(body)

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[Block]:
        """Blocks in order, from `start` up to (not including) `stop`."""
        with self._lock:
            rows = self._execute(
                "SELECT body FROM blocks WHERE idx >= ? AND idx < ? ORDER BY idx", (start, stop if stop is not None else 2**62)
            ).fetchall()
        return (Block.from_json(body) for (body,) in rows)

    def find_volume(self, volume_hash: str) -> list[Block]:
        """Watermark blocks whose watermarked volume has exactly this hash."""
        with self._lock:
            rows = self._execute("SELECT body FROM blocks WHERE volume_hash = ? ORDER BY idx", (volume_hash,)).fetchall()
        return [Block.from_json(body) for (body,) in rows]

    def find_slices(self, slice_hashes: Sequence[str]) -> dict[int, list[tuple[int, int]]]:
        """For each given slice hash that a watermark block recorded: {position in `slice_hashes`: [(block, slice)]}."""
        wanted: dict[int, list[int]] = {}
        for position, digest in enumerate(slice_hashes):
            wanted.setdefault(_prefix(bytes.fromhex(digest)), []).append(position)
        found: dict[int, list[tuple[int, int]]] = {}
        prefixes = list(wanted)
        with self._lock:
            for start in range(0, len(prefixes), 500):
                batch = prefixes[start : start + 500]
                rows = self._execute(
                    "SELECT l.prefix, l.block, l.slice, s.digests FROM slice_lookup l JOIN slice_sets s ON s.block = l.block "
                    f"WHERE l.prefix IN ({','.join('?' * len(batch))})",
                    batch,
                ).fetchall()
                for prefix, block, number, digests in rows:
                    stored = bytes(digests[number * SLICE_HASH_BYTES : (number + 1) * SLICE_HASH_BYTES]).hex()
                    for position in wanted[prefix]:
                        if slice_hashes[position] == stored:
                            found.setdefault(position, []).append((block, number))
        return found

    def candidates(self, rows: int, cols: int) -> list[Block]:
        """Watermark blocks whose volumes have slices of rows x cols voxels: the only ones a suspect of that size can match."""
        with self._lock:
            found = self._execute(
                "SELECT body FROM blocks WHERE rows = ? AND cols = ? AND kind = ? ORDER BY idx", (rows, cols, WATERMARK)
            ).fetchall()
        return [Block.from_json(body) for (body,) in found]

    def watermark_count(self) -> int:
        with self._lock:
            return self._execute("SELECT COUNT(*) FROM blocks WHERE kind = ?", (WATERMARK,)).fetchone()[0]

    # Keys

    @property
    def master_key(self) -> MasterKey | None:
        """The master key in use: given, from PAROMA_LEDGER_KEY, or from the key file beside the ledger."""
        if self._master_key is None:
            self._master_key = find_master_key(self._key_file())
        return self._master_key

    def seal(self, key: SecretKey, context: str) -> dict:
        """Seal a new watermark key, creating the master key file on first use if there is no master key yet."""
        if self.master_key is None:
            if self._key_file() is None:
                raise MasterKeyError("this ledger has no master key: set PAROMA_LEDGER_KEY (64 hexadecimal digits)")
            MasterKey.generate().write(self._key_file())
            self._master_key = MasterKey.from_file(self._key_file())
        return self.master_key.seal(key, context)

    def key_for(self, record) -> SecretKey:
        """The secret key of a watermark record, opened with the master key."""
        return self.unseal(record.sealed_key, record.seal_context(self.ledger_id))

    def unseal(self, sealed: dict, context: str) -> SecretKey:
        if self.master_key is None:
            raise MasterKeyError(
                f"the ledger master key is missing: set PAROMA_LEDGER_KEY or put the key file at {self._key_file()}; "
                "without it the ledger can be verified and exact copies matched, but watermarks cannot be read or removed"
            )
        return self.master_key.unseal(sealed, context)

    # Audit

    def verify(self) -> VerifyReport:
        """Recompute every block's hash and link, and check the index against the blocks."""
        try:
            with self._lock:
                report = verify_blocks(self._stored())
                if report.ok:
                    problem = self._lookup_problem()
                    if problem:
                        return VerifyReport(ok=False, blocks=report.blocks, first_bad_block=problem[0], reason=problem[1], head=report.head)
                return report
        except self._database_errors as exc:
            return VerifyReport(ok=False, blocks=0, first_bad_block=None, reason=f"the ledger file is damaged: {exc}")

    def _stored(self) -> Iterator[StoredBlock]:
        cursor = self._execute(
            "SELECT b.idx, b.hash, b.kind, b.body, b.volume_hash, b.rows, b.cols, s.digests "
            "FROM blocks b LEFT JOIN slice_sets s ON s.block = b.idx ORDER BY b.idx"
        )
        for index, digest, kind, body, volume_hash, rows, cols, blob in cursor:
            columns = {"kind": kind, "volume_hash": volume_hash, "rows": rows, "cols": cols}
            yield StoredBlock(index=index, hash=digest, body=body, columns=columns, slice_hashes=blob)

    def _lookup_problem(self) -> tuple[int, str] | None:
        """The slice lookup must hold exactly the recorded, changed slices of every watermark block."""
        counts = dict(self._execute("SELECT block, COUNT(*) FROM slice_lookup GROUP BY block").fetchall())
        for index, body, blob in self._execute(
            "SELECT b.idx, b.body, s.digests FROM blocks b JOIN slice_sets s ON s.block = b.idx ORDER BY b.idx"
        ):
            unchanged = json.loads(body)["payload"].get("unchanged_slices", [])
            if counts.pop(index, 0) != len(blob) // SLICE_HASH_BYTES - len(unchanged):
                return index, f"the slice lookup of block {index} does not match its recorded slice hashes"
        if counts:
            index = min(counts)
            return index, f"the slice lookup holds entries for block {index}, which has no recorded slices"
        return None

    def export_json(self, path: str | os.PathLike) -> VerifyReport:
        """Write the whole chain to a JSON file for auditors; refuses to export a chain that does not verify."""
        report = self.verify()
        if not report.ok:
            raise LedgerIntegrityError(f"not exported: {report.summary()}")
        with self._lock:
            document = export_document(self._stored())
        Path(path).write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
        return report

    @classmethod
    def import_json(
        cls, source: str | os.PathLike, path: str | os.PathLike, master_key: MasterKey | str | None = None
    ) -> LocalLedger:
        """Create a new ledger file from an export, after verifying the whole export; nothing is written if it fails."""
        target = Path(path)
        if target.exists():
            raise LedgerError(f"{target} already exists; import into a new ledger file")
        try:
            stored = stored_from_document(json.loads(Path(source).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise LedgerError(f"cannot import {source}: {exc}") from None
        report = verify_blocks(stored)
        if not report.ok:
            raise LedgerIntegrityError(f"not imported, the export does not verify: {report.summary()}")
        partial = target.with_name(target.name + ".importing")
        partial.unlink(missing_ok=True)
        importer = cls.__new__(cls)
        importer._db = sqlite3.connect(partial, isolation_level=None)
        try:
            importer._create_schema()
            importer._execute("BEGIN")
            for entry in stored:
                importer._insert(Block.from_json(entry.body), entry.slice_hashes, None)
            importer._execute("COMMIT")
        finally:
            importer._db.close()
        os.replace(partial, target)
        return cls(target, master_key)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LocalLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalLedger({str(self.path)!r})"


def _prefix(digest: bytes) -> int:
    """The first 8 bytes of a digest as a signed 64-bit integer: a compact SQLite lookup key."""
    return int.from_bytes(digest[:8], "big", signed=True)
