"""Volumes in and out of the engine: files (DICOM, NRRD, NIfTI, MetaImage, NumPy) and MRML volume nodes."""

from .files import VolumeFile, read_volume, write_volume
from .mrml import check_output_node, is_mrml_node, node_array, node_geometry, node_like

__all__ = [
    "VolumeFile",
    "check_output_node",
    "is_mrml_node",
    "node_array",
    "node_geometry",
    "node_like",
    "read_volume",
    "write_volume",
]
