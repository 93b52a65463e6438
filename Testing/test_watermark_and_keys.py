"""Keys, watermark bits and the keyed layout of carrier blocks."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from ParomaWatermarkLib import SecretKey, carrier_layout, watermark_bits, watermark_message
from ParomaWatermarkLib.watermark import bits_from_hex, bits_to_hex


def test_watermark_bits_are_sha256_of_message_key_and_timestamp(key):
    digest = hashlib.sha256(b"P-1|DS-2" + key.raw + b"2026-01-01T00:00:00Z").digest()
    expected = [(byte >> (7 - i)) & 1 for byte in digest for i in range(8)]
    assert watermark_bits("P-1|DS-2", key, "2026-01-01T00:00:00Z").tolist() == expected
    assert bits_from_hex(bits_to_hex(np.array(expected))).tolist() == expected


def test_message_is_paroma_id_and_recipient():
    assert watermark_message("P-0001", "DS-42") == "P-0001|DS-42"
    for bad in (("", "DS"), ("P", ""), ("P|1", "DS")):
        with pytest.raises(ValueError, match="without '|'"):
            watermark_message(*bad)


def test_keys_never_show_themselves():
    key = SecretKey.generate()
    assert key.hex() not in repr(key) and key.hex() not in str(key)
    assert SecretKey.from_hex(key.hex()) == key and SecretKey.generate() != key


def test_layout_selects_about_half_and_spreads_bits_evenly(key):
    layout = carrier_layout(key, (170, 170))
    selected = int(layout.selected.sum())
    assert abs(selected - 170 * 170 / 2) < 5 * np.sqrt(170 * 170 / 4)
    counts = np.bincount(layout.carrier_bits, minlength=256)
    expected = selected / 256
    assert np.all(np.abs(counts - expected) < 6 * np.sqrt(expected))
    assert np.array_equal(np.sort(layout.by_bit), layout.carriers)
    assert np.all(np.diff(layout.bit_index.reshape(-1)[layout.by_bit].astype(int)) >= 0)


def test_layout_depends_on_key_and_grid_only(key):
    again = carrier_layout(SecretKey(key.raw), (40, 50))
    assert np.array_equal(carrier_layout(key, (40, 50)).selected, again.selected)
    other = carrier_layout(SecretKey.generate(), (40, 50))
    assert 0.4 < np.mean(other.selected == again.selected) < 0.6
    assert not carrier_layout(key, (40, 50)).selected.flags.writeable
