"""Benchmark of the watermark engine on a CT-like int16 volume of 512x512xN.

Each time is the best of several runs, given as a ratio to the best of as many runs of a plain numpy copy of the same
array, alternated with them so that both see the same machine; the ratios compare across machines and loads. Peak memory is the input volume plus the most the operation
allocated on top of it (numpy reports its buffers to tracemalloc), as a ratio to the volume's size.

    python benchmarks/bench_engine.py              # 512x512x64
    python benchmarks/bench_engine.py --slices 300
Writes the table to benchmarks/results/engine-<slices>.md.
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import ParomaWatermarkLib as pw
from results_table import publish

def ct_like_volume(slices: int, size: int = 512, seed: int = 7) -> np.ndarray:
    """A CT-like int16 volume in Hounsfield units: air around an elliptic body with soft tissue, bone and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] - size / 2
    body = (y / (0.40 * size)) ** 2 + (x / (0.30 * size)) ** 2 < 1
    spine = (y / (0.05 * size) - 4) ** 2 + (x / (0.05 * size)) ** 2 < 1
    base = np.where(body, 40.0, -1000.0) + np.where(spine, 700.0, 0.0)
    volume = np.empty((slices, size, size), dtype=np.int16)
    for index in range(slices):
        noise = rng.normal(0.0, 12.0, (size, size)) * np.where(body, 1.0, 0.4)
        volume[index] = np.clip(np.rint(base + noise), -1024, 3071)
    return volume


def _seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def timed_against_copy(action: Callable[[], object], volume: np.ndarray, repeats: int) -> tuple[float, float]:
    """Best seconds of `action` and of a numpy copy of `volume`, run alternately so that both see the same machine."""
    action()
    pairs = [(_seconds(action), _seconds(volume.copy)) for _ in range(repeats)]
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def peak_ratio(action: Callable[[], object], volume: np.ndarray) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return (volume.nbytes + peak) / volume.nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=64, help="number of 512x512 slices (default 64; 300 for a full CT)")
    parser.add_argument("--repeats", type=int, default=15, help="runs per measurement; the best is kept (default 15)")
    args = parser.parse_args()

    volume = ct_like_volume(args.slices)
    key = pw.SecretKey.generate()
    bits = pw.watermark_bits("P-0001|DS-42", key, "2026-01-01T00:00:00Z")
    marked = pw.embed(volume, key, bits)
    assert np.array_equal(pw.restore(marked.volume, key, marked.side_info), volume)
    assert pw.extract(marked.volume, key).matched_bits(bits) == pw.WATERMARK_BITS

    def full_watermark() -> object:
        original = pw.volume_hash(volume)
        embedding = pw.embed(volume, key, bits)
        return original, embedding, pw.volume_hash(embedding.volume)

    operations: dict[str, Callable[[], object]] = {
        "numpy copy (baseline)": volume.copy,
        "embed": lambda: pw.embed(volume, key, bits),
        "extract": lambda: pw.extract(marked.volume, key),
        "restore": lambda: pw.restore(marked.volume, key, marked.side_info),
        "hash": lambda: pw.volume_hash(volume),
        "full watermark (hash, embed, hash)": full_watermark,
    }
    rows = []
    for name, action in operations.items():
        seconds, copy_seconds = timed_against_copy(action, volume, args.repeats)
        rows.append((name, seconds * 1e3, seconds / copy_seconds, peak_ratio(action, volume)))

    report = marked.report
    shape = "x".join(str(n) for n in volume.shape[::-1])
    lines = [
        f"Engine benchmark: int16 CT-like volume {shape} ({volume.nbytes / 2**20:.0f} MiB), "
        f"{pw.slicewise.default_workers()} worker threads, numpy {np.__version__}, Python {platform.python_version()}",
        f"Carriers {report.carriers} ({report.carriers // report.slices} per slice), {report.distinct_bits}/256 bits, "
        f"voxels changed {report.voxels_changed}, PSNR {report.psnr_db:.1f} dB, side information {report.side_info_bytes} B",
        "",
        "| operation | time (ms) | x numpy copy | peak memory (x volume) |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {ms:.1f} | {ratio:.2f} | {peak:.2f} |" for name, ms, ratio, peak in rows]
    publish(lines, f"engine-{args.slices}")


if __name__ == "__main__":
    main()
