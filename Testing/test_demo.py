"""The README's first command: `paroma-watermark demo`, on real scans, with its own ledger."""

from __future__ import annotations

import json

from ParomaWatermarkLib import cli


def test_demo_traces_the_leak_and_restores_exactly(tmp_path, capsys):
    assert cli.main(["demo", "--json", "--workdir", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    leak = result["check_leak"]
    assert (leak["detected"], leak["method"], leak["recipient"]) == (True, "watermark", "DS-42")
    assert leak["orientation"] == "columns flipped" and leak["slices"] == [0, 1, 2, 3, 4]
    assert leak["matched_bits"] == leak["voted_bits"] and leak["false_match_probability"] < 1e-9
    assert result["check_exact_copy"]["method"] == "hash" and result["check_exact_copy"]["recipient"] == "DS-99"
    assert result["check_original"]["detected"] is False
    assert result["restored"]["bit_exact"] is True
    assert result["dicom"]["check"]["recipient"] == "DS-17" and "JPEG 2000" in result["dicom"]["notes"][0]
    assert [r["refused"] for r in result["refused"]] == [True, True]
    assert result["ledger"]["ok"] is True
    assert (tmp_path / "ledger.db.key").stat().st_mode & 0o077 == 0


def test_demo_prints_a_readable_report(tmp_path, capsys):
    assert cli.main(["demo", "--workdir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Leaked copy of P-0001 given to DS-42" in text and "columns flipped" in text
    assert "check the original:  No watermark detected" in text
    assert "bit-exact" in text and "Ledger: intact" in text
