"""Benchmark of the ledger and the leak check.

    python benchmarks/bench_ledger.py [--workdir DIR] [--big 100000]

Leak checks of a 512x512x64 CT-like suspect against ledgers of 1, 1,000 and 100,000 watermark blocks (1,000 of them
with the suspect's geometry, the others 256x256): by hash (an exact copy) and by extraction (the copy with 1 added to
every voxel, so that no hash matches). The one real record is the suspect's; the other records are built from it with
their own sealed keys, watermarks and hashes, as thousands of real watermarkings would leave them. Times are medians
of 5 checks and include hashing the suspect and the audit block each check appends. Also: durable appends per second.
Writes the table to benchmarks/results/ledger.md.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from bench_engine import ct_like_volume
from results_table import publish

from ParomaWatermarkLib import LocalLedger, ParomaWatermarkLogic, SecretKey
from ParomaWatermarkLib.ledger import LEAK_CHECK, WATERMARK
from ParomaWatermarkLib.ledger.blocks import slice_digest
from ParomaWatermarkLib.ledger.records import seal_context

def related_records(ledger: LocalLedger, template: dict, count: int, shape: list[int], slices_each: int):
    """`count` watermark payloads like `template`, each with its own key, watermark, hashes and slice hashes."""
    for n in range(count):
        payload = {**template, "paroma_id": f"P-{n:06d}", "recipient": f"DS-{n % 500}"}
        payload["message"] = f"{payload['paroma_id']}|{payload['recipient']}"
        payload["watermarked_at"] = f"2026-01-01T00:00:00.{n:06d}Z"
        key = SecretKey.generate()
        context = seal_context(ledger.ledger_id, payload["message"], payload["watermarked_at"])
        payload["key"] = ledger.seal(key, context) | {"fingerprint": key.fingerprint()}
        payload["watermark"] = secrets.token_hex(32)
        payload["original_hash"], payload["watermarked_hash"] = secrets.token_hex(32), secrets.token_hex(32)
        payload["geometry"] = {**template["geometry"], "shape": shape}
        slice_hashes = [secrets.token_hex(32) for _ in range(slices_each)]
        payload["slice_digest"] = slice_digest(list(enumerate(slice_hashes)))
        payload["unchanged_slices"] = []
        yield WATERMARK, payload, slice_hashes


def build(path: Path, volume, same_geometry: int, other_geometry: int):
    logic = ParomaWatermarkLogic(ledger=path)
    marked, record = logic.watermark(volume, "P-SUSPECT", "DS-LEAKER")
    template = record.block.payload
    for count, shape, slices in ((same_geometry - 1, [64, 512, 512], 64), (other_geometry, [32, 256, 256], 32)):
        batch = related_records(logic.ledger, template, count, shape, slices)
        while True:
            chunk = [next(batch, None) for _ in range(5000)]
            chunk = [c for c in chunk if c is not None]
            if not chunk:
                break
            logic.ledger.append_many(chunk)
    return logic, marked


def median_seconds(action, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="where to build the ledgers (default: a temporary folder)")
    parser.add_argument("--big", type=int, default=100_000, help="blocks of the largest ledger (default 100,000)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="paroma-bench-"))
    volume = ct_like_volume(64)
    rows = []
    timings = {}
    for total, same in ((1, 1), (1_000, 1_000), (args.big, 1_000)):
        start = time.perf_counter()
        logic, marked = build(workdir / f"ledger-{total}.db", volume, same, total - same)
        built = time.perf_counter() - start
        by_hash = median_seconds(lambda: logic.check(marked))
        shifted = marked + 1
        by_watermark = median_seconds(lambda: logic.check(shifted))
        finding = logic.check(shifted)
        assert finding.detected and finding.recipient == "DS-LEAKER" and finding.candidates == same
        timings[total] = by_watermark
        rows.append((total, same, by_hash * 1e3, by_watermark * 1e3, finding.candidates, built))
    appends = LocalLedger(workdir / "appends.db")
    count = 300
    start = time.perf_counter()
    for n in range(count):
        appends.append(LEAK_CHECK, {"suspect_hash": secrets.token_hex(32), "detected": False, "n": n})
    rate = count / (time.perf_counter() - start)
    extra = timings[args.big] - timings[1_000]
    lines = [
        "Leak check of a 512x512x64 int16 suspect (median of 5, including hashing it and the audit append)",
        "",
        "| ledger blocks | with the suspect's geometry | by hash (ms) | by extraction (ms) | candidates tried | build (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {t:,} | {s:,} | {h:.1f} | {w:.1f} | {c:,} | {b:.1f} |" for t, s, h, w, c, b in rows]
    lines += [
        "",
        f"Unrelated blocks ({args.big - 1_000:,}) add {extra * 1e3:.1f} ms to the extraction path.",
        f"Durable appends (WAL, synchronous=FULL, one transaction each): {rate:.0f} per second over {count}.",
    ]
    publish(lines, "ledger")


if __name__ == "__main__":
    main()
