"""Which voxel arrays the engine accepts, and their integer value range.

The engine works on a native-endian integer array of slices (n, rows, columns). This module turns what a caller hands in
into that form, refuses what cannot be watermarked reversibly with a message that says what to do, and turns the result
back into the caller's own type, shape and byte order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import VolumeError

SUPPORTED_INTEGER_TYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32")

# Whole numbers a float type holds exactly, and the integer type the engine computes them in.
_FLOAT_LIMITS = {
    np.dtype(np.float16): (-(2**11), 2**11, np.int16),
    np.dtype(np.float32): (-(2**24), 2**24, np.int32),
    np.dtype(np.float64): (np.iinfo(np.int32).min, np.iinfo(np.int32).max, np.int32),
}


@dataclass(frozen=True)
class VoxelFormat:
    """How a caller's array maps onto the engine's working array."""

    dtype: np.dtype
    """The caller's type, byte order included: results come back in it."""
    work_dtype: np.dtype
    """The native integer type the engine computes in."""
    low: int
    """Smallest allowed value (the type's, or a narrower declared range)."""
    high: int
    """Largest allowed value: a voxel here cannot be raised, which is the overflow case."""
    ndim: int
    """2 for a single slice, 3 for a stack of slices along axis 0."""

    @property
    def span(self) -> int:
        """Width of the value range, the peak signal of the PSNR."""
        return self.high - self.low


