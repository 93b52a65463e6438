"""Run per-slice work over a volume in chunks of slices, on threads, with progress and cancellation.

numpy releases the GIL inside its loops, so chunks of slices run in parallel on threads. Memory stays bounded: each
chunk's temporaries are a few megabytes. Progress is reported, and cancellation asked, on the calling thread, so a
GUI may update its widgets from the callback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from functools import lru_cache
from typing import TypeVar

from .errors import Cancelled

T = TypeVar("T")

Progress = Callable[[int, int], "bool | None"]
"""Called with (slices done, slices in all); returning False cancels the operation."""

CHUNK_VOXELS = 1 << 21
"""About how many voxels one chunk holds: big enough to amortise Python overhead, small enough for the caches."""


def default_workers() -> int:
    """Threads to use: one per core available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def chunks(slices: int, slice_voxels: int) -> list[tuple[int, int]]:
    """Split range(slices) into consecutive (start, stop) chunks of about CHUNK_VOXELS voxels."""
    step = max(1, CHUNK_VOXELS // max(1, slice_voxels))
    return [(start, min(start + step, slices)) for start in range(0, slices, step)]


def run_chunks(
    work: Callable[[int, int], T],
    slices: int,
    slice_voxels: int,
    progress: Progress | None = None,
    workers: int | None = None,
) -> list[T]:
    """`work(start, stop)` for every chunk of slices, results in slice order.

    Raises `Cancelled` if `progress` returns False; chunks already running finish, the others never start.
    """
    parts = chunks(slices, slice_voxels)
    workers = min(workers or default_workers(), len(parts))
    if workers <= 1:
        results = []
        for start, stop in parts:
            results.append(work(start, stop))
            _report(progress, stop, slices)
        return results
    futures = [_pool(workers).submit(work, start, stop) for start, stop in parts]
    results = []
    try:
        for (_, stop), future in zip(parts, futures):
            results.append(future.result())
            _report(progress, stop, slices)
    except BaseException:
        for future in futures:
            future.cancel()
        wait(futures)
        raise
    return results


@lru_cache(maxsize=4)
def _pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool kept for the life of the process: starting threads costs more than a chunk of work."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="paroma")


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None and progress(done, total) is False:
        raise Cancelled(f"cancelled after {done} of {total} slices; nothing was changed")
