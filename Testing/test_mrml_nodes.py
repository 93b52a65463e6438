"""The MRML node path on real nodes from the slicer-core wheel: scene, volume nodes, NRRD through the storage node."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="the slicer-core wheel provides MRML outside the Slicer application")
import slicer.util  # noqa: E402

from ParomaWatermarkLib import ParomaWatermarkLogic, VolumeError  # noqa: E402
from ParomaWatermarkLib.demo import sample_mr_volume  # noqa: E402


@pytest.fixture
def scene_and_node():
    scene = slicer.vtkMRMLScene()
    volume, _ = sample_mr_volume()
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "MR head")
    slicer.util.updateVolumeFromArray(node, volume)
    node.SetSpacing(0.9, 0.8, 3.5)
    node.SetOrigin(-40.0, 25.5, 12.0)
    node.SetIJKToRASDirections(-1, 0, 0, 0, -1, 0, 0, 0, 1)
    node.CreateDefaultDisplayNodes()
    return scene, node, volume


def test_watermark_and_restore_give_new_nodes_with_the_same_geometry(tmp_path, scene_and_node):
    scene, node, volume = scene_and_node
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    marked, record = logic.watermark(node, paroma_id="P-0001", recipient="DS-42")
    assert marked.GetName() == "MR head [watermarked: DS-42]" and marked.GetScene() is scene
    assert marked.GetSpacing() == node.GetSpacing() and marked.GetOrigin() == node.GetOrigin()
    assert _directions(marked) == _directions(node) == [[-1, 0, 0], [0, -1, 0], [0, 0, 1]]
    assert record.block.payload["geometry"]["spacing"] == ["0.9", "0.8", "3.5"]
    assert record.block.payload["source"] == "MR head"
    assert np.abs(slicer.util.arrayFromVolume(marked).astype(int) - volume).max() == 1
    assert np.array_equal(slicer.util.arrayFromVolume(node), volume), "the input node must not change"
    restored = logic.restore(marked)
    assert restored.GetName() == "MR head [restored original]"
    assert slicer.util.arrayFromVolume(restored).tobytes() == volume.tobytes()


def test_a_copy_saved_as_nrrd_and_reloaded_is_traced(tmp_path, scene_and_node):
    scene, node, _ = scene_and_node
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    marked, _ = logic.watermark(node, "P-0001", "DS-7")
    logic.watermark(node, "P-0001", "DS-8")
    storage = marked.CreateDefaultStorageNode()
    storage.SetFileName(str(tmp_path / "leaked.nrrd"))
    assert storage.WriteData(marked)
    reloaded = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "found on a USB stick")
    reader = reloaded.CreateDefaultStorageNode()
    reader.SetFileName(str(tmp_path / "leaked.nrrd"))
    assert reader.ReadData(reloaded)
    assert reloaded.GetSpacing() == pytest.approx(node.GetSpacing())
    finding = logic.check(reloaded)
    assert (finding.detected, finding.recipient, finding.method) == (True, "DS-7", "hash")
    slicer.util.updateVolumeFromArray(reloaded, slicer.util.arrayFromVolume(reloaded)[4:9] + 3)
    finding = logic.check(reloaded)
    assert (finding.detected, finding.recipient, finding.method) == (True, "DS-7", "watermark")


@pytest.mark.parametrize(
    ("class_name", "expected"),
    [
        ("vtkMRMLLabelMapVolumeNode", "changing a label by 1 changes its meaning"),
        ("vtkMRMLVectorVolumeNode", "vector (RGB) volumes cannot be watermarked"),
        ("vtkMRMLSegmentationNode", "changing a label by 1 changes its meaning"),
        ("vtkMRMLModelNode", "not a scalar volume"),
    ],
)
def test_label_maps_vectors_and_segmentations_are_refused(tmp_path, scene_and_node, class_name, expected):
    scene, _, volume = scene_and_node
    node = scene.AddNewNodeByClass(class_name, "other")
    if node.IsA("vtkMRMLVolumeNode"):
        slicer.util.updateVolumeFromArray(node, volume if class_name != "vtkMRMLVectorVolumeNode" else np.stack([volume] * 3, -1))
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    with pytest.raises(VolumeError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        logic.watermark(node, "P", "D")
    assert len(logic.ledger) == 1


def _directions(node) -> list[list[float]]:
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASDirectionMatrix(matrix)
    return [[matrix.GetElement(r, c) for c in range(3)] for r in range(3)]
