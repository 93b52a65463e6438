"""The panel driven as a user drives it, on the stand-in for the Slicer application: shared by the tests and by the
script that renders the README's screenshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ParomaWatermarkLib.demo import sample_mr_volume


class Panel:
    """The module's real widget and logic, on a real MRML scene, under the stand-in for the Slicer application."""

    def __init__(self, folder: Path) -> None:
        from slicer_app_stand_in import StandIn

        self.stand_in = StandIn(folder)
        self.module = self.stand_in.module()
        self.widget = self.module.ParomaWatermarkWidget()
        self.widget.setup()
        self.ui = self.widget.ui
        self.ui.ledgerPathLineEdit.setCurrentPath(str(folder / "ledger.db"))

    def add_volume(self, name: str, voxels: np.ndarray):
        import slicer.util

        node = self.stand_in.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
        slicer.util.updateVolumeFromArray(node, voxels)
        node.SetSpacing(0.9, 0.9, 3.0)
        return node

    @staticmethod
    def choose(selector, node) -> None:
        selector.setCurrentIndex(selector.findData(node.GetID()))

    @staticmethod
    def type_text(line_edit, text: str) -> None:
        line_edit.clear()
        line_edit.insert(text)

    def watermark(self, volume, paroma_id: str, recipient: str):
        self.choose(self.ui.inputSelector, volume)
        self.type_text(self.ui.paromaIdLineEdit, paroma_id)
        self.type_text(self.ui.recipientLineEdit, recipient)
        self.ui.outputSelector.setCurrentIndex(0)
        self.ui.applyButton.click()
        return self.ui.outputSelector.currentNode()

    def check(self, volume) -> str:
        self.choose(self.ui.checkSelector, volume)
        self.ui.checkButton.click()
        return self.ui.checkResultLabel.text

    def restore(self, marked):
        self.choose(self.ui.restoreInputSelector, marked)
        self.ui.restoreOutputSelector.setCurrentIndex(0)
        self.ui.restoreButton.click()
        return self.ui.restoreOutputSelector.currentNode()


def leak_scenario(folder: Path) -> Panel:
    """A real MR volume watermarked for two data scientists, then a leaked part of one copy checked."""
    import slicer.util

    panel = Panel(folder)
    original = panel.add_volume("MR head", sample_mr_volume()[0])
    panel.watermark(original, "P-0001", "DS-17")
    marked = panel.watermark(original, "P-0001", "DS-42")
    leaked = panel.add_volume("found on a USB stick", slicer.util.arrayFromVolume(marked)[[9, 4, 6, 7]] + 1000)
    panel.check(leaked)
    panel.choose(panel.ui.restoreInputSelector, marked)
    panel.ui.restoreCollapsibleButton.collapsed = False
    return panel


def render(panel: Panel, target: Path) -> Path:
    """The panel as a PNG image."""
    widget = panel.widget.parent
    widget.resize(460, 820)
    widget.show()
    panel.stand_in.application.processEvents()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(target)):
        raise OSError(f"could not write {target}")
    return target


if __name__ == "__main__":
    import sys
    import tempfile

    destination = Path(__file__).resolve().parents[1] / "Resources" / "Screenshots" / "panel.png"
    folder = Path(tempfile.mkdtemp(prefix="paroma-panel-")) / "ParomaWatermark"
    folder.mkdir()
    print(render(leak_scenario(folder), destination))
    sys.exit(0)
