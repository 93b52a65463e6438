"""What a watermark block records, and reading it back: the one place that knows the payload's field names."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..codec import SCHEME, Embedding
from ..hashing import VolumeHash
from ..watermark import CARRIER_FRACTION, bits_from_hex, bits_to_hex, watermark_message
from .blocks import WATERMARK, Block, decimal_text, slice_digest

if TYPE_CHECKING:
    from ..detection import Finding


def seal_context(ledger_id: str, message: str, watermarked_at: str) -> str:
    """What a sealed key is bound to: its ledger and the watermark it made, so it cannot be moved to another record."""
    return f"{ledger_id}|{message}|{watermarked_at}"


def watermark_payload(
    *,
    paroma_id: str,
    recipient: str,
    watermarked_at: str,
    watermark: np.ndarray,
    sealed_key: dict,
    key_fingerprint: str,
    embedding: Embedding,
    original: VolumeHash,
    marked: VolumeHash,
    geometry: dict,
    source: str | None = None,
) -> dict:
    """The payload of a watermark block (DESIGN §5); per-slice hashes go to the index, committed by their digest."""
    report = embedding.report
    return {
        "paroma_id": paroma_id,
        "recipient": recipient,
        "message": watermark_message(paroma_id, recipient),
        "watermarked_at": watermarked_at,
        "watermark": bits_to_hex(watermark),
        "key": sealed_key | {"fingerprint": key_fingerprint},
        "scheme": {
            "name": SCHEME,
            "stride": embedding.stride,
            "carrier_fraction": decimal_text(CARRIER_FRACTION),
            "value_range": list(embedding.value_range),
        },
        "geometry": geometry,
        "original_hash": original.volume,
        "watermarked_hash": marked.volume,
        "slice_digest": slice_digest(list(enumerate(marked.slices))),
        "unchanged_slices": [i for i, changed in enumerate(report.changed_per_slice) if changed == 0],
        "side_info": base64.b64encode(embedding.side_info).decode("ascii"),
        "embed": {
            "carriers": report.carriers,
            "distinct_bits": report.distinct_bits,
            "voxels_changed": report.voxels_changed,
            "max_change": report.max_change,
            "psnr_db": decimal_text(report.psnr_db),
            "side_info_bytes": report.side_info_bytes,
        },
        "source": source,
    }


def leak_check_payload(finding: Finding, shape: tuple[int, ...], actor: dict | None = None) -> dict:
    """The payload of the audit block every leak check appends: what was checked, the answer, and who asked."""
    probability = finding.false_match_probability
    return {
        "suspect_hash": finding.suspect_hash,
        "shape": list(shape),
        "detected": finding.detected,
        "method": finding.method,
        "block": finding.block,
        "matched_bits": finding.matched_bits,
        "voted_bits": finding.voted_bits,
        "false_match_probability": None if probability is None else decimal_text(probability),
        "bound": decimal_text(finding.bound),
        "candidates": finding.candidates,
        "orientation": finding.orientation,
        "slices": len(finding.slices),
    } | (actor or {})


def check_watermark_payload(payload: dict, slice_hashes: list[str]) -> None:
    """Refuse a watermark payload that a block could not be read back from, or whose slice digest does not match."""
    record = WatermarkRecord(Block.create(1, "0" * 64, WATERMARK, payload))
    for name in ("paroma_id", "recipient", "message", "watermarked_at", "dtype", "original_hash", "watermarked_hash"):
        if not isinstance(getattr(record, name), str):
            raise ValueError(f"{name} must be text")
    if record.message != watermark_message(record.paroma_id, record.recipient):
        raise ValueError("message must be 'ParomaID|DataScientistID'")
    if record.watermark.size != 256 or not isinstance(record.stride, int) or record.stride < 3:
        raise ValueError("the watermark must be 64 hexadecimal digits and the stride an integer of at least 3")
    if not 2 <= len(record.shape) <= 3 or not all(isinstance(n, int) and n > 0 for n in record.shape):
        raise ValueError("geometry.shape must be 2 or 3 positive integers")
    if len(slice_hashes) != (1 if len(record.shape) == 2 else record.shape[0]):
        raise ValueError("there must be one slice hash per slice of the volume")
    if slice_digest(list(enumerate(slice_hashes))) != payload.get("slice_digest"):
        raise ValueError("slice_digest does not match the slice hashes sent with it")
    low, high = record.value_range
    if not (isinstance(low, int) and isinstance(high, int) and low < high):
        raise ValueError("scheme.value_range must be two integers, low below high")
    base64.b64decode(payload["side_info"], validate=True)


@dataclass(frozen=True)
class WatermarkRecord:
    """A watermark block of the ledger, read as what it means."""

    block: Block

    def __post_init__(self) -> None:
        if self.block.kind != WATERMARK:
            raise ValueError(f"block {self.block.index} is a {self.block.kind} block, not a watermark record")

    @property
    def index(self) -> int:
        return self.block.index

    @property
    def paroma_id(self) -> str:
        return self.block.payload["paroma_id"]

    @property
    def recipient(self) -> str:
        return self.block.payload["recipient"]

    @property
    def message(self) -> str:
        return self.block.payload["message"]

    @property
    def watermarked_at(self) -> str:
        return self.block.payload["watermarked_at"]

    @property
    def watermark(self) -> np.ndarray:
        return bits_from_hex(self.block.payload["watermark"])

    @property
    def sealed_key(self) -> dict:
        return self.block.payload["key"]

    @property
    def key_fingerprint(self) -> str:
        return self.block.payload["key"]["fingerprint"]

    @property
    def stride(self) -> int:
        return self.block.payload["scheme"]["stride"]

    @property
    def value_range(self) -> tuple[int, int]:
        low, high = self.block.payload["scheme"]["value_range"]
        return low, high

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.block.payload["geometry"]["shape"])

    @property
    def dtype(self) -> str:
        return self.block.payload["geometry"]["dtype"]

    @property
    def original_hash(self) -> str:
        return self.block.payload["original_hash"]

    @property
    def watermarked_hash(self) -> str:
        return self.block.payload["watermarked_hash"]

    @property
    def side_info(self) -> bytes:
        return base64.b64decode(self.block.payload["side_info"])

    @property
    def embed_summary(self) -> dict:
        return self.block.payload["embed"]

    def seal_context(self, ledger_id: str) -> str:
        return seal_context(ledger_id, self.message, self.watermarked_at)

    def __repr__(self) -> str:
        return f"WatermarkRecord(block={self.index}, paroma_id={self.paroma_id!r}, recipient={self.recipient!r})"
