"""Benchmark of the ledger server: appends and leak checks per second, with 1 and 8 concurrent clients.

    python benchmarks/bench_server.py          # PostgreSQL too when PAROMA_TEST_POSTGRES names a server

A real server process on 127.0.0.1 at a free port, on each store (SQLite file; PostgreSQL when available); clients are threads with their own HTTP sessions.
Appends are watermark records of a 64x64x2 volume (the server seals each key, validates the record, and commits
durably); leak checks send a 24x96x128 int16 MR volume (deflated .npy, about 0.4 MiB) that is not watermarked, against
a ledger holding 50 records of its size, so every check runs the full extraction path in all 8 orientations.
Writes the table to benchmarks/results/server.md.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Testing"))

from server_process import POSTGRES_VARIABLE, ServerProcess, synthetic_record  # noqa: E402
from results_table import publish  # noqa: E402

from ParomaWatermarkLib import ParomaWatermarkLogic  # noqa: E402
from ParomaWatermarkLib.demo import sample_mr_volume  # noqa: E402

def rate(server: ServerProcess, clients: int, per_client: int, request) -> float:
    """Requests per second over all clients, each sending `per_client` requests made by `request(session, n)`."""
    failures = []

    def client(number: int) -> None:
        session = requests.Session()
        for n in range(per_client):
            response = request(session, number * per_client + n)
            if response.status_code >= 300:
                failures.append(response.text)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return clients * per_client / elapsed


def measure(store: str) -> list[tuple[str, int, float]]:
    server = ServerProcess(Path(tempfile.mkdtemp(prefix="paroma-server-bench-")), max_upload_mb=256, store=store).start()
    try:
        volume, _ = sample_mr_volume()
        writer = ParomaWatermarkLogic(ledger=server.url, token=server.tokens["writer"])
        for n in range(50):
            writer.watermark(volume, f"P-{n}", f"DS-{n}")
        buffer = io.BytesIO()
        np.save(buffer, volume + 1)
        body = zlib.compress(buffer.getvalue(), 1)
        writer_headers, auditor_headers = server.headers("writer"), server.headers("auditor")
        auditor_headers = auditor_headers | {"Content-Encoding": "deflate", "Content-Type": "application/octet-stream"}

        def append(session, n):
            return session.post(server.url + "/v1/watermarks", json=synthetic_record(n), headers=writer_headers, timeout=60)

        def check(session, n):
            return session.post(server.url + "/v1/checks", data=body, headers=auditor_headers, timeout=600)

        return [
            ("appends", 1, rate(server, 1, 400, append)),
            ("appends", 8, rate(server, 8, 100, append)),
            ("leak checks (not detected, 8 orientations)", 1, rate(server, 1, 24, check)),
            ("leak checks (not detected, 8 orientations)", 8, rate(server, 8, 6, check)),
        ]
    finally:
        server.stop()


def main() -> None:
    stores = ["sqlite"] + (["postgresql"] if os.environ.get(POSTGRES_VARIABLE) else [])
    results = {store: measure(store) for store in stores}
    lines = [
        "Ledger server on 127.0.0.1, 2-core machine (the clients run on it too); per second",
        "",
        "| operation | concurrent clients | " + " | ".join(stores) + " |",
        "|---|---:|" + "---:|" * len(stores),
    ]
    for position, (name, clients, _) in enumerate(results["sqlite"]):
        figures = " | ".join(f"{results[store][position][2]:.1f}" for store in stores)
        lines.append(f"| {name} | {clients} | {figures} |")
    publish(lines, "server")


if __name__ == "__main__":
    main()
