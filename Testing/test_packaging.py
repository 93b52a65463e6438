"""The extension's build files list what the repository holds, so a Slicer build ships every part of the library."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "ParomaWatermark"


def test_module_cmakelists_lists_every_script_and_resource():
    text = (MODULE / "CMakeLists.txt").read_text()
    listed = set(re.findall(r"\$\{MODULE_NAME\}(Lib/[\w/]+\.py)", text))
    present = {f"Lib/{p.relative_to(MODULE / 'ParomaWatermarkLib').as_posix()}" for p in MODULE.rglob("ParomaWatermarkLib/**/*.py")}
    assert listed == present
    resources = set(re.findall(r"(Resources/[\w/]+\.\w+)", text.replace("${MODULE_NAME}", "ParomaWatermark")))
    assert resources == {p.relative_to(MODULE).as_posix() for p in (MODULE / "Resources").rglob("*") if p.is_file()}
    assert "${MODULE_NAME}.py" in text and "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text


def test_s4ext_has_every_field_the_extension_index_uses():
    fields = dict(
        line.split(" ", 1) for line in (ROOT / "ParomaWatermark.s4ext").read_text().splitlines() if line and not line.startswith("#")
    )
    for name in ("scm", "scmurl", "scmrevision", "depends", "build_subdirectory", "homepage", "contributors",
                 "category", "iconurl", "status", "description", "screenshoturls", "enabled"):
        assert fields.get(name, "").strip(), f"{name} is missing from ParomaWatermark.s4ext"


def test_icon_is_128_pixels_and_regenerated_by_its_script():
    import importlib.util

    import numpy as np
    import SimpleITK as sitk

    spec = importlib.util.spec_from_file_location("make_icon", ROOT / "Resources" / "make_icon.py")
    make_icon = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icon)
    for target in make_icon.TARGETS:
        committed = sitk.GetArrayFromImage(sitk.ReadImage(str(target)))
        assert committed.shape == (128, 128, 4)
        assert np.array_equal(committed, make_icon.draw())
