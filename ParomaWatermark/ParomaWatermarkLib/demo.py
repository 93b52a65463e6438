"""The demonstration: real scans that Python packages ship, watermarked, leaked, traced and restored, as files.

    paroma-watermark demo [--workdir DIR] [--json]      (or: python -m ParomaWatermarkLib.demo)

In a work folder with its own ledger: takes nibabel's real example MR run (24 slices of 96x128) as a NIfTI file,
watermarks it for three data scientists, "leaks" one copy (five slices, reordered, mirrored left-right, converted to
floating point MetaImage with a constant added, as another tool might export it), checks the leaked file and names the
right recipient, checks the original (no watermark), restores the original from a watermarked copy and proves it
bit-exact, and verifies the ledger. It also watermarks pydicom's real JPEG 2000 CT slice as DICOM, and shows pydicom's
small CT and MR slices being refused: each is too small to carry a watermark a leak check could trust.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import CapacityError
from .logic import ParomaWatermarkLogic
from .volumes.files import read_volume

RECIPIENTS = ("DS-17", "DS-42", "DS-99")
LEAKED_BY = "DS-42"
LEAKED_SLICES = [12, 9, 10, 11, 8]
LEAK_OFFSET = 1000


def sample_mr_volume() -> tuple[np.ndarray, str]:
    """nibabel's real example fMRI run, first time point, as (slices, rows, columns) like slicer.util.arrayFromVolume."""
    import nibabel

    path = Path(nibabel.__file__).parent / "tests" / "data" / "example4d.nii.gz"
    data = np.asarray(nibabel.load(path).dataobj)[..., 0]
    return np.ascontiguousarray(data.transpose(2, 1, 0)), f"nibabel {path.name} (real fMRI, first time point)"


def sample_mr_file(folder: Path) -> Path:
    """The same real MR run written as a 3D NIfTI file by nibabel, with its original affine."""
    import nibabel

    source = nibabel.load(Path(nibabel.__file__).parent / "tests" / "data" / "example4d.nii.gz")
    target = folder / "scan.nii.gz"
    nibabel.Nifti1Image(np.asarray(source.dataobj)[..., 0], source.affine).to_filename(target)
    return target


def dicom_sample(name: str) -> Path:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file(name, download=False))


def run(workdir: Path) -> dict:
    """Run the demonstration in `workdir` (files, ledger and key file are created there) and return what happened."""
    logic = ParomaWatermarkLogic(ledger=workdir / "ledger.db")
    scan = sample_mr_file(workdir)
    copies, records = {}, []
    started = time.perf_counter()
    for recipient in RECIPIENTS:
        copies[recipient] = workdir / f"scan-{recipient}.nii.gz"
        record, _ = logic.watermark_file(scan, copies[recipient], paroma_id="P-0001", recipient=recipient)
        records.append({"recipient": recipient, "file": copies[recipient].name, "block": record.index} | record.embed_summary)
    seconds = (time.perf_counter() - started) / len(RECIPIENTS)

    leaked_file = workdir / "found-on-a-usb-stick.mha"
    _leak(copies[LEAKED_BY], leaked_file)
    restored_file = workdir / "scan-restored.nii.gz"
    restore_record, _ = logic.restore_file(copies[RECIPIENTS[0]], restored_file)
    original, restored = read_volume(scan).array, read_volume(restored_file).array

    dicom_copy = workdir / "ct-DS-17.dcm"
    dicom_record, dicom_volume = logic.watermark_file(dicom_sample("693_J2KI.dcm"), dicom_copy, "P-0002", "DS-17")
    refusals = []
    for name in ("CT_small.dcm", "MR_small.dcm"):
        try:
            logic.watermark_file(dicom_sample(name), workdir / f"refused-{name}", "P-0003", "DS-17")
            refusals.append({"source": f"pydicom {name}", "refused": False})
        except CapacityError as error:
            refusals.append({"source": f"pydicom {name}", "refused": True, "reason": str(error)})
    return {
        "workdir": str(workdir),
        "source": "nibabel example4d.nii.gz (real fMRI, first time point), written as scan.nii.gz",
        "shape": list(original.shape),
        "dtype": str(original.dtype),
        "watermarked": records,
        "seconds_per_copy": seconds,
        "leak": {"recipient": LEAKED_BY, "slices": LEAKED_SLICES, "offset": LEAK_OFFSET, "file": leaked_file.name,
                 "conversion": "mirrored left-right, float32, MetaImage"},
        "check_leak": logic.check_file(leaked_file).to_dict(),
        "check_exact_copy": logic.check_file(copies[RECIPIENTS[2]]).to_dict(),
        "check_original": logic.check_file(scan).to_dict(),
        "restored": {"from": copies[RECIPIENTS[0]].name, "file": restored_file.name, "block": restore_record.index,
                     "bit_exact": bool(original.dtype == restored.dtype and np.array_equal(original, restored))},
        "dicom": {"source": "pydicom 693_J2KI.dcm (real CT slice, JPEG 2000)", "file": dicom_copy.name,
                  "block": dicom_record.index, "notes": dicom_volume.notes,
                  "check": logic.check_file(dicom_copy).to_dict()},
        "refused": refusals,
        "ledger": logic.verify_ledger().to_dict(),
    }


