"""A short demonstration of the engine on real scans that Python packages ship.

    python -m ParomaWatermarkLib.demo [--json]

Watermarks a real MR volume (nibabel's example fMRI run, 24 slices of 96x128) for a data scientist, reads the
watermark back with the right key and with a wrong one, traces a "leaked" part of the copy (a few slices, reordered,
with a constant added as a rescaled export would), restores the original and proves it bit-exact by hash. It also
shows pydicom's single real CT and MR slices being refused: each is too small to carry a watermark that a leak check
could trust.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .codec import embed, extract, restore
from .errors import CapacityError
from .hashing import volume_hash
from .statistics import chance_match_probability
from .watermark import SecretKey, watermark_bits, watermark_message


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


def run() -> dict:
    """Run the demonstration and return what happened, step by step."""
    volume, source = sample_mr_volume()
    key = SecretKey.generate()
    timestamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    message = watermark_message("P-0001", "DS-42")
    bits = watermark_bits(message, key, timestamp)

    started = time.perf_counter()
    original_hash = volume_hash(volume)
    marked = embed(volume, key, bits)
    marked_hash = volume_hash(marked.volume)
    embed_seconds = time.perf_counter() - started

    def read(suspect: np.ndarray, with_key: SecretKey) -> dict:
        found = extract(suspect, with_key)
        matched, voted = found.matched_bits(bits), found.voted_bits
        return {
            "matched_bits": matched,
            "voted_bits": voted,
            "chance_match_probability": chance_match_probability(matched, voted),
            "slices": list(found.slices),
        }

    leak_slices = [12, 9, 10, 11, 8]
    leaked = marked.volume[leak_slices] + np.int16(1000)
    restored = restore(marked.volume, key, marked.side_info)
    restored_hash = volume_hash(restored)

    refusals = []
    for image, name in sample_dicom_slices():
        try:
            embed(image, key, bits)
            refusals.append({"source": name, "refused": False})
        except CapacityError as error:
            refusals.append({"source": name, "refused": True, "reason": str(error)})

    return {
        "source": source,
        "shape": list(volume.shape),
        "dtype": str(volume.dtype),
        "message": message,
        "timestamp": timestamp,
        "key_fingerprint": key.fingerprint(),
        "embed": marked.report.to_dict() | {"seconds_with_both_hashes": embed_seconds},
        "original_hash": original_hash.volume,
        "watermarked_hash": marked_hash.volume,
        "read_right_key": read(marked.volume, key),
        "read_wrong_key": read(marked.volume, SecretKey.generate()),
        "read_original": read(volume, key),
        "leak": {"slices_taken": leak_slices, "offset_added": 1000} | read(leaked, key),
        "restored_hash": restored_hash.volume,
        "restored_bit_exact": bool(np.array_equal(restored, volume)) and restored_hash == original_hash,
        "refused": refusals,
    }


def describe(result: dict) -> str:
    """The demonstration's result as a short readable report."""
    e = result["embed"]

    def reading(name: str) -> str:
        r = result[name]
        return (
            f"{r['matched_bits']} of {r['voted_bits']} voted bits match the watermark "
            f"(chance match {r['chance_match_probability']:.1e}, slices {_ranges(r['slices'])})"
        )

    lines = [
        f"Volume: {result['source']}, {'x'.join(map(str, result['shape']))} {result['dtype']}",
        f"Watermark for {result['message']!r} at {result['timestamp']}, key {result['key_fingerprint']}",
        f"  embedded: {e['carriers']} carrier blocks, {e['distinct_bits']}/256 distinct bits, "
        f"{e['voxels_changed']} voxels changed by at most {e['max_change']}, PSNR {e['psnr_db']:.1f} dB, "
        f"side information {e['side_info_bytes']} bytes, {e['seconds_with_both_hashes'] * 1e3:.0f} ms with both hashes",
        f"  original hash    {result['original_hash']}",
        f"  watermarked hash {result['watermarked_hash']}",
        f"Read with the right key:   {reading('read_right_key')}",
        f"Read with a wrong key:     {reading('read_wrong_key')}",
        f"Read the original:         {reading('read_original')}",
        f"Leak of slices {result['leak']['slices_taken']} reordered, +{result['leak']['offset_added']} added: "
        f"{reading('leak')}",
        f"Restored with the key: {'bit-exact, hash matches the original' if result['restored_bit_exact'] else 'MISMATCH'}",
    ]
    for refusal in result["refused"]:
        verdict = f"refused: {refusal['reason']}" if refusal["refused"] else "accepted"
        lines.append(f"{refusal['source']}: {verdict}")
    return "\n".join(lines)


def _ranges(indices: list[int]) -> str:
    if not indices:
        return "none"
    return f"{len(indices)}: {indices[0]}..{indices[-1]}" if len(indices) > 3 else ", ".join(map(str, indices))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ParomaWatermarkLib.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    result = run()
    print(json.dumps(result, indent=2) if args.json else describe(result))
    return 0 if result["restored_bit_exact"] and result["read_right_key"]["matched_bits"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
