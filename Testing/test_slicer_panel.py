"""The Slicer panel: the real widget class and .ui file, driven as a user drives them, on a real MRML scene.

The Slicer application itself cannot be installed here; `slicer_app_stand_in` stands in for what it provides.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6", reason="Qt for Python drives the panel headless")
pytest.importorskip("slicer", reason="the slicer-core wheel provides the MRML scene")

from panel_scenario import Panel, leak_scenario, render  # noqa: E402
from synthetic import smooth_volume  # noqa: E402

from ParomaWatermarkLib.demo import sample_mr_volume  # noqa: E402


@pytest.fixture
def panel(tmp_path):
    return Panel(tmp_path)


def test_the_module_describes_itself(panel):
    import types

    parent = types.SimpleNamespace()
    panel.module.ParomaWatermark(parent)
    assert parent.title == "Paroma Watermark" and parent.categories == ["Utilities"]
    assert "github.com" in parent.helpText and "documentation" in parent.helpText
    assert "101070222" in parent.acknowledgementText


def test_buttons_are_enabled_only_when_their_inputs_are_valid(panel):
    ui = panel.ui
    assert not ui.applyButton.enabled and "Choose a volume, a PAROMA ID, a data scientist ID" in ui.applyButton.toolTip
    assert not ui.checkButton.enabled and ui.checkButton.toolTip == "Choose a volume"
    assert ui.verifyButton.enabled
    volume = panel.add_volume("CT chest", smooth_volume(4, 60, 60))
    panel.choose(ui.inputSelector, volume)
    panel.type_text(ui.paromaIdLineEdit, "P-0001")
    assert not ui.applyButton.enabled and ui.applyButton.toolTip == "Choose a data scientist ID"
    panel.type_text(ui.recipientLineEdit, "DS|42")
    assert not ui.applyButton.enabled and "without '|'" in ui.applyButton.toolTip
    panel.type_text(ui.recipientLineEdit, "DS-42")
    assert ui.applyButton.enabled and ui.applyButton.toolTip.startswith("Watermark the input volume")
    panel.ui.ledgerPathLineEdit.setCurrentPath("")
    assert not ui.applyButton.enabled and "a ledger file" in ui.applyButton.toolTip


def test_watermark_check_and_restore_as_a_user_does(panel):
    import slicer.util

    voxels = sample_mr_volume()[0]
    original = panel.add_volume("MR head", voxels)
    marked = panel.watermark(original, "P-0001", "DS-42")
    assert marked.GetName() == "MR head [watermarked: DS-42]"
    assert marked.GetSpacing() == original.GetSpacing()
    result = panel.ui.watermarkResultLabel.text
    assert "ledger block 1" in result and "of 256 watermark bits embedded" in result and "largest change 1" in result
    assert "PSNR" in result and "2 blocks" in panel.ui.ledgerStatus.text

    assert panel.check(marked).startswith("Leaked copy of P-0001 given to DS-42, block 1: identical to the recorded copy")
    leaked = panel.add_volume("leaked", slicer.util.arrayFromVolume(marked)[[5, 2, 8]] + 1000)
    text = panel.check(leaked)
    assert "Leaked copy of P-0001 given to DS-42, block 1, " in text and "chance match below 1e-" in text
    assert "found in slices 0-2" in text and "Found by watermark in 3 slice(s)" in text
    assert panel.check(original).startswith("No watermark detected")

    restored = panel.restore(marked)
    assert restored.GetName() == "MR head [restored original]"
    assert slicer.util.arrayFromVolume(restored).tobytes() == voxels.tobytes()
    assert "bit for bit" in panel.ui.restoreResultLabel.text
    panel.ui.verifyButton.click()
    assert "ledger intact: 6 blocks" in panel.ui.ledgerStatus.text
    assert panel.stand_in.errors == []


def test_a_chosen_output_volume_receives_the_copy(panel):
    import slicer.util

    original = panel.add_volume("CT chest", smooth_volume(5, 60, 60))
    target = panel.add_volume("copy for DS-1", np.zeros((1, 3, 3), np.int16))
    panel.choose(panel.ui.inputSelector, original)
    panel.choose(panel.ui.outputSelector, target)
    panel.type_text(panel.ui.paromaIdLineEdit, "P-1")
    panel.type_text(panel.ui.recipientLineEdit, "DS-1")
    panel.ui.applyButton.click()
    assert panel.ui.outputSelector.currentNode() is target and target.GetName() == "copy for DS-1"
    assert slicer.util.arrayFromVolume(target).shape == (5, 60, 60)


def test_errors_are_shown_to_the_user_and_nothing_is_recorded(panel):
    tiny = panel.add_volume("thumbnail", np.random.default_rng(0).integers(0, 4000, (1, 20, 20)).astype(np.int16))
    panel.watermark(tiny, "P-1", "DS-1")
    assert len(panel.stand_in.errors) == 1
    assert panel.stand_in.errors[0].startswith("Watermarking failed.") and "of the 47 distinct watermark bits" in panel.stand_in.errors[0]
    assert len(panel.widget.logic.library.ledger) == 1
    panel.choose(panel.ui.restoreInputSelector, tiny)
    panel.ui.restoreButton.click()
    assert "not a watermarked copy recorded in the ledger" in panel.stand_in.errors[1]


def test_cancelling_the_progress_dialog_records_nothing(panel, monkeypatch):
    import qt

    monkeypatch.setattr(qt.QProgressDialog, "wasCanceled", property(lambda self: True))
    volume = panel.add_volume("CT chest", smooth_volume(4, 60, 60))
    panel.watermark(volume, "P-1", "DS-1")
    assert "cancelled after" in panel.stand_in.errors[0] and "nothing was changed" in panel.stand_in.errors[0]
    assert len(panel.widget.logic.library.ledger) == 1


def test_choices_live_in_the_parameter_node_and_no_secret_enters_the_scene(panel, tmp_path):
    volume = panel.add_volume("CT chest", smooth_volume(4, 60, 60))
    panel.watermark(volume, "P-0001", "DS-42")
    parameters = panel.widget.logic.getParameterNode()
    assert parameters.GetNodeReference("InputVolume") is volume
    assert (parameters.GetParameter("ParomaID"), parameters.GetParameter("Recipient")) == ("P-0001", "DS-42")
    assert parameters.GetParameter("LedgerPath") == str(tmp_path / "ledger.db")
    again = panel.module.ParomaWatermarkWidget()
    again.setup()
    assert again.ui.paromaIdLineEdit.text == "P-0001" and again.ui.inputSelector.currentNode() is volume
    scene = panel.stand_in.scene
    scene.SetURL(str(tmp_path / "scene.mrml"))
    scene.Commit()
    saved = (tmp_path / "scene.mrml").read_text()
    assert "P-0001" in saved and "LedgerPath" in saved
    master_key = panel.widget.logic.library.ledger.master_key.hex()
    record = panel.widget.logic.library.record(1)
    secret = panel.widget.logic.library.ledger.key_for(record).hex()
    assert master_key not in saved and secret not in saved


def test_the_self_test_passes(panel):
    panel.module.ParomaWatermarkTest().runTest()


def test_the_console_logic_has_the_library_interface(panel):
    logic = panel.module.ParomaWatermarkLogic()
    volume = panel.add_volume("CT chest", smooth_volume(4, 60, 60))
    marked, record = logic.watermark(volume, paroma_id="P-9", recipient="DS-9")
    assert logic.check(marked).recipient == "DS-9" and logic.verify_ledger().ok


def test_the_screenshot_is_rendered_after_a_leak_is_found(tmp_path):
    import SimpleITK as sitk

    panel = leak_scenario(tmp_path)
    assert "given to DS-42" in panel.ui.checkResultLabel.text
    image = sitk.ReadImage(str(render(panel, tmp_path / "panel.png")))
    assert image.GetSize() == (460, 820)


def test_the_panel_works_against_a_ledger_server_and_keeps_its_token_out_of_the_scene(panel, tmp_path):
    pytest.importorskip("fastapi")
    from server_process import ServerProcess

    folder = tmp_path / "server-side"
    folder.mkdir()
    server = ServerProcess(folder).start()
    try:
        panel.type_text(panel.ui.serverUrlLineEdit, server.url)
        panel.type_text(panel.ui.tokenLineEdit, server.tokens["writer"])
        original = panel.add_volume("MR head", sample_mr_volume()[0])
        marked = panel.watermark(original, "P-0001", "DS-42")
        assert "ledger block 1" in panel.ui.watermarkResultLabel.text and panel.stand_in.errors == []
        panel.type_text(panel.ui.tokenLineEdit, server.tokens["auditor"])
        assert "given to DS-42, block 1" in panel.check(marked)
        panel.type_text(panel.ui.tokenLineEdit, server.tokens["reader"])
        panel.check(original)
        assert "not allowed" in panel.stand_in.errors[-1] and "another role" in panel.stand_in.errors[-1]
        assert server.store().verify().ok and len(server.store()) == 3
        parameters = panel.widget.logic.getParameterNode()
        assert parameters.GetParameter("ServerURL") == server.url
        scene = panel.stand_in.scene
        scene.SetURL(str(tmp_path / "scene.mrml"))
        scene.Commit()
        saved = (tmp_path / "scene.mrml").read_text()
        assert server.url in saved and not any(token in saved for token in server.tokens.values())
    finally:
        server.stop()
