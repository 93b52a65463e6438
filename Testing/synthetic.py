"""Synthetic volumes for unit and property tests."""

from __future__ import annotations

import numpy as np


def smooth_volume(slices: int, rows: int, cols: int, seed: int = 0, dtype=np.int16, noise: float = 2.0) -> np.ndarray:
    """A smooth synthetic volume with mild noise: plenty of carriers, like the soft tissue of a CT."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[0:slices, 0:rows, 0:cols]
    base = 400 + 200 * np.sin(x / 9.0) * np.cos(y / 11.0) + 5 * z
    return np.rint(base + rng.normal(0, noise, base.shape)).astype(dtype)
