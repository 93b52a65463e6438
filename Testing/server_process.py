"""A real ledger server process on 127.0.0.1 at a free port, with one token per role, for the server tests."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from ParomaWatermarkLib.ledger.blocks import slice_digest
from ParomaWatermarkLib.server.tokens import ROLES, add_token

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


POSTGRES_VARIABLE = "PAROMA_TEST_POSTGRES"
STORES = ("sqlite", "postgresql")


def postgres_database() -> str:
    """A new, empty database on the test PostgreSQL server named by PAROMA_TEST_POSTGRES, as a URL."""
    import psycopg

    base = os.environ[POSTGRES_VARIABLE]
    name = f"paroma_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


def skip_without(store: str) -> None:
    """PostgreSQL tests run where PAROMA_TEST_POSTGRES names a server (.ci/run starts one)."""
    import pytest

    if store == "postgresql" and not os.environ.get(POSTGRES_VARIABLE):
        pytest.skip(f"no test PostgreSQL server: set {POSTGRES_VARIABLE} (.ci/run starts one)")


class ServerProcess:
    """`paroma-watermark serve` in a child process; stop() kills it, start() brings it back on the same port."""

    def __init__(self, folder: Path, max_upload_mb: int = 64, store: str = "sqlite", tls: tuple | None = None) -> None:
        from ParomaWatermarkLib.ledger import MasterKey

        self.folder = folder
        self.store_kind = store
        self.environment = {}
        if store == "postgresql":
            self.ledger = postgres_database()
            self.environment["PAROMA_LEDGER_KEY"] = MasterKey.generate().hex()
        else:
            self.ledger = str(folder / "server-ledger.db")
        self.tokens_file = folder / "tokens.json"
        self.tokens = {role: add_token(self.tokens_file, f"{role}-1", role) for role in ROLES}
        self.port = free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.max_upload_mb = max_upload_mb
        self.process: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop("PAROMA_LEDGER_KEY", None)
        env.update(self.environment)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ParomaWatermarkLib.cli", "serve", "--ledger", str(self.ledger), "--tokens",
             str(self.tokens_file), "--port", str(self.port), "--max-upload-mb", str(self.max_upload_mb)]
            + (["--certfile", str(self.tls[0]), "--keyfile", str(self.tls[1])] if self.tls else []),
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                verify = str(self.tls[0]) if self.tls else True
                if requests.get(self.url + "/v1/ledger", headers=self.headers("reader"), timeout=1, verify=verify).ok:
                    return self
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stderr.read().decode()}")
            time.sleep(0.1)
        raise RuntimeError("the server did not answer within 30 s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.kill()

    def store(self):
        """The server's ledger opened directly, as its host's administrator would."""
        from ParomaWatermarkLib import ParomaWatermarkLogic

        return ParomaWatermarkLogic(ledger=self.ledger).ledger

    def headers(self, role: str | None) -> dict:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


def synthetic_record(n: int, ledger_id: str | None = None) -> dict:
    """A well-formed watermark record body for POST /v1/watermarks, as a writer client would send it."""
    from ParomaWatermarkLib import SecretKey

    key = SecretKey.generate()
    slices = [secrets.token_hex(32) for _ in range(2)]
    payload = {
        "paroma_id": f"P-{n}",
        "recipient": f"DS-{n % 7}",
        "message": f"P-{n}|DS-{n % 7}",
        "watermarked_at": f"2026-01-01T00:00:{n % 60:02d}.{n:06d}Z",
        "watermark": secrets.token_hex(32),
        "key": {"fingerprint": key.fingerprint()},
        "scheme": {"name": "paroma-rhombus-hs/1", "stride": 3, "carrier_fraction": "0.5", "value_range": [-32768, 32767]},
        "geometry": {"shape": [2, 64, 64], "dtype": "<i2"},
        "original_hash": secrets.token_hex(32),
        "watermarked_hash": secrets.token_hex(32),
        "slice_digest": slice_digest(list(enumerate(slices))),
        "unchanged_slices": [],
        "side_info": "UFdTMQAAAAAAAAAAeNoDAAAAAAE=",
        "embed": {"carriers": 100, "distinct_bits": 90, "voxels_changed": 50, "max_change": 1, "psnr_db": "110.0",
                  "side_info_bytes": 20},
        "source": None,
    }
    return {"payload": payload, "slice_hashes": slices, "key": key.hex(), "request_id": f"req-{n}-{secrets.token_hex(4)}"}