def type_range(dtype: np.dtype) -> tuple[int, int]:
    """The integer values an accepted type can hold exactly."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.newbyteorder("=") in _FLOAT_LIMITS:
        low, high, _ = _FLOAT_LIMITS[dtype.newbyteorder("=")]
        return int(low), int(high)
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def voxel_format(volume: np.ndarray, value_range: tuple[int, int] | None = None) -> VoxelFormat:
    """Check that `volume` can carry a reversible watermark and describe its format.

    Only the type and shape are looked at here; `working_chunk` checks the values.
    """
    if not isinstance(volume, np.ndarray):
        raise VolumeError(
            f"expected a numpy array of voxels, got {type(volume).__name__}; "
            "for a Slicer volume node use slicer.util.arrayFromVolume(node) or pass the node to ParomaWatermarkLogic"
        )
    _check_shape(volume.shape)
    dtype = volume.dtype
    native = dtype.newbyteorder("=")
    if dtype.kind == "b":
        raise VolumeError(
            "boolean arrays are masks, not images: a mask cannot be watermarked (a changed voxel changes its meaning)"
        )
    if dtype.kind == "c":
        raise VolumeError("complex-valued volumes are not supported: watermark the magnitude image as integers instead")
    if dtype.kind == "f":
        if native not in _FLOAT_LIMITS:
            raise VolumeError(f"{dtype} volumes are not supported: convert to an integer type such as int16 first")
        work = np.dtype(_FLOAT_LIMITS[native][2])
    elif dtype.kind in "iu":
        if native.name not in SUPPORTED_INTEGER_TYPES:
            raise VolumeError(
                f"{native.name} volumes are not supported (supported: {', '.join(SUPPORTED_INTEGER_TYPES)}); "
                "if the values fit, convert first, e.g. volume.astype(numpy.int32)"
            )
        work = native
    else:
        raise VolumeError(f"arrays of {dtype} cannot be watermarked: expected integer voxels (e.g. int16 for CT)")
    low, high = _checked_range(dtype, value_range)
    return VoxelFormat(dtype=dtype, work_dtype=work, low=low, high=high, ndim=volume.ndim)


def as_stack(volume: np.ndarray) -> np.ndarray:
    """A 2D slice as a stack of one slice; a 3D volume as it is (both views)."""
    return volume.reshape((1,) + volume.shape) if volume.ndim == 2 else volume


def working_chunk(chunk: np.ndarray, fmt: VoxelFormat) -> np.ndarray:
    """Slices of the caller's volume as native integers (a view when no conversion is needed), values checked.

    Called on one chunk of slices at a time, so converting a big-endian or float volume never holds a second copy of
    the whole volume.
    """
    if fmt.dtype.kind == "f":
        _check_whole_numbers(chunk, fmt)
        return chunk.astype(fmt.work_dtype)
    if (fmt.low, fmt.high) != type_range(fmt.dtype):
        _check_values_in_range(chunk, fmt)
    return chunk if fmt.dtype == fmt.work_dtype else chunk.astype(fmt.work_dtype)


_COLOUR_IMAGE_MIN_SIDE = 16
"""A 3D array of at least 16x16 with 3 or 4 columns is taken for a colour image: no scanner makes such a volume."""


def _check_shape(shape: tuple[int, ...]) -> None:
    ndim = len(shape)
    if ndim == 3 and shape[-1] in (3, 4) and min(shape[:2]) >= _COLOUR_IMAGE_MIN_SIDE:
        raise VolumeError(
            f"an array of shape {shape} looks like a colour (RGB/RGBA) image: only scalar (grey-level) volumes can be "
            "watermarked. Convert a colour image to grey levels; for a volume whose slices lie along the last axis "
            "(nibabel's order), pass numpy.moveaxis(volume, -1, 0) so that slices lie along axis 0"
        )
    if ndim == 4:
        hint = " (the last axis looks like RGB components)" if shape[-1] in (3, 4) else ""
        raise VolumeError(
            f"4D arrays{hint} are not supported: pass one 3D volume (slices, rows, columns) at a time, "
            "e.g. each time point of a series separately"
        )
    if ndim not in (2, 3):
        raise VolumeError(f"expected a 2D slice or a 3D stack of slices, got an array with {ndim} dimensions")
    if 0 in shape:
        raise VolumeError(f"the volume is empty (shape {shape})")
    if shape[-1] < 3 or shape[-2] < 3:
        raise VolumeError(
            f"slices of {shape[-2]}x{shape[-1]} voxels are too small: the watermark needs slices of at least 3x3"
        )


def _checked_range(dtype: np.dtype, value_range: tuple[int, int] | None) -> tuple[int, int]:
    type_low, type_high = type_range(dtype)
    if value_range is None:
        return type_low, type_high
    try:
        low, high = (int(v) for v in value_range)
    except (TypeError, ValueError):
        raise VolumeError(f"value_range must be a pair of integers (low, high), got {value_range!r}") from None
    if low >= high:
        raise VolumeError(f"value_range ({low}, {high}) is empty: the low end must be below the high end")
    if low < type_low or high > type_high:
        raise VolumeError(
            f"value_range ({low}, {high}) does not fit in {dtype}, whose whole numbers span {type_low}..{type_high}"
        )
    return low, high


def _check_values_in_range(stack: np.ndarray, fmt: VoxelFormat) -> None:
    vmin, vmax = int(stack.min()), int(stack.max())
    if vmin < fmt.low or vmax > fmt.high:
        raise VolumeError(
            f"voxel values reach {vmin if vmin < fmt.low else vmax}, outside the declared range {fmt.low}..{fmt.high}: "
            "check the value range (for DICOM, Bits Stored and Pixel Representation) or leave it unset"
        )


def _check_whole_numbers(stack: np.ndarray, fmt: VoxelFormat) -> None:
    if not np.isfinite(stack).all():
        raise VolumeError("the volume holds NaN or infinite values: only whole-number voxels can be watermarked")
    fractional = np.flatnonzero(stack != np.floor(stack))
    if fractional.size:
        where = tuple(int(i) for i in np.unravel_index(fractional[0], stack.shape))
        raise VolumeError(
            f"float voxels must be whole numbers to be watermarked reversibly, but some are not "
            f"(e.g. {float(stack[where])!r}); use the integer data the scanner stored "
            "(e.g. DICOM stored values), not rescaled or resampled intensities"
        )
    _check_values_in_range(stack, fmt)
