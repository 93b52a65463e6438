"""Progress, cancellation and threading of slice-by-slice work."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from synthetic import smooth_volume

from ParomaWatermarkLib import Cancelled, embed, restore


def test_progress_counts_slices_on_the_calling_thread(small_chunks, key, bits):
    volume = smooth_volume(12, 40, 40)
    seen, threads = [], set()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        threads.add(threading.get_ident())

    embed(volume, key, bits, progress=progress, workers=2)
    assert seen[-1] == (12, 12)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) == 12
    assert threads == {threading.get_ident()}


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_stops_and_leaves_input_alone(small_chunks, key, bits, workers):
    volume = smooth_volume(12, 40, 40)
    before = volume.copy()
    with pytest.raises(Cancelled, match="cancelled after 3 of 12 slices"):
        embed(volume, key, bits, progress=lambda done, total: done < 3, workers=workers)
    assert np.array_equal(volume, before)
    marked = embed(volume, key, bits)
    with pytest.raises(Cancelled):
        restore(marked.volume, key, marked.side_info, progress=lambda done, total: False)


@pytest.mark.parametrize("dtype", ["<i2", ">i2", "<f4", "<u2"])
def test_memory_stays_bounded_whatever_the_input_type(key, bits, dtype):
    """Only the output and one chunk's temporaries are allocated: converted types never get a whole second copy."""
    import tracemalloc

    volume = smooth_volume(64, 256, 256).astype(dtype)
    tracemalloc.start()
    marked = embed(volume, key, bits, workers=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert marked.volume.dtype == volume.dtype
    assert peak < 1.5 * volume.nbytes
