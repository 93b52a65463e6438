"""Volume files in and out: DICOM (a file, a multi-frame file, or a series folder), NRRD, NIfTI, MetaImage, NumPy.

Volumes come out as (slices, rows, columns) arrays of the values the file stores, with the value range the file
allows (DICOM Bits Stored), and go back into the same format keeping the geometry. A watermarked DICOM copy keeps every
attribute of its source except new SOP Instance UIDs and a new Series Instance UID, Image Type marked DERIVED, and a
Derivation Description that says a reversible watermark was applied; it is written uncompressed.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import VolumeError
from ..ledger.blocks import decimal_text

DICOM = "DICOM"
NRRD = "NRRD"
NIFTI = "NIfTI"
METAIMAGE = "MetaImage"
NUMPY = "NumPy"
_ITK_SUFFIXES = {".nrrd": NRRD, ".nhdr": NRRD, ".nii": NIFTI, ".nii.gz": NIFTI, ".mha": METAIMAGE, ".mhd": METAIMAGE}
_DICOM_SUFFIXES = {".dcm", ".dicom", ".ima", ""}
_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
_NIFTI_INTENT_LABEL = "1002"


@dataclass
class VolumeFile:
    """A volume read from a file or a DICOM series folder, with what writing a copy of it needs."""

    path: Path
    format: str
    array: np.ndarray
    """The stored voxel values: (slices, rows, columns), or (rows, columns) for a single-slice file."""
    value_range: tuple[int, int] | None = None
    """The values the file allows, when narrower than the array's type (DICOM Bits Stored)."""
    geometry: dict = field(default_factory=dict)
    """Spacing, origin and directions as decimal text, for the ledger record."""
    notes: list[str] = field(default_factory=list)
    """What a user should know about the reading, e.g. that compressed pixel data was decoded."""
    datasets: list | None = field(default=None, repr=False)
    files: list[Path] | None = field(default=None, repr=False)
    image: object | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.name


def volume_format(path: str | os.PathLike) -> str:
    """The format of a path, by its extension or, for DICOM, by its content."""
    path = Path(path)
    if path.is_dir():
        return DICOM
    name = path.name.lower()
    for suffix, kind in _ITK_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    if name.endswith(".npy"):
        return NUMPY
    if path.suffix.lower() in _DICOM_SUFFIXES or _has_dicom_preamble(path):
        return DICOM
    raise VolumeError(
        f"{path}: unknown volume format; use DICOM, NRRD (.nrrd), NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd) or NumPy (.npy)"
    )


def read_volume(path: str | os.PathLike) -> VolumeFile:
    """Read a volume file (or a DICOM series folder); refuses colour images, segmentations and unreadable files."""
    path = Path(path)
    if not path.exists():
        raise VolumeError(f"{path} does not exist")
    kind = volume_format(path)
    if kind == DICOM:
        return _read_dicom(path)
    if kind == NUMPY:
        return _read_numpy(path)
    return _read_itk(path, kind)


def write_volume(path: str | os.PathLike, array: np.ndarray, like: VolumeFile, derivation: str | None = None) -> Path:
    """Write `array` as a copy of `like` (same format and geometry) at `path`; for DICOM, mark it derived.

    `derivation` says what was done to the pixels (DICOM Derivation Description); None keeps the source's attributes.
    """
    path = Path(path)
    if path.exists() and path.resolve() == like.path.resolve():
        raise VolumeError(f"{path} is the input itself: write the copy to another path")
    if array.shape != like.array.shape:
        raise VolumeError(f"cannot write a {array.shape} array as a copy of {like.path} ({like.array.shape})")
    if like.format == DICOM:
        return _write_dicom(path, array, like, derivation)
    if like.format == NUMPY:
        np.save(path, array, allow_pickle=False)
        return path
    return _write_itk(path, array, like)


def check_target(target: str | os.PathLike, like: VolumeFile) -> None:
    """Refuse, before any work is done, an output path that is the input or that names another format."""
    target = Path(target)
    if target.exists() and target.resolve() == like.path.resolve():
        raise VolumeError(f"{target} is the input itself: write the copy to another path")
    if like.path.is_dir():
        if target.exists() and not target.is_dir():
            raise VolumeError(f"{like.path} is a DICOM series folder, so its copy is a folder too, but {target} is a file")
        return
    try:
        kind = volume_format(target) if not target.is_dir() else None
    except VolumeError:
        kind = None
    if kind != like.format:
        raise VolumeError(f"the copy of a {like.format} file is written as {like.format}: give {target} a matching extension")


