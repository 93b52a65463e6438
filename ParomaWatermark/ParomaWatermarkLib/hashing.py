"""The canonical volume hash: how a ledger recognises an exact copy of a volume, or of some of its slices.

Canonical form (version 1), documented so that anyone can recompute it:
- each slice (rows x columns, C order) is hashed as SHA-256 of the ASCII header
  "paroma-slice/1 <type> <rows> <columns>\\n" followed by its voxels in little-endian byte order;
- the volume hash is SHA-256 of "paroma-volume/1 <type> <shape, space-separated>\\n" followed by the 32-byte digests
  of its slices in order (a 2D array is one slice).
<type> is numpy's type string normalised to little-endian, e.g. "<i2", "|u1", "<f4". A slice's hash does not depend
on where it sits in the volume, so slices found in another volume are recognised too. Slices hash in parallel.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .slicewise import Progress, run_chunks

CANONICAL_FORM = "paroma-hash/1"


@dataclass(frozen=True)
class VolumeHash:
    """SHA-256 of a volume and of each of its slices, as hexadecimal."""

    volume: str
    slices: tuple[str, ...]


def volume_hash(volume: np.ndarray, *, progress: Progress | None = None, workers: int | None = None) -> VolumeHash:
    """The canonical hash of a 2D slice or a 3D stack of slices along axis 0."""
    volume = np.asarray(volume)
    if volume.ndim not in (2, 3) or volume.size == 0:
        raise ValueError(f"expected a non-empty 2D slice or 3D stack of slices, got shape {volume.shape}")
    stack = volume.reshape((1,) + volume.shape) if volume.ndim == 2 else volume
    little = stack.dtype.newbyteorder("<")
    type_code = little.str
    rows, cols = stack.shape[1:]
    header = f"paroma-slice/1 {type_code} {rows} {cols}\n".encode("ascii")

    def hash_chunk(start: int, stop: int) -> list[bytes]:
        digests = []
        for index in range(start, stop):
            plane = np.ascontiguousarray(stack[index], dtype=little)
            digest = hashlib.sha256(header)
            digest.update(plane.data)
            digests.append(digest.digest())
        return digests

    digests = [d for part in run_chunks(hash_chunk, stack.shape[0], rows * cols, progress, workers) for d in part]
    shape = " ".join(str(n) for n in volume.shape)
    top = hashlib.sha256(f"paroma-volume/1 {type_code} {shape}\n".encode("ascii"))
    top.update(b"".join(digests))
    return VolumeHash(volume=top.hexdigest(), slices=tuple(d.hex() for d in digests))
