"""MRML volume nodes <-> numpy arrays, for the Slicer module and the console.

Nothing here imports Slicer at module level: `slicer.util` is imported only when a node is actually handed in, so the
library stays usable without Slicer. Outside the Slicer application the `slicer-core` wheel provides real MRML.
"""

from __future__ import annotations

import numpy as np

from ..errors import VolumeError
from ..ledger.blocks import decimal_text

_REFUSED = {
    "vtkMRMLLabelMapVolumeNode": "label map volumes cannot be watermarked: changing a label by 1 changes its meaning",
    "vtkMRMLSegmentationNode": "segmentations cannot be watermarked: changing a label by 1 changes its meaning",
    "vtkMRMLVectorVolumeNode": "vector (RGB) volumes cannot be watermarked: convert the volume to a scalar volume first",
    "vtkMRMLDiffusionTensorVolumeNode": "diffusion tensor volumes cannot be watermarked: use a scalar volume",
    "vtkMRMLDiffusionWeightedVolumeNode": "diffusion-weighted volumes cannot be watermarked: use a scalar volume",
}


def is_mrml_node(value: object) -> bool:
    """True for any MRML node (a VTK object whose class is vtkMRML...)."""
    is_a = getattr(value, "IsA", None)
    return callable(is_a) and is_a("vtkMRMLNode")


def node_array(node) -> np.ndarray:
    """The voxels of a scalar volume node as (slices, rows, columns); refuses label maps, segmentations and vectors."""
    for class_name, reason in _REFUSED.items():
        if node.IsA(class_name):
            raise VolumeError(f"{node.GetName()}: {reason}")
    if not node.IsA("vtkMRMLScalarVolumeNode"):
        raise VolumeError(f"{node.GetName()} is a {node.GetClassName()}, not a scalar volume: choose a CT or MR volume")
    image = node.GetImageData()
    if image is None or image.GetPointData().GetScalars() is None:
        raise VolumeError(f"{node.GetName()} holds no voxels yet: load or create its image first")
    if image.GetNumberOfScalarComponents() != 1:
        raise VolumeError(f"{node.GetName()} has {image.GetNumberOfScalarComponents()} components per voxel: only scalar volumes can be watermarked")
    import slicer.util

    return slicer.util.arrayFromVolume(node)


def node_geometry(node) -> dict:
    """Spacing, origin and IJK-to-RAS directions of a volume node, as a ledger record keeps them (decimal text)."""
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASDirectionMatrix(matrix)
    return {
        "spacing": [decimal_text(v) for v in node.GetSpacing()],
        "origin": [decimal_text(v) for v in node.GetOrigin()],
        "directions": [[decimal_text(matrix.GetElement(r, c)) for c in range(3)] for r in range(3)],
    }


def check_output_node(template, into) -> None:
    """Refuse an output node that cannot take the result: the input itself, or not a scalar volume."""
    if into is None:
        return
    if into is template:
        raise VolumeError(f"the output volume cannot be the input volume {template.GetName()}: choose another output")
    if not into.IsA("vtkMRMLScalarVolumeNode") or into.IsA("vtkMRMLLabelMapVolumeNode"):
        raise VolumeError(f"the output {into.GetName()} is not a scalar volume: choose a scalar volume or none")


def node_like(template, array: np.ndarray, name: str, into=None):
    """A scalar volume node with the template's geometry and parent transform, holding `array`.

    `into` is an existing scalar volume node to fill (it keeps its name); without it a new node named `name` is added
    to the template's scene.
    """
    import slicer.util

    scene = template.GetScene()
    if scene is None:
        raise VolumeError(f"{template.GetName()} is not in a scene: add it to the scene first")
    check_output_node(template, into)
    node = into or scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", scene.GenerateUniqueName(name))
    node.CopyOrientation(template)
    node.SetAndObserveTransformNodeID(template.GetTransformNodeID())
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(array))
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
        source_display, display = template.GetDisplayNode(), node.GetDisplayNode()
        if source_display is not None and display is not None:
            display.CopyContent(source_display)
    return node
