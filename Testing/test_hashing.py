"""The canonical volume hash: recomputed here from its documented definition."""

from __future__ import annotations

import hashlib

import numpy as np
from synthetic import smooth_volume

from ParomaWatermarkLib import volume_hash


def documented_hash(volume: np.ndarray) -> tuple[str, list[str]]:
    stack = volume if volume.ndim == 3 else volume[None]
    code = volume.dtype.newbyteorder("<").str
    rows, cols = stack.shape[1:]
    digests = [
        hashlib.sha256(f"paroma-slice/1 {code} {rows} {cols}\n".encode() + plane.astype(code).tobytes()).digest()
        for plane in stack
    ]
    header = f"paroma-volume/1 {code} {' '.join(map(str, volume.shape))}\n".encode()
    return hashlib.sha256(header + b"".join(digests)).hexdigest(), [d.hex() for d in digests]


def test_hash_follows_the_documented_canonical_form():
    for volume in (smooth_volume(5, 20, 30), smooth_volume(1, 9, 7, dtype=np.uint8)[0]):
        found = volume_hash(volume)
        expected, slices = documented_hash(volume)
        assert found.volume == expected and list(found.slices) == slices


def test_byte_order_and_memory_layout_do_not_change_the_hash():
    volume = smooth_volume(4, 20, 30)
    reference = volume_hash(volume)
    assert volume_hash(volume.astype(">i2")) == reference
    assert volume_hash(np.asfortranarray(volume)) == reference


def test_type_shape_and_voxels_change_the_hash():
    volume = smooth_volume(4, 20, 30)
    reference = volume_hash(volume).volume
    changed = volume.copy()
    changed[3, 19, 29] += 1
    others = {volume_hash(v).volume for v in (volume.astype(np.int32), volume.reshape(4, 30, 20), changed)}
    assert reference not in others and len(others) == 3


def test_slice_hashes_find_slices_anywhere():
    volume = smooth_volume(6, 20, 30)
    whole = volume_hash(volume).slices
    part = volume_hash(volume[[4, 1]]).slices
    assert part == (whole[4], whole[1])


def test_parallel_and_sequential_hashes_agree(small_chunks):
    volume = smooth_volume(7, 20, 30)
    assert volume_hash(volume, workers=1) == volume_hash(volume, workers=2)
