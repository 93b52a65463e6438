"""Shared helpers for ledger tests: small watermarked ledgers and raw access to the SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from synthetic import smooth_volume

from ParomaWatermarkLib import LocalLedger, ParomaWatermarkLogic


def watermarked_ledger(folder: Path, recipients=("DS-1", "DS-2", "DS-3")) -> tuple[ParomaWatermarkLogic, np.ndarray, dict]:
    """A ledger holding one watermark block per recipient for one smooth volume."""
    logic = ParomaWatermarkLogic(ledger=folder / "ledger.db")
    volume = smooth_volume(6, 60, 63)
    copies = {r: logic.watermark(volume, "P-0001", r)[0] for r in recipients}
    return logic, volume, copies


def raw_sql(ledger: LocalLedger | Path, statement: str, parameters=()) -> None:
    """Change the file behind the ledger's back, as an attacker with write access could."""
    path = ledger.path if isinstance(ledger, LocalLedger) else ledger
    db = sqlite3.connect(path)
    with db:
        db.execute(statement, parameters)
    db.close()
