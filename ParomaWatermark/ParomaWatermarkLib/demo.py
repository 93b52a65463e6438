"""A short demonstration on real scans that Python packages ship, with its own ledger in a work folder.

    python -m ParomaWatermarkLib.demo [--workdir DIR] [--json]

Watermarks a real MR volume (nibabel's example fMRI run, 24 slices of 96x128) for three data scientists, "leaks" one
copy (five slices, reordered, with a constant added as a rescaled export would add), checks the leaked part and names
the right recipient, checks the original (no watermark), verifies the ledger, and restores the original from a
watermarked copy, bit-exact. It also shows pydicom's single real CT and MR slices being refused: each is too small to
carry a watermark that a leak check could trust.
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
from .hashing import volume_hash
from .logic import ParomaWatermarkLogic

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


def sample_dicom_slices() -> list[tuple[np.ndarray, str]]:
    """pydicom's bundled real CT and MR slices, as stored values."""
    import pydicom
    from pydicom.data import get_testdata_file

    slices = []
    for name in ("CT_small.dcm", "MR_small.dcm"):
        dataset = pydicom.dcmread(get_testdata_file(name, download=False))
        slices.append((dataset.pixel_array, f"pydicom {name} ({dataset.Modality}, one slice)"))
    return slices


def run(workdir: Path) -> dict:
    """Run the demonstration in `workdir` (its ledger and key file are created there) and return what happened."""
    volume, source = sample_mr_volume()
    logic = ParomaWatermarkLogic(ledger=workdir / "ledger.db")
    copies, records = {}, []
    started = time.perf_counter()
    for recipient in RECIPIENTS:
        copies[recipient], record = logic.watermark(volume, paroma_id="P-0001", recipient=recipient)
        records.append(
            {"recipient": recipient, "block": record.index, "watermarked_hash": record.watermarked_hash}
            | record.embed_summary
        )
    seconds = (time.perf_counter() - started) / len(RECIPIENTS)
    leaked = copies[LEAKED_BY][LEAKED_SLICES] + np.int16(LEAK_OFFSET)
    restored = logic.restore(copies[RECIPIENTS[0]])
    refusals = []
    for image, name in sample_dicom_slices():
        try:
            logic.watermark(image, "P-0002", "DS-17")
            refusals.append({"source": name, "refused": False})
        except CapacityError as error:
            refusals.append({"source": name, "refused": True, "reason": str(error)})
    return {
        "workdir": str(workdir),
        "source": source,
        "shape": list(volume.shape),
        "dtype": str(volume.dtype),
        "original_hash": volume_hash(volume).volume,
        "watermarked": records,
        "seconds_per_watermark": seconds,
        "leak": {"recipient": LEAKED_BY, "slices": LEAKED_SLICES, "offset": LEAK_OFFSET},
        "check_leak": logic.check(leaked).to_dict(),
        "check_exact_copy": logic.check(copies[RECIPIENTS[2]]).to_dict(),
        "check_original": logic.check(volume).to_dict(),
        "restored_from": RECIPIENTS[0],
        "restored_bit_exact": bool(np.array_equal(restored, volume)),
        "ledger": logic.verify_ledger().to_dict(),
        "refused": refusals,
    }


def describe(result: dict) -> str:
    """The demonstration's result as a short readable report."""
    from .detection import Finding

    lines = [
        f"Volume: {result['source']}, {'x'.join(map(str, result['shape']))} {result['dtype']}",
        f"Ledger: {result['workdir']}/ledger.db (master key in ledger.db.key, owner-only)",
    ]
    for r in result["watermarked"]:
        lines.append(
            f"  block {r['block']}: watermarked for {r['recipient']}: {r['carriers']} carriers, "
            f"{r['distinct_bits']}/256 bits, {r['voxels_changed']} voxels changed by at most {r['max_change']}, "
            f"PSNR {float(r['psnr_db']):.1f} dB"
        )
    lines.append(f"  {result['seconds_per_watermark'] * 1e3:.0f} ms per copy, hashes and ledger record included")
    leak = result["leak"]
    lines += [
        f"Leak: {leak['recipient']}'s copy, slices {leak['slices']} in that order, +{leak['offset']} on every voxel",
        f"  check the leaked part:  {Finding(**_finding(result['check_leak'])).summary()}",
        f"  check an exact copy:    {Finding(**_finding(result['check_exact_copy'])).summary()}",
        f"  check the original:     {Finding(**_finding(result['check_original'])).summary()}",
        f"Restore from {result['restored_from']}'s copy: "
        + ("bit-exact, matches the original's recorded hash" if result["restored_bit_exact"] else "MISMATCH"),
        f"Ledger: {'intact' if result['ledger']['ok'] else 'BROKEN: ' + result['ledger']['reason']}, "
        f"{result['ledger']['blocks']} blocks (genesis, watermarks, checks, restoration)",
    ]
    for refusal in result["refused"]:
        verdict = f"refused: {refusal['reason']}" if refusal["refused"] else "accepted"
        lines.append(f"{refusal['source']}: {verdict}")
    return "\n".join(lines)


def _finding(data: dict) -> dict:
    return data | {"slices": tuple(data["slices"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ParomaWatermarkLib.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="folder for the demo's ledger (default: a new temporary folder)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="paroma-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result = run(workdir)
    print(json.dumps(result, indent=2) if args.json else describe(result))
    traced = result["check_leak"]["recipient"] == LEAKED_BY and not result["check_original"]["detected"]
    return 0 if traced and result["restored_bit_exact"] and result["ledger"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