def is_dicom_series_folder(path: str | os.PathLike) -> bool:
    """True for a folder whose files are DICOM files of one series."""
    path = Path(path)
    files = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")] if path.is_dir() else []
    if not files or not all(_has_dicom_preamble(p) or p.suffix.lower() in {".dcm", ".dicom", ".ima"} for p in files):
        return False
    import pydicom

    series = set()
    for file in files:
        try:
            series.add(pydicom.dcmread(file, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"]).get("SeriesInstanceUID"))
        except Exception:
            return False
    return len(series) == 1


# DICOM


def _read_dicom(path: Path) -> VolumeFile:
    import pydicom
    from pydicom.errors import InvalidDicomError

    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
    if not files:
        raise VolumeError(f"{path} is an empty folder: give a DICOM file, a series folder or a volume file")
    datasets = []
    for file in files:
        try:
            datasets.append(pydicom.dcmread(file, force=True))
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            raise VolumeError(f"{file}: not a readable DICOM file ({exc}); it may be truncated or corrupt") from None
    for file, dataset in zip(files, datasets):
        _check_dicom_image(file, dataset)
    if len({d.SeriesInstanceUID for d in datasets if "SeriesInstanceUID" in d}) > 1:
        raise VolumeError(f"{path} holds several DICOM series: give the folder of one series (one volume per series)")
    order = _slice_order(datasets)
    datasets = [datasets[i] for i in order]
    files = [files[i] for i in order]
    arrays = [_dicom_pixels(file, dataset) for file, dataset in zip(files, datasets)]
    shapes = {a.shape[-2:] for a in arrays}
    if len(shapes) > 1 or len({a.dtype for a in arrays}) > 1:
        raise VolumeError(f"{path}: the slices differ in size or type ({sorted(shapes)}); give one series of equal slices")
    first = datasets[0]
    if len(datasets) == 1:
        array = arrays[0]
    else:
        array = np.stack([a if a.ndim == 2 else a[0] for a in arrays]) if all(a.ndim == 2 for a in arrays) else None
        if array is None:
            raise VolumeError(f"{path} mixes multi-frame files with single slices: give one kind")
    bits = int(first.get("BitsStored", 8 * array.dtype.itemsize))
    signed = int(first.get("PixelRepresentation", 0)) == 1
    value_range = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if bits >= 8 * array.dtype.itemsize:
        value_range = None
    notes = []
    syntax = first.file_meta.get("TransferSyntaxUID") if hasattr(first, "file_meta") else None
    if syntax is not None and syntax.is_compressed:
        notes.append(f"decoded {syntax.name} pixel data; the copy is written uncompressed (Explicit VR Little Endian)")
    elif syntax is not None and not syntax.is_little_endian:
        notes.append("read Big Endian pixel data; the copy is written as Explicit VR Little Endian")
    return VolumeFile(
        path=path,
        format=DICOM,
        array=array,
        value_range=value_range,
        geometry=_dicom_geometry(first),
        notes=notes,
        datasets=datasets,
        files=files,
    )


def _check_dicom_image(file: Path, dataset) -> None:
    modality = dataset.get("Modality", "")
    if modality == "SEG" or dataset.get("SOPClassUID") == _SEGMENTATION_STORAGE:
        raise VolumeError(f"{file} is a DICOM segmentation: segmentations cannot be watermarked (a changed label changes its meaning)")
    if "PixelData" not in dataset:
        what = "float pixel data" if ("FloatPixelData" in dataset or "DoubleFloatPixelData" in dataset) else "no image pixels"
        raise VolumeError(f"{file} holds {what} ({modality or 'no modality'}): only images with integer pixels can be watermarked")
    samples = int(dataset.get("SamplesPerPixel", 1))
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise VolumeError(f"{file} is a colour image ({photometric}): only grey-level (MONOCHROME) images can be watermarked")


def _dicom_pixels(file: Path, dataset) -> np.ndarray:
    try:
        return dataset.pixel_array
    except Exception as exc:
        syntax = dataset.file_meta.get("TransferSyntaxUID") if hasattr(dataset, "file_meta") else None
        if syntax is not None and syntax.is_compressed and "truncat" not in str(exc).lower():
            raise VolumeError(
                f"{file}: cannot decode its {syntax.name} pixel data ({str(exc).splitlines()[0]}); install the decoders with "
                "'pip install pylibjpeg pylibjpeg-openjpeg pylibjpeg-libjpeg' (or GDCM) and try again"
            ) from None
        raise VolumeError(f"{file}: the pixel data cannot be read ({str(exc).splitlines()[0]}); the file may be truncated") from None


def _slice_order(datasets: list) -> list[int]:
    """Slices in the order of their position along the slice normal; instance number when positions are missing."""
    if len(datasets) == 1:
        return [0]
    try:
        orientation = np.array(datasets[0].ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        positions = [float(np.dot(normal, np.array(d.ImagePositionPatient, dtype=float))) for d in datasets]
        return sorted(range(len(datasets)), key=lambda i: positions[i])
    except (AttributeError, TypeError, ValueError):
        return sorted(range(len(datasets)), key=lambda i: int(datasets[i].get("InstanceNumber", i) or i))


def _dicom_geometry(dataset) -> dict:
    geometry = {}
    if "PixelSpacing" in dataset:
        spacing = [float(v) for v in dataset.PixelSpacing][::-1]
        thickness = dataset.get("SpacingBetweenSlices") or dataset.get("SliceThickness")
        geometry["spacing"] = [decimal_text(v) for v in spacing + ([float(thickness)] if thickness else [])]
    if "ImagePositionPatient" in dataset:
        geometry["origin"] = [decimal_text(float(v)) for v in dataset.ImagePositionPatient]
    if "ImageOrientationPatient" in dataset:
        geometry["orientation"] = [decimal_text(float(v)) for v in dataset.ImageOrientationPatient]
    return geometry


def _write_dicom(path: Path, array: np.ndarray, like: VolumeFile, derivation: str | None) -> Path:
    from pydicom import dcmwrite
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    series_uid = generate_uid()
    stack = array if array.ndim == 3 and len(like.datasets) > 1 else [array]
    if like.path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        targets = [path / file.name for file in like.files]
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        targets = [path]
    for dataset, pixels, target in zip(like.datasets, stack, targets):
        out = copy.deepcopy(dataset)
        out.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        out.PixelData = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<")).tobytes()
        out["PixelData"].VR = "OB" if int(out.get("BitsAllocated", 16)) <= 8 else "OW"
        out["PixelData"].is_undefined_length = False
        if derivation is not None:
            uid = generate_uid()
            out.SOPInstanceUID = uid
            out.file_meta.MediaStorageSOPInstanceUID = uid
            out.SeriesInstanceUID = series_uid
            image_type = list(out.get("ImageType", ["ORIGINAL", "PRIMARY"]))
            out.ImageType = ["DERIVED", "SECONDARY"] + image_type[2:]
            out.DerivationDescription = derivation[:1024]
        dcmwrite(target, out, enforce_file_format=True)
    return path


# SimpleITK formats and NumPy


def _read_itk(path: Path, kind: str) -> VolumeFile:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise VolumeError(f"{path}: not a readable {kind} file ({str(exc).strip().splitlines()[-1]}); it may be truncated or corrupt") from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise VolumeError(f"{path} has {image.GetNumberOfComponentsPerPixel()} values per voxel (colour or vector): only scalar volumes can be watermarked")
    keys = set(image.GetMetaDataKeys())
    if any(k.startswith("Segment") and k.endswith("_ID") for k in keys) or (
        "intent_code" in keys and image.GetMetaData("intent_code") == _NIFTI_INTENT_LABEL
    ):
        raise VolumeError(f"{path} is a segmentation (label map): a changed label changes its meaning, so it is not watermarked")
    if image.GetDimension() not in (2, 3):
        raise VolumeError(f"{path} is a {image.GetDimension()}D image: give one 2D or 3D volume")
    geometry = {
        "spacing": [decimal_text(v) for v in image.GetSpacing()],
        "origin": [decimal_text(v) for v in image.GetOrigin()],
        "directions": [decimal_text(v) for v in image.GetDirection()],
    }
    return VolumeFile(path=path, format=kind, array=sitk.GetArrayFromImage(image), geometry=geometry, image=image)


def _write_itk(path: Path, array: np.ndarray, like: VolumeFile) -> Path:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.CopyInformation(like.image)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=str(path).lower().endswith(".gz"))
    return path


def _read_numpy(path: Path) -> VolumeFile:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise VolumeError(f"{path}: not a readable NumPy file ({exc}); it may be truncated or corrupt") from None
    if not isinstance(array, np.ndarray):
        raise VolumeError(f"{path} holds several arrays (.npz): save one volume with numpy.save")
    return VolumeFile(path=path, format=NUMPY, array=array)


def _has_dicom_preamble(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False
