"""Every input the engine refuses, refused with a message that says why and what to do."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import smooth_volume

from ParomaWatermarkLib import (
    CapacityError,
    KeyFormatError,
    SecretKey,
    SideInfoError,
    VolumeError,
    embed,
    extract,
    restore,
)
from ParomaWatermarkLib.codec import pack_side_info

GOOD = smooth_volume(2, 30, 30)


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        (GOOD.astype(np.float32) + 0.5, "must be whole numbers"),
        (np.where(GOOD > 400, np.nan, GOOD).astype(np.float64), "NaN or infinite"),
        (GOOD > 400, "masks, not images"),
        (GOOD.astype(np.complex64), "complex-valued"),
        (np.zeros((32, 32, 3), np.uint8), "colour (RGB/RGBA) image"),
        (np.zeros((2, 32, 32, 3), np.uint8), "4D arrays (the last axis looks like RGB components)"),
        (np.zeros((2, 3, 32, 32), np.int16), "pass one 3D volume"),
        (GOOD.astype(np.int64), "int64 volumes are not supported"),
        (GOOD.astype(np.uint64), "uint64 volumes are not supported"),
        (np.zeros((4, 2, 30), np.int16), "too small"),
        (np.zeros((0, 30, 30), np.int16), "empty"),
        (np.zeros(30, np.int16), "got an array with 1 dimensions"),
        (GOOD.astype(np.float32) * 2**20, "outside the declared range"),
        (GOOD.astype("U8"), "expected integer voxels"),
        (GOOD.tolist(), "expected a numpy array of voxels, got list"),
    ],
)
def test_unusable_volumes_are_refused(volume, expected, key, bits):
    with pytest.raises(VolumeError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        embed(volume, key, bits)


@pytest.mark.parametrize(
    ("value_range", "expected"),
    [
        ((100, 50), "is empty"),
        ((0, 70000), "does not fit in int16"),
        (("a", 3), "pair of integers"),
        ((0, 255), r"voxel values reach \d+, outside the declared range 0\.\.255"),
    ],
)
def test_bad_value_ranges_are_refused(value_range, expected, key, bits):
    with pytest.raises(VolumeError, match=expected):
        embed(GOOD, key, bits, value_range=value_range)


def test_too_little_capacity_names_the_shortfall(key, bits):
    noisy = np.random.default_rng(0).integers(0, 4000, (1, 30, 30)).astype(np.int16)
    with pytest.raises(CapacityError, match=r"can carry only \d+ of the 47 distinct watermark bits") as caught:
        embed(noisy, key, bits)
    assert caught.value.required_bits == 47 and caught.value.carried_bits < 47
    embed(noisy, key, bits, required_bits=0)


def test_bad_watermarks_strides_and_keys_are_refused(key, bits):
    with pytest.raises(ValueError, match="256 bits"):
        embed(GOOD, key, bits[:100])
    with pytest.raises(ValueError, match="256 bits"):
        embed(GOOD, key, bits * 2)
    with pytest.raises(ValueError, match="stride must be an integer of at least 3"):
        embed(GOOD, key, bits, stride=2)
    with pytest.raises(KeyFormatError, match="32 bytes"):
        SecretKey(b"short")
    with pytest.raises(KeyFormatError, match="64 digits"):
        SecretKey.from_hex("not hex")


def test_side_information_that_does_not_fit_is_refused(key, bits):
    saturated = np.full((2, 30, 30), 255, np.uint8)
    saturated[:, ::2] = 200
    marked = embed(saturated, key, bits, required_bits=0)
    assert marked.report.side_info_bytes > 12
    with pytest.raises(SideInfoError, match="not ParomaWatermark side information"):
        restore(marked.volume, key, b"garbage")
    with pytest.raises(SideInfoError, match="corrupt"):
        restore(marked.volume, key, marked.side_info[:12] + b"\x00\x01")
    with pytest.raises(SideInfoError, match="belongs to another volume or another key"):
        restore(marked.volume, key, pack_side_info(np.zeros(1, bool)))


def test_extraction_refuses_what_embedding_refuses(key):
    with pytest.raises(VolumeError, match="must be whole numbers"):
        extract(GOOD.astype(np.float64) / 3, key)
