"""Real DICOM files that pydicom ships, and series and multi-frame files built from the real CT slice among them."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def sample(name: str) -> Path:
    return Path(get_testdata_file(name, download=False))


def real_ct() -> pydicom.Dataset:
    """pydicom's real 512x512 CT slice (14 bits stored, JPEG 2000), decoded to plain pixel data."""
    dataset = pydicom.dcmread(sample("693_J2KI.dcm"))
    dataset.decompress()
    return dataset


def ct_series(folder: Path, slices: int = 4) -> tuple[Path, np.ndarray]:
    """A CT series folder of `slices` files built from the real CT slice (each shifted a little), files named so that
    their alphabetical order is not their anatomical order. Returns the folder and the volume in anatomical order."""
    folder.mkdir(parents=True, exist_ok=True)
    base = real_ct()
    series_uid = generate_uid()
    planes = []
    for position in range(slices):
        dataset = copy.deepcopy(base)
        plane = np.clip(np.roll(base.pixel_array, 3 * position, axis=1) + position, -(2**13), 2**13 - 1).astype(base.pixel_array.dtype)
        dataset.PixelData = plane.tobytes()
        dataset.SeriesInstanceUID = series_uid
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        dataset.ImagePositionPatient = [0, 0, 2.5 * position]
        dataset.InstanceNumber = position + 1
        dataset.save_as(folder / f"IMG{(7 * position) % slices:04d}_{slices - position}", enforce_file_format=True)
        planes.append(plane)
    return folder, np.stack(planes)


def ct_multiframe(path: Path, frames: int = 3) -> np.ndarray:
    """A multi-frame file of `frames` frames built from the real CT slice."""
    dataset = real_ct()
    planes = np.stack([np.clip(np.roll(dataset.pixel_array, 5 * f, axis=0) + f, -(2**13), 2**13 - 1) for f in range(frames)])
    planes = planes.astype(dataset.pixel_array.dtype)
    dataset.NumberOfFrames = frames
    dataset.PixelData = planes.tobytes()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.save_as(path, enforce_file_format=True)
    return planes
