"""ParomaWatermarkLogic on numpy arrays: the console's interface, its records, errors and progress."""

from __future__ import annotations

import numpy as np
import pytest
from ledger_helpers import watermarked_ledger
from synthetic import smooth_volume

from ParomaWatermarkLib import (
    Cancelled,
    NotRecordedError,
    ParomaWatermarkLogic,
    RestoreError,
    VolumeError,
    default_ledger_path,
    volume_hash,
)


def test_watermark_returns_the_copy_and_its_record(tmp_path):
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    volume = smooth_volume(5, 50, 60)
    marked, record = logic.watermark(volume, paroma_id="P-0001", recipient="DS-42")
    assert marked.shape == volume.shape and marked.dtype == volume.dtype
    assert (record.index, record.paroma_id, record.recipient, record.message) == (1, "P-0001", "DS-42", "P-0001|DS-42")
    assert record.original_hash == volume_hash(volume).volume
    assert record.watermarked_hash == volume_hash(marked).volume
    assert record.shape == (5, 50, 60) and record.dtype == "<i2" and record.stride == 3
    assert record.embed_summary["max_change"] == 1
    assert len(record.block.to_json()) < 4096


def test_restore_is_bit_exact_and_recorded(tmp_path):
    logic, volume, copies = watermarked_ledger(tmp_path)
    original = logic.restore(copies["DS-2"])
    assert original.tobytes() == volume.tobytes()
    block = logic.ledger.last_block()
    assert block.kind == "restore" and block.payload["block"] == 2 and block.payload["verified"] is True


def test_restore_refuses_a_changed_copy_and_an_unrecorded_volume(tmp_path):
    logic, volume, copies = watermarked_ledger(tmp_path)
    changed = copies["DS-1"].copy()
    changed[0, 0, 0] += 5
    with pytest.raises(RestoreError, match="changed after it was watermarked"):
        logic.restore(changed)
    with pytest.raises(NotRecordedError, match="not a watermarked copy recorded in the ledger"):
        logic.restore(volume)


def test_refusals_reach_the_caller_as_library_errors(tmp_path):
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    with pytest.raises(VolumeError, match="whole numbers"):
        logic.watermark(smooth_volume(3, 30, 30).astype(np.float32) / 3, "P", "D")
    with pytest.raises(ValueError, match="without '|'"):
        logic.watermark(smooth_volume(3, 30, 30), "P|1", "D")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        ParomaWatermarkLogic(ledger=tmp_path / "ledger.db", false_match_bound=2)
    assert len(logic.ledger) == 1


def test_progress_spans_every_pass_and_cancelling_writes_nothing(tmp_path):
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    volume = smooth_volume(6, 60, 60)
    seen = []
    logic.watermark(volume, "P", "D", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (18, 18) and all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))
    with pytest.raises(Cancelled):
        logic.watermark(volume, "P", "E", progress=lambda done, total: done < 9)
    assert len(logic.ledger) == 2 and logic.verify_ledger().ok


def test_the_default_ledger_lives_in_the_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("PAROMA_LEDGER", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_ledger_path() == tmp_path / "ParomaWatermark" / "ledger.db"
    monkeypatch.setenv("PAROMA_LEDGER", str(tmp_path / "elsewhere.db"))
    assert default_ledger_path() == tmp_path / "elsewhere.db"
    assert ParomaWatermarkLogic().ledger.path == tmp_path / "elsewhere.db"
