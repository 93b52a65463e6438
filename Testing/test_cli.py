"""The paroma-watermark command: every command, its output and its exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from dicom_samples import ct_series, sample
from synthetic import smooth_volume

from ParomaWatermarkLib import cli
from ParomaWatermarkLib.demo import sample_mr_volume


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A folder with a real MR volume as NRRD, and PAROMA_LEDGER pointing at a ledger in it."""
    monkeypatch.setenv("PAROMA_LEDGER", str(tmp_path / "ledger.db"))
    monkeypatch.delenv("PAROMA_LEDGER_KEY", raising=False)
    volume, _ = sample_mr_volume()
    sitk.WriteImage(sitk.GetImageFromArray(volume), str(tmp_path / "scan.nrrd"))
    return tmp_path


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_embed_check_restore_and_verify(workspace, capsys):
    code, out, err = run(capsys, "embed", workspace / "scan.nrrd", workspace / "copy.nrrd", "--paroma-id", "P-1", "--recipient", "DS-1")
    assert code == 0 and "block 1" in out and err == ""
    code, out, _ = run(capsys, "check", workspace / "copy.nrrd")
    assert code == 0 and "Leaked copy of P-1 given to DS-1, block 1" in out
    code, out, _ = run(capsys, "check", workspace / "scan.nrrd")
    assert code == 1 and out.startswith("No watermark detected")
    code, out, _ = run(capsys, "restore", workspace / "copy.nrrd", workspace / "restored.nrrd")
    assert code == 0 and "restored bit for bit" in out
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(workspace / "restored.nrrd"))).tobytes() == sample_mr_volume()[0].tobytes()
    code, out, _ = run(capsys, "ledger", "verify")
    assert code == 0 and out.startswith("ledger intact: 5 blocks")


def test_json_outputs_carry_what_scripts_need(workspace, capsys):
    code, out, _ = run(capsys, "embed", workspace / "scan.nrrd", workspace / "copy.nrrd", "--paroma-id", "P-1", "--recipient", "DS-1", "--json")
    embedded = json.loads(out)
    assert code == 0 and embedded["block"] == 1 and {"original_hash", "watermarked_hash", "embed"} <= set(embedded)
    leaked = sitk.GetArrayFromImage(sitk.ReadImage(str(workspace / "copy.nrrd")))[3:8] + 7
    np.save(workspace / "leaked.npy", leaked)
    code, out, _ = run(capsys, "check", workspace / "leaked.npy", "--json")
    finding = json.loads(out)
    assert code == 0
    for key in ("detected", "method", "block", "paroma_id", "recipient", "matched_bits", "voted_bits",
                "false_match_probability", "slices"):
        assert key in finding
    assert finding["method"] == "watermark" and finding["slices"] == [0, 1, 2, 3, 4]
    code, out, _ = run(capsys, "ledger", "verify", "--json")
    report = json.loads(out)
    assert code == 0 and (report["ok"], report["blocks"], report["first_bad_block"], report["reason"]) == (True, 3, None, "")
    assert len(report["head"]) == 64


def test_batch_goes_on_past_a_bad_file_and_says_so(workspace, capsys):
    batch = workspace / "batch"
    batch.mkdir()
    for n in range(2):
        sitk.WriteImage(sitk.GetImageFromArray(smooth_volume(4, 60, 60, seed=n)), str(batch / f"scan{n}.nrrd"))
    (batch / "broken.nrrd").write_bytes(b"NRRD0004\ntype: short\n")
    ct_series(batch / "ct-series", slices=2)
    code, out, err = run(capsys, "embed", batch, workspace / "out", "--paroma-id", "P-2", "--recipient", "DS-2")
    assert code == 1
    assert sorted(p.name for p in (workspace / "out").iterdir()) == ["ct-series", "scan0.nrrd", "scan1.nrrd"]
    assert out.count(" -> ") == 3
    assert "broken.nrrd: not a readable NRRD file" in err and "1 of 4 inputs failed" in err
    assert "Traceback" not in err


def test_errors_are_one_line_with_exit_code_2_unless_debugging(workspace, capsys):
    code, out, err = run(capsys, "check", workspace / "missing.nrrd")
    assert code == 2 and out == "" and err.count("\n") == 1 and "does not exist" in err
    code, _, err = run(capsys, "check", sample("SC_rgb_small_odd.dcm"))
    assert code == 2 and "colour image" in err and "Traceback" not in err
    code, _, err = run(capsys, "check", sample("SC_rgb_small_odd.dcm"), "--debug")
    assert code == 2 and "Traceback" in err
    code, _, err = run(capsys, "ledger", "verify", "--ledger", workspace)
    assert code == 2 and "is a folder" in err
    code, _, err = run(capsys, "embed", workspace / "scan.nrrd", workspace / "copy.nrrd", "--paroma-id", "P|1", "--recipient", "D")
    assert code == 2 and "without '|'" in err


def test_a_broken_ledger_verifies_with_exit_code_1(workspace, capsys):
    run(capsys, "embed", workspace / "scan.nrrd", workspace / "copy.nrrd", "--paroma-id", "P-1", "--recipient", "DS-1")
    run(capsys, "check", workspace / "copy.nrrd")
    from ledger_helpers import raw_sql

    raw_sql(workspace / "ledger.db", "DELETE FROM blocks WHERE idx = 1")
    code, out, _ = run(capsys, "ledger", "verify")
    assert code == 1 and "ledger BROKEN at block 1: block 1 is missing" in out


def test_ledger_list_show_and_export(workspace, capsys):
    run(capsys, "embed", workspace / "scan.nrrd", workspace / "copy.nrrd", "--paroma-id", "P-1", "--recipient", "DS-1")
    run(capsys, "check", workspace / "copy.nrrd")
    code, out, _ = run(capsys, "ledger", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert "genesis" in lines[0] and "P-1 for DS-1, 24x96x128 <i2" in lines[1] and "traced to block 1 by hash" in lines[2]
    code, out, _ = run(capsys, "ledger", "show", "1")
    assert code == 0 and json.loads(out)["payload"]["recipient"] == "DS-1"
    code, _, err = run(capsys, "ledger", "show", "9")
    assert code == 2 and "has no block 9" in err
    code, out, _ = run(capsys, "ledger", "export", workspace / "export.json")
    assert code == 0 and len(json.loads((workspace / "export.json").read_text())["blocks"]) == 3


def test_the_console_script_is_installed_and_runs(workspace):
    executable = shutil.which("paroma-watermark")
    command = [executable] if executable else [sys.executable, "-m", "ParomaWatermarkLib.cli"]
    result = subprocess.run(command + ["check", str(workspace / "scan.nrrd")], capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout.startswith("No watermark detected")
    result = subprocess.run(command + ["--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "embed" in result.stdout and "PAROMA_LEDGER" in result.stdout


def test_restoring_a_volume_the_ledger_does_not_know_is_an_error(workspace, capsys):
    code, out, err = run(capsys, "restore", workspace / "scan.nrrd", workspace / "restored.nrrd")
    assert code == 2 and out == "" and "not a watermarked copy recorded in the ledger" in err
    assert not (workspace / "restored.nrrd").exists()
