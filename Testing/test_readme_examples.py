"""The README's Python examples, run as written, so that they cannot go stale.

The Slicer console example needs `slicer.mrmlScene`, which the Slicer application provides; here a stand-in sets it
to a real MRML scene from the slicer-core wheel holding an "MRHead" volume node.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_readme_example_runs(number, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAROMA_LEDGER_KEY", raising=False)
    code = EXAMPLES[number]
    if "slicer.util.getNode" in code:
        _stand_in_for_the_slicer_application(monkeypatch)
    if "LocalLedger(\"ledger.db\")" in code:
        exec(EXAMPLES[0], {"__name__": "readme"})
    exec(compile(code, f"README example {number + 1}", "exec"), {"__name__": "readme"})


def _stand_in_for_the_slicer_application(monkeypatch):
    slicer = pytest.importorskip("slicer")
    import slicer.util

    from ParomaWatermarkLib.demo import sample_mr_volume

    scene = slicer.vtkMRMLScene()
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "MRHead")
    slicer.util.updateVolumeFromArray(node, sample_mr_volume()[0])
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