def _leak(copy: Path, target: Path) -> None:
    """What a careless recipient might do: keep a few slices, mirror them, save them as float MetaImage with an offset."""
    import SimpleITK as sitk

    image = sitk.ReadImage(str(copy))
    slices = sitk.GetArrayFromImage(image)[LEAKED_SLICES, :, ::-1].astype(np.float32) + LEAK_OFFSET
    leaked = sitk.GetImageFromArray(slices)
    leaked.SetSpacing(image.GetSpacing())
    sitk.WriteImage(leaked, str(target))


def describe(result: dict) -> str:
    """The demonstration's result as a short readable report."""
    from .detection import Finding

    def finding(data: dict) -> str:
        return Finding(**(data | {"slices": tuple(data["slices"])})).summary()

    lines = [
        f"Volume: {result['source']}, {'x'.join(map(str, result['shape']))} {result['dtype']}",
        f"Ledger: {result['workdir']}/ledger.db (master key in ledger.db.key, owner-only)",
    ]
    for r in result["watermarked"]:
        lines.append(
            f"  {r['file']}: block {r['block']}, {r['carriers']} carriers, {r['distinct_bits']}/256 bits, "
            f"{r['voxels_changed']} voxels changed by at most {r['max_change']}, PSNR {float(r['psnr_db']):.1f} dB"
        )
    lines.append(f"  {result['seconds_per_copy'] * 1e3:.0f} ms per copy: read, hash, watermark, hash, record, write")
    leak = result["leak"]
    lines += [
        f"Leak: {leak['recipient']}'s copy, slices {leak['slices']} in that order, {leak['conversion']}, "
        f"+{leak['offset']}: {leak['file']}",
        f"  check {leak['file']}: {finding(result['check_leak'])}",
        f"  check an exact copy: {finding(result['check_exact_copy'])}",
        f"  check the original:  {finding(result['check_original'])}",
        f"Restore {result['restored']['from']} -> {result['restored']['file']}: "
        + ("bit-exact, matches the original's recorded hash" if result["restored"]["bit_exact"] else "MISMATCH"),
        f"DICOM: {result['dicom']['source']} -> {result['dicom']['file']}, block {result['dicom']['block']}",
    ]
    lines += [f"  note: {note}" for note in result["dicom"]["notes"]]
    lines.append(f"  check {result['dicom']['file']}: {finding(result['dicom']['check'])}")
    for refusal in result["refused"]:
        verdict = f"refused: {refusal['reason']}" if refusal["refused"] else "accepted"
        lines.append(f"{refusal['source']}: {verdict}")
    ledger = result["ledger"]
    lines.append(f"Ledger: {'intact' if ledger['ok'] else 'BROKEN: ' + ledger['reason']}, {ledger['blocks']} blocks")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paroma-watermark demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="folder for the demo's files and ledger (default: a new temporary folder)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="paroma-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result = run(workdir)
    print(json.dumps(result, indent=2) if args.json else describe(result))
    traced = result["check_leak"]["recipient"] == LEAKED_BY and not result["check_original"]["detected"]
    return 0 if traced and result["restored"]["bit_exact"] and result["ledger"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
