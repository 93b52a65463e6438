"""Volume files: DICOM (single, series, multi-frame, compressed, big-endian), NRRD, NIfTI, MetaImage and NumPy."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicom_samples import ct_multiframe, ct_series, sample

from ParomaWatermarkLib import ParomaWatermarkLogic, VolumeError
from ParomaWatermarkLib.demo import sample_mr_volume
from ParomaWatermarkLib.volumes.files import read_volume, write_volume


@pytest.fixture
def logic(tmp_path):
    return ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")


def test_a_dicom_copy_keeps_every_attribute_but_the_ones_that_say_it_is_derived(tmp_path, logic):
    source = sample("693_J2KI.dcm")
    record, volume = logic.watermark_file(source, tmp_path / "copy.dcm", "P-1", "DS-1")
    assert volume.value_range == (-(2**13), 2**13 - 1) and "JPEG 2000" in volume.notes[0]
    original, copy = pydicom.dcmread(source), pydicom.dcmread(tmp_path / "copy.dcm")
    assert copy.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert copy.SOPInstanceUID != original.SOPInstanceUID
    assert copy.file_meta.MediaStorageSOPInstanceUID == copy.SOPInstanceUID
    assert copy.SeriesInstanceUID != original.SeriesInstanceUID
    assert list(copy.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert "Reversible watermark" in copy.DerivationDescription and f"block {record.index}" in copy.DerivationDescription
    changed = {"SOPInstanceUID", "SeriesInstanceUID", "ImageType", "DerivationDescription", "PixelData"}
    for element in original:
        if element.keyword and element.keyword not in changed:
            assert copy[element.tag].value == element.value, element.keyword
    difference = copy.pixel_array.astype(int) - original.pixel_array
    assert 0 <= difference.min() and difference.max() == 1 and copy.pixel_array.max() <= 2**13 - 1
    assert logic.check_file(tmp_path / "copy.dcm").recipient == "DS-1"
    logic.restore_file(tmp_path / "copy.dcm", tmp_path / "restored.dcm")
    assert pydicom.dcmread(tmp_path / "restored.dcm").pixel_array.tobytes() == original.pixel_array.tobytes()


def test_a_series_is_ordered_by_position_and_written_as_a_series(tmp_path, logic):
    folder, volume = ct_series(tmp_path / "series")
    assert read_volume(folder).array.tobytes() == volume.tobytes()
    logic.watermark_file(folder, tmp_path / "copy", "P-1", "DS-2")
    copies = [pydicom.dcmread(p) for p in sorted((tmp_path / "copy").iterdir())]
    assert len(copies) == 4 and len({c.SeriesInstanceUID for c in copies}) == 1 and len({c.SOPInstanceUID for c in copies}) == 4
    finding = logic.check_file(tmp_path / "copy")
    assert (finding.method, finding.recipient, finding.slices) == ("hash", "DS-2", (0, 1, 2, 3))
    logic.restore_file(tmp_path / "copy", tmp_path / "restored")
    assert read_volume(tmp_path / "restored").array.tobytes() == volume.tobytes()


def test_a_multiframe_file_round_trips(tmp_path, logic):
    frames = ct_multiframe(tmp_path / "multi.dcm")
    assert read_volume(tmp_path / "multi.dcm").array.shape == frames.shape
    logic.watermark_file(tmp_path / "multi.dcm", tmp_path / "copy.dcm", "P-1", "DS-3")
    copy = pydicom.dcmread(tmp_path / "copy.dcm")
    assert int(copy.NumberOfFrames) == 3 and copy.pixel_array.shape == frames.shape
    logic.restore_file(tmp_path / "copy.dcm", tmp_path / "restored.dcm")
    assert pydicom.dcmread(tmp_path / "restored.dcm").pixel_array.tobytes() == frames.tobytes()


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("MR_small_RLE.dcm", "RLE Lossless"),
        ("MR_small_jp2klossless.dcm", "JPEG 2000"),
        ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS"),
        ("MR_small_bigendian.dcm", "Big Endian"),
        ("MR_small.dcm", None),
    ],
)
def test_encodings_are_decoded_and_written_uncompressed_little_endian(tmp_path, name, note):
    volume = read_volume(sample(name))
    reference = pydicom.dcmread(sample("MR_small.dcm")).pixel_array
    assert np.array_equal(volume.array, reference)
    assert (note in volume.notes[0]) if note else volume.notes == []
    write_volume(tmp_path / "copy.dcm", volume.array, volume)
    written = pydicom.dcmread(tmp_path / "copy.dcm")
    assert written.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert np.array_equal(written.pixel_array, reference)


@pytest.mark.parametrize("suffix", [".nrrd", ".nii", ".nii.gz", ".mha", ".npy"])
def test_other_formats_round_trip_with_their_geometry(tmp_path, logic, suffix):
    volume, _ = sample_mr_volume()
    source = tmp_path / f"scan{suffix}"
    if suffix == ".npy":
        np.save(source, volume)
    else:
        image = sitk.GetImageFromArray(volume)
        image.SetSpacing((1.5, 1.25, 3.0))
        image.SetOrigin((-10.0, 20.0, 5.5))
        image.SetDirection((0, 1, 0, 1, 0, 0, 0, 0, -1))
        sitk.WriteImage(image, str(source))
    record, _ = logic.watermark_file(source, tmp_path / f"copy{suffix}", "P-1", "DS-4")
    copy = read_volume(tmp_path / f"copy{suffix}")
    if suffix != ".npy":
        assert copy.geometry == read_volume(source).geometry
        assert record.block.payload["geometry"]["spacing"] == ["1.5", "1.25", "3.0"]
    assert logic.check_file(tmp_path / f"copy{suffix}").recipient == "DS-4"
    logic.restore_file(tmp_path / f"copy{suffix}", tmp_path / f"restored{suffix}")
    restored = read_volume(tmp_path / f"restored{suffix}").array
    assert restored.dtype == volume.dtype and restored.tobytes() == volume.tobytes()


def test_a_dicom_series_converted_to_nifti_by_nibabel_with_fewer_slices_is_traced(tmp_path, logic):
    nibabel = pytest.importorskip("nibabel")
    folder, _ = ct_series(tmp_path / "series", slices=4)
    logic.watermark_file(folder, tmp_path / "copy", "P-9", "DS-5")
    logic.watermark_file(folder, tmp_path / "other", "P-9", "DS-6")
    stored = read_volume(tmp_path / "copy").array[1:3]
    # nibabel keeps (x, y, z) arrays in RAS, while DICOM rows run along y and columns along x in LPS: the converted
    # file's slices come back transposed and mirrored, as dicom-to-NIfTI converters leave them.
    data = np.flip(stored.transpose(2, 1, 0), axis=(0, 1)).astype(np.float32) - 1024
    nibabel.Nifti1Image(data, np.diag([-0.7, -0.7, 2.5, 1])).to_filename(tmp_path / "leaked.nii.gz")
    finding = logic.check_file(tmp_path / "leaked.nii.gz")
    assert (finding.detected, finding.method, finding.recipient) == (True, "watermark", "DS-5")
    assert finding.orientation != "as stored" and finding.false_match_probability < 1e-9


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SC_rgb_small_odd.dcm", "colour image (RGB)"),
        ("examples_palette.dcm", "colour image (PALETTE COLOR)"),
        ("liver_1frame.dcm", "DICOM segmentation"),
        ("MR_truncated.dcm", "may be truncated"),
        ("test-SR.dcm", "holds no image pixels"),
        ("rtplan.dcm", "holds no image pixels"),
    ],
)
def test_unusable_dicom_files_are_refused_with_a_reason(name, expected):
    with pytest.raises(VolumeError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        read_volume(sample(name))


def test_unusable_other_files_are_refused_with_a_reason(tmp_path):
    (tmp_path / "broken.nrrd").write_bytes(b"NRRD0004\ntype: short\ndimension: 3\nsizes: 9 9 9\n\nxx")
    with pytest.raises(VolumeError, match="not a readable NRRD file"):
        read_volume(tmp_path / "broken.nrrd")
    rgb = sitk.GetImageFromArray(np.zeros((20, 20, 3), np.uint8), isVector=True)
    sitk.WriteImage(rgb, str(tmp_path / "rgb.nrrd"))
    with pytest.raises(VolumeError, match="3 values per voxel"):
        read_volume(tmp_path / "rgb.nrrd")
    labels = sitk.GetImageFromArray(np.zeros((4, 20, 20), np.uint8))
    labels.SetMetaData("Segment0_ID", "Segment_1")
    sitk.WriteImage(labels, str(tmp_path / "labels.seg.nrrd"))
    with pytest.raises(VolumeError, match="segmentation"):
        read_volume(tmp_path / "labels.seg.nrrd")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(VolumeError, match="unknown volume format"):
        read_volume(tmp_path / "notes.txt")
    np.save(tmp_path / "float.npy", np.full((3, 30, 30), 0.5, np.float32))
    with pytest.raises(VolumeError, match="whole numbers"):
        ParomaWatermarkLogic(ledger=tmp_path / "l.db").watermark_file(tmp_path / "float.npy", tmp_path / "o.npy", "P", "D")


def test_outputs_that_would_clobber_the_input_or_change_format_are_refused_before_any_work(tmp_path, logic):
    volume, _ = sample_mr_volume()
    np.save(tmp_path / "scan.npy", volume)
    with pytest.raises(VolumeError, match="the input itself"):
        logic.watermark_file(tmp_path / "scan.npy", tmp_path / "scan.npy", "P", "D")
    with pytest.raises(VolumeError, match="matching extension"):
        logic.watermark_file(tmp_path / "scan.npy", tmp_path / "copy.nrrd", "P", "D")
    assert len(logic.ledger) == 1


def test_pydicoms_small_ct_series_is_ordered_by_position_not_file_name():
    folder = sample("CT_small.dcm").parent / "dicomdirtests" / "98892001" / "CT5N"
    volume = read_volume(folder)
    positions = [float(d.ImagePositionPatient[2]) for d in volume.datasets]
    assert volume.array.shape == (5, 16, 16) and positions == sorted(positions)
    assert [p.name for p in volume.files] != sorted(p.name for p in volume.files)
    for plane, dataset in zip(volume.array, volume.datasets):
        assert np.array_equal(plane, dataset.pixel_array)
