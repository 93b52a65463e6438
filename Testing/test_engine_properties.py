"""Property-based tests of the engine: thousands of random volumes across types, shapes and value ranges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthetic import smooth_volume

from ParomaWatermarkLib import SecretKey, chance_match_probability, embed, extract, read_blocks, restore, watermark_bits
from ParomaWatermarkLib.voxels import SUPPORTED_INTEGER_TYPES

pytestmark = pytest.mark.usefixtures("small_chunks")

PATTERNS = ("uniform", "constant", "checkerboard", "near_top", "near_bottom", "smooth", "two_level")


@st.composite
def volumes(draw):
    """A random volume, its value range (None: the type's own), and the range to generate values in."""
    dtype = np.dtype(draw(st.sampled_from(SUPPORTED_INTEGER_TYPES))).newbyteorder(draw(st.sampled_from("<>")))
    info = np.iinfo(dtype)
    value_range = None
    low, high = int(info.min), int(info.max)
    if draw(st.booleans()) and dtype.itemsize > 1:
        bits = draw(st.integers(4, 8 * dtype.itemsize - 2))
        low, high = (0, 2**bits - 1) if info.min == 0 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        value_range = (low, high)
    two_d = draw(st.booleans())
    shape = (draw(st.integers(3, 16)), draw(st.integers(3, 16)))
    if not two_d:
        shape = (draw(st.integers(1, 4)),) + shape
    pattern = draw(st.sampled_from(PATTERNS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if pattern == "uniform":
        values = rng.integers(low, high, size=shape, endpoint=True)
    elif pattern == "constant":
        values = np.full(shape, draw(st.sampled_from([low, high, low + 1, high - 1, (low + high) // 2])))
    elif pattern == "checkerboard":
        values = np.where(np.indices(shape).sum(axis=0) % 2 == 0, low, high)
    elif pattern == "near_top":
        values = rng.integers(max(low, high - 3), high, size=shape, endpoint=True)
    elif pattern == "near_bottom":
        values = rng.integers(low, min(high, low + 3), size=shape, endpoint=True)
    elif pattern == "two_level":
        values = np.where(rng.random(shape) < 0.5, low, high)
    else:
        centre = rng.integers(low, high, endpoint=True)
        values = np.clip(centre + rng.integers(-2, 3, size=shape), low, high)
    return np.asarray(values).astype(dtype), value_range


@given(case=volumes(), seed=st.binary(min_size=32, max_size=32))
def test_restore_is_exact_and_changes_are_at_most_one(case, seed):
    volume, value_range = case
    before = volume.copy()
    key = SecretKey(seed)
    bits = watermark_bits("P|D", key, "t")
    marked = embed(volume, key, bits, value_range=value_range, required_bits=0)
    assert np.array_equal(volume, before), "the input must not be modified"
    assert marked.volume.dtype == volume.dtype and marked.volume.shape == volume.shape
    difference = marked.volume.astype(np.int64) - volume.astype(np.int64)
    assert difference.min() >= 0 and difference.max() <= 1
    assert int(np.count_nonzero(difference)) == marked.report.voxels_changed
    low, high = marked.value_range
    assert marked.volume.min() >= low and marked.volume.max() <= high
    restored = restore(marked.volume, key, marked.side_info, value_range=value_range)
    assert restored.dtype == volume.dtype
    assert restored.tobytes() == volume.tobytes()


@given(case=volumes(), seed=st.binary(min_size=32, max_size=32))
def test_right_key_reads_every_carrier_correctly(case, seed):
    volume, value_range = case
    key = SecretKey(seed)
    bits = watermark_bits("P|D", key, "t")
    marked = embed(volume, key, bits, value_range=value_range, required_bits=0)
    found = extract(marked.volume, key, value_range=value_range)
    wrong_votes = found.ones[:, bits == 0].sum() + found.zeros[:, bits == 1].sum()
    assert wrong_votes == 0
    voted = found.bits >= 0
    assert np.array_equal(found.bits[voted], bits[voted])
    assert found.voted_bits == marked.report.distinct_bits
    assert tuple((found.zeros + found.ones).sum(axis=1)) == marked.report.carriers_per_slice
    zeros, ones = read_blocks(marked.volume, value_range=value_range).votes(key)
    assert np.array_equal(zeros, found.votes0) and np.array_equal(ones, found.votes1)


@given(seed=st.integers(0, 2**32 - 1), offset=st.integers(-3000, 3000), take=st.integers(1, 6))
def test_subsets_reordering_and_offsets_still_read(seed, offset, take):
    rng = np.random.default_rng(seed)
    volume = smooth_volume(6, 48, 45, seed=seed, noise=1.0)
    key = SecretKey(rng.bytes(32))
    bits = watermark_bits("P|D", key, "t")
    marked = embed(volume, key, bits, required_bits=0)
    taken = rng.permutation(6)[:take]
    leaked = marked.volume[taken].astype(np.int32) + offset
    found = extract(leaked, key)
    carried = [marked.report.carriers_per_slice[i] for i in taken]
    assert sum(carried) > 0
    assert list((found.zeros + found.ones).sum(axis=1)) == carried
    assert found.matched_bits(bits) == found.voted_bits
    assert found.ones[:, bits == 0].sum() + found.zeros[:, bits == 1].sum() == 0


def test_wrong_keys_match_at_chance_level(key, bits):
    """Over many wrong keys the fraction of matching bits centres on 1/2 and no chance probability is extreme."""
    marked = embed(smooth_volume(4, 60, 60), key, bits).volume
    fractions, smallest = [], 1.0
    for index in range(300):
        found = extract(marked, SecretKey(np.random.default_rng(index).bytes(32)))
        matched, voted = found.matched_bits(bits), found.voted_bits
        fractions.append(matched / voted)
        smallest = min(smallest, chance_match_probability(matched, voted))
    assert 0.47 < np.mean(fractions) < 0.53
    assert smallest > 1e-6


def test_threads_and_chunks_do_not_change_results(key, bits):
    volume = smooth_volume(9, 40, 50, seed=3)
    one = embed(volume, key, bits, workers=1)
    two = embed(volume, key, bits, workers=2)
    assert one.volume.tobytes() == two.volume.tobytes() and one.side_info == two.side_info
    assert one.report == two.report
    assert np.array_equal(extract(one.volume, key, workers=1).ones, extract(one.volume, key, workers=2).ones)
