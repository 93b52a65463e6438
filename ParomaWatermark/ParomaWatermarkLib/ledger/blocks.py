"""Ledger blocks: their fields, canonical serialisation and hash.

A block is {index, timestamp, previous_hash, kind, payload} plus `hash`, the SHA-256 of "paroma-block/1\\n" followed by
the canonical JSON of everything but the hash. Canonical JSON: UTF-8, keys sorted, no whitespace, and no floating-point
numbers at all (they are written as decimal text), so that a hash computed anywhere, in any language, matches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

GENESIS = "genesis"
WATERMARK = "watermark"
LEAK_CHECK = "leak_check"
RESTORE = "restore"
KEY_READ = "key_read"
KINDS = (GENESIS, WATERMARK, LEAK_CHECK, RESTORE, KEY_READ)
LEDGER_FORMAT = "paroma-ledger/1"
ZERO_HASH = "0" * 64


def utc_timestamp() -> str:
    """Now, in UTC, ISO 8601 with microseconds: 2026-11-28T10:00:00.000000Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decimal_text(value: float) -> str:
    """A float as the shortest decimal text that reads back to the same float (how blocks hold non-integers)."""
    return repr(float(value))


def canonical_json(value: Any) -> str:
    """The one serialisation a hash is computed over; refuses floats and anything JSON cannot hold exactly."""
    _check_canonical(value, "block")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _check_canonical(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return
    if isinstance(value, float):
        raise TypeError(f"{where} holds the float {value!r}: blocks keep numbers that are not integers as decimal text")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_canonical(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the non-text key {key!r}")
            _check_canonical(item, f"{where}.{key}")
        return
    raise TypeError(f"{where} holds a {type(value).__name__}, which a ledger block cannot hold")


def block_hash(content: dict) -> str:
    """SHA-256 of a block's content (everything but its hash)."""
    return hashlib.sha256(b"paroma-block/1\n" + canonical_json(content).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Block:
    """One record of the ledger."""

    index: int
    timestamp: str
    previous_hash: str
    kind: str
    payload: dict = field(repr=False)
    hash: str

    @classmethod
    def create(cls, index: int, previous_hash: str, kind: str, payload: dict, timestamp: str | None = None) -> Block:
        """A new block following the block whose hash is `previous_hash`, its own hash computed."""
        if kind not in KINDS:
            raise ValueError(f"unknown block kind {kind!r}; known kinds: {', '.join(KINDS)}")
        content = {
            "index": index,
            "timestamp": timestamp or utc_timestamp(),
            "previous_hash": previous_hash,
            "kind": kind,
            "payload": payload,
        }
        return cls(**content, hash=block_hash(content))

    def content(self) -> dict:
        """The hashed fields."""
        return {
            "index": self.index,
            "timestamp": self.timestamp,
            "previous_hash": self.previous_hash,
            "kind": self.kind,
            "payload": self.payload,
        }

    def computed_hash(self) -> str:
        return block_hash(self.content())

    def to_dict(self) -> dict:
        return self.content() | {"hash": self.hash}

    def to_json(self) -> str:
        """Canonical JSON of the whole block, hash included: how stores and exports keep it."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> Block:
        """A block as stored; raises ValueError if fields are missing or of the wrong type (no hash check here)."""
        try:
            block = cls(
                index=data["index"],
                timestamp=data["timestamp"],
                previous_hash=data["previous_hash"],
                kind=data["kind"],
                payload=data["payload"],
                hash=data["hash"],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a ledger block: missing or malformed field {exc}") from None
        types = {"index": int, "timestamp": str, "previous_hash": str, "kind": str, "payload": dict, "hash": str}
        for name, expected in types.items():
            value = getattr(block, name)
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValueError(f"not a ledger block: {name} is a {type(value).__name__}, expected {expected.__name__}")
        if set(data) != set(types):
            raise ValueError(f"not a ledger block: unexpected fields {sorted(set(data) - set(types))}")
        return block

    @classmethod
    def from_json(cls, text: str) -> Block:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"not a ledger block: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("not a ledger block: expected a JSON object")
        return cls.from_dict(data)


def slice_digest(slice_hashes: list[tuple[int, str]]) -> str:
    """The one digest through which a watermark block commits to the per-slice hashes kept in the ledger's index."""
    text = "".join(f"{number} {digest}\n" for number, digest in slice_hashes)
    return hashlib.sha256(b"paroma-slices/1\n" + text.encode("ascii")).hexdigest()
