"""Real scans that packages ship, through the engine and back, bit-exact."""

from __future__ import annotations

from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from ParomaWatermarkLib import embed, extract, restore, volume_hash
from ParomaWatermarkLib.demo import sample_mr_volume

DICOM_SLICES = ["CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm"]


def dicom_pixels(name: str) -> np.ndarray:
    return pydicom.dcmread(get_testdata_file(name, download=False)).pixel_array


@pytest.mark.parametrize("name", DICOM_SLICES)
def test_pydicom_slices_round_trip_bit_exact(name, key, bits):
    pixels = dicom_pixels(name)
    marked = embed(pixels, key, bits, required_bits=0)
    assert marked.report.carriers > 0
    found = extract(marked.volume, key)
    assert found.matched_bits(bits) == found.voted_bits == marked.report.distinct_bits
    restored = restore(marked.volume, key, marked.side_info)
    assert restored.dtype == pixels.dtype and restored.tobytes() == pixels.tobytes()


def test_pydicom_ct_slice_is_refused_at_the_default_threshold(key, bits):
    with pytest.raises(ValueError, match="of the 47 distinct watermark bits"):
        embed(dicom_pixels("CT_small.dcm"), key, bits)


def test_pydicom_ct_series_stacked_by_position(key, bits):
    folder = Path(get_testdata_file("CT_small.dcm", download=False)).parent / "dicomdirtests" / "98892001" / "CT5N"
    datasets = sorted((pydicom.dcmread(p) for p in folder.iterdir()), key=lambda d: float(d.ImagePositionPatient[2]))
    series = np.stack([d.pixel_array for d in datasets])
    marked = embed(series, key, bits, required_bits=0)
    assert restore(marked.volume, key, marked.side_info).tobytes() == series.tobytes()


def test_real_mr_volume_carries_the_full_threshold_and_restores(key, bits):
    volume, _ = sample_mr_volume()
    marked = embed(volume, key, bits)
    assert marked.report.distinct_bits >= 200
    assert np.abs(marked.volume.astype(int) - volume).max() == 1
    found = extract(marked.volume[::-3], key)
    assert found.matched_bits(bits) == found.voted_bits > 100
    restored = restore(marked.volume, key, marked.side_info)
    assert volume_hash(restored) == volume_hash(volume)


def test_nifti_float_copy_of_a_real_volume_is_accepted_and_returned_as_float(key, bits):
    volume, _ = sample_mr_volume()
    as_float = volume.astype(np.float32)
    marked = embed(as_float, key, bits)
    assert marked.volume.dtype == np.float32
    assert restore(marked.volume, key, marked.side_info).tobytes() == as_float.tobytes()
    assert Path(nibabel.__file__).exists()
