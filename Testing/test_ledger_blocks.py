"""Blocks: canonical serialisation and hash, recomputed here from the documented definition."""

from __future__ import annotations

import hashlib
import json

import pytest

from ParomaWatermarkLib.ledger import Block, canonical_json, decimal_text


def test_block_hash_follows_the_documented_definition():
    block = Block.create(7, "ab" * 32, "leak_check", {"z": 1, "a": ["é", None, True]}, timestamp="2026-01-01T00:00:00.000000Z")
    content = {"index": 7, "timestamp": "2026-01-01T00:00:00.000000Z", "previous_hash": "ab" * 32,
               "kind": "leak_check", "payload": {"a": ["é", None, True], "z": 1}}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert block.hash == hashlib.sha256(b"paroma-block/1\n" + text.encode("utf-8")).hexdigest()
    assert Block.from_json(block.to_json()) == block


def test_floats_never_enter_a_block_only_decimal_text():
    with pytest.raises(TypeError, match="decimal text"):
        canonical_json({"psnr": 51.2})
    assert decimal_text(0.1) == "0.1" and float(decimal_text(1 / 3)) == 1 / 3
    with pytest.raises(TypeError, match="cannot hold"):
        canonical_json({"x": object()})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json", "not a ledger block"),
        ("[1, 2]", "expected a JSON object"),
        ('{"index": 1}', "missing or malformed field"),
        ('{"index": "1", "timestamp": "t", "previous_hash": "p", "kind": "k", "payload": {}, "hash": "h"}', "index is a str"),
    ],
)
def test_malformed_blocks_are_refused(text, expected):
    with pytest.raises(ValueError, match=expected):
        Block.from_json(text)


def test_unknown_kinds_are_refused():
    with pytest.raises(ValueError, match="unknown block kind"):
        Block.create(1, "0" * 64, "gossip", {})
