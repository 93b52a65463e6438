"""Volumes in and out of the engine: MRML volume nodes (inside Slicer, or with the slicer-core wheel)."""

from .mrml import is_mrml_node, node_array, node_geometry, node_like

__all__ = ["is_mrml_node", "node_array", "node_geometry", "node_like"]
