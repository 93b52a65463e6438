"""Verifying a chain of stored blocks end to end, naming the first bad block and why."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from .blocks import GENESIS, KINDS, WATERMARK, ZERO_HASH, Block, slice_digest

SLICE_HASH_BYTES = 32


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of verifying a ledger: ok, how many blocks were read, and the first bad block with the reason."""

    ok: bool
    blocks: int
    first_bad_block: int | None = None
    reason: str = ""
    head: str = ""
    """The hash of the last block: record it elsewhere, and a later check also proves that no block was cut off."""

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.ok:
            return f"ledger intact: {self.blocks} blocks, every hash and link verified; head {self.head}"
        where = "" if self.first_bad_block is None else f" at block {self.first_bad_block}"
        return f"ledger BROKEN{where}: {self.reason}"


@dataclass(frozen=True)
class StoredBlock:
    """A block as a store keeps it: its number and hash columns, its body, its index columns and slice hashes."""

    index: int
    hash: str
    body: str
    columns: dict
    slice_hashes: bytes | None


def index_columns(block: Block) -> dict:
    """What a store indexes of a block, derived from its body: verification checks the two agree."""
    if block.kind != WATERMARK:
        return {"kind": block.kind, "volume_hash": None, "rows": None, "cols": None}
    shape = block.payload["geometry"]["shape"]
    return {"kind": block.kind, "volume_hash": block.payload["watermarked_hash"], "rows": shape[-2], "cols": shape[-1]}


def slices_of(blob: bytes) -> list[tuple[int, str]]:
    """Per-slice hashes kept as concatenated 32-byte digests, as (slice number, hex digest)."""
    return [(i, blob[i * SLICE_HASH_BYTES : (i + 1) * SLICE_HASH_BYTES].hex()) for i in range(len(blob) // SLICE_HASH_BYTES)]


def verify_blocks(stored: Iterable[StoredBlock]) -> VerifyReport:
    """Recompute every hash and link; a damaged store raises from the iterator and is reported by the caller."""
    previous: Block | None = None
    count = 0
    for entry in stored:
        expected = count
        problem = _problem(entry, expected, previous)
        if problem:
            return VerifyReport(ok=False, blocks=count, first_bad_block=problem[0], reason=problem[1])
        previous = Block.from_json(entry.body)
        count += 1
    if count == 0:
        return VerifyReport(ok=False, blocks=0, first_bad_block=0, reason="the ledger is empty: it has no genesis block")
    return VerifyReport(ok=True, blocks=count, head=previous.hash)


def _problem(entry: StoredBlock, expected: int, previous: Block | None) -> tuple[int, str] | None:
    if entry.index != expected:
        if entry.index > expected:
            return expected, f"block {expected} is missing: block {entry.index} follows block {expected - 1}"
        return entry.index, f"block {entry.index} appears twice or out of order"
    try:
        block = Block.from_json(entry.body)
    except ValueError as exc:
        return expected, f"block {expected} cannot be read: {exc}"
    if block.index != expected:
        return expected, f"block {expected} says it is block {block.index}: its number was changed"
    try:
        computed = block.computed_hash()
    except TypeError as exc:
        return expected, f"block {expected} holds a value a block may not hold: {exc}"
    if computed != block.hash:
        return expected, f"block {expected} was altered: its content no longer matches its hash"
    if entry.hash != block.hash:
        return expected, f"the hash column of block {expected} does not match the block"
    if block.kind not in KINDS:
        return expected, f"block {expected} has an unknown kind {block.kind!r}"
    if expected == 0:
        if block.kind != GENESIS or block.previous_hash != ZERO_HASH:
            return 0, "block 0 is not a genesis block"
    elif block.kind == GENESIS:
        return expected, f"block {expected} is a second genesis block"
    elif block.previous_hash != previous.hash:
        return expected, (
            f"block {expected} does not link to block {expected - 1}: "
            "a block before it was changed, inserted, removed or reordered"
        )
    try:
        columns = index_columns(block)
    except (KeyError, TypeError, IndexError) as exc:
        return expected, f"block {expected} lacks a field a {block.kind} block needs: {exc}"
    if columns != entry.columns:
        return expected, f"the index entries of block {expected} do not match the block (index tampered with)"
    if block.kind == WATERMARK:
        if entry.slice_hashes is None or len(entry.slice_hashes) % SLICE_HASH_BYTES:
            return expected, f"the per-slice hashes of block {expected} are missing or truncated"
        if slice_digest(slices_of(entry.slice_hashes)) != block.payload.get("slice_digest"):
            return expected, f"the per-slice hashes of block {expected} do not match the digest the block holds"
    elif entry.slice_hashes is not None:
        return expected, f"block {expected} is a {block.kind} block but has per-slice hashes attached"
    return None


def export_document(stored: Iterable[StoredBlock]) -> dict:
    """The whole chain as one JSON-able document for auditors: blocks, and the slice hashes they commit to."""
    blocks, slices = [], {}
    for entry in stored:
        blocks.append(json.loads(entry.body))
        if entry.slice_hashes is not None:
            slices[str(entry.index)] = entry.slice_hashes.hex()
    return {"format": "paroma-ledger-export/1", "blocks": blocks, "slices": slices}


def stored_from_document(document: dict) -> list[StoredBlock]:
    """The stored form of an exported document, to verify before it is imported."""
    if not isinstance(document, dict) or document.get("format") != "paroma-ledger-export/1":
        raise ValueError("not a ParomaWatermark ledger export (format paroma-ledger-export/1)")
    blocks, slices = document.get("blocks"), document.get("slices", {})
    if not isinstance(blocks, list) or not isinstance(slices, dict):
        raise ValueError("a ledger export holds a list of blocks and a mapping of slice hashes")
    stored = []
    for data in blocks:
        block = Block.from_dict(data)
        try:
            columns, body = index_columns(block), block.to_json()
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"block {block.index} of the export is malformed: {exc}") from None
        blob = slices.get(str(block.index))
        stored.append(
            StoredBlock(
                index=block.index,
                hash=block.hash,
                body=body,
                columns=columns,
                slice_hashes=None if blob is None else bytes.fromhex(blob),
            )
        )
    return stored
