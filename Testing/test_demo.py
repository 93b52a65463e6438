"""The README's first command: the demonstration on real scans."""

from __future__ import annotations

import json

from ParomaWatermarkLib import demo


def test_demo_traces_the_leak_and_restores_exactly(capsys):
    assert demo.main(["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    right = result["read_right_key"]
    assert right["matched_bits"] == right["voted_bits"] == result["embed"]["distinct_bits"] >= 47
    assert result["read_wrong_key"]["chance_match_probability"] > 1e-9
    assert result["read_original"]["chance_match_probability"] > 1e-9
    assert result["leak"]["matched_bits"] == result["leak"]["voted_bits"]
    assert result["leak"]["chance_match_probability"] < 1e-9
    assert result["restored_bit_exact"] is True
    assert [r["refused"] for r in result["refused"]] == [True, True]


def test_demo_prints_a_readable_report(capsys):
    assert demo.main([]) == 0
    text = capsys.readouterr().out
    assert "Restored with the key: bit-exact" in text and "refused: the volume can carry only" in text
