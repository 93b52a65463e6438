"""Secret keys, the watermark bits, and the keyed choice of carrier blocks.

The watermark is the 256 bits of SHA-256(message || key || timestamp) (DESIGN §4). The key decides, for every block
position of the in-plane grid, whether the block carries a bit and which of the 256 it carries. The choice depends only
on the in-plane position, so every slice carries the same pattern and decodes on its own.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cached_property, lru_cache

import numpy as np

from .errors import KeyFormatError

WATERMARK_BITS = 256
KEY_BYTES = 32
CARRIER_FRACTION = 0.5
"""Share of the grid's blocks that the key selects as carriers (DESIGN §4: about half)."""


class SecretKey:
    """A 256-bit secret key. Its repr never shows the key; `hex()` does, on purpose."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != KEY_BYTES:
            raise KeyFormatError(f"a secret key is {KEY_BYTES} bytes, got {len(raw) if hasattr(raw, '__len__') else raw!r}")
        self._raw = bytes(raw)

    @classmethod
    def generate(cls) -> "SecretKey":
        """A new key from the operating system's cryptographic random source."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_hex(cls, text: str) -> "SecretKey":
        """Parse the 64 hexadecimal digits written by `hex()`."""
        try:
            raw = bytes.fromhex(text.strip())
        except (AttributeError, ValueError):
            raise KeyFormatError("a secret key in hexadecimal is 64 digits 0-9a-f") from None
        return cls(raw)

    @property
    def raw(self) -> bytes:
        return self._raw

    def hex(self) -> str:
        return self._raw.hex()

    def fingerprint(self) -> str:
        """A short public name for the key (it reveals nothing about the key itself)."""
        return hashlib.sha256(b"paroma-key-fingerprint/1" + self._raw).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretKey) and secrets.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"SecretKey(fingerprint={self.fingerprint()})"


def watermark_message(paroma_id: str, recipient: str) -> str:
    """The message a watermark stands for: `ParomaID|DataScientistID`."""
    for name, value in (("PAROMA ID", paroma_id), ("recipient ID", recipient)):
        if not value or "|" in value:
            raise ValueError(f"the {name} must be a non-empty text without '|', got {value!r}")
    return f"{paroma_id}|{recipient}"


def watermark_bits(message: str, key: SecretKey, timestamp: str) -> np.ndarray:
    """The 256 watermark bits, SHA-256(message || key || timestamp), most significant bit of each byte first."""
    digest = hashlib.sha256(message.encode("utf-8") + key.raw + timestamp.encode("utf-8")).digest()
    return np.unpackbits(np.frombuffer(digest, dtype=np.uint8))


def bits_to_hex(bits: np.ndarray) -> str:
    """The 256 watermark bits as 64 hexadecimal digits (the form a ledger record keeps)."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def bits_from_hex(text: str) -> np.ndarray:
    """Inverse of `bits_to_hex`."""
    return np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))


class CarrierLayout:
    """The key's choices over an in-plane grid of blocks: which blocks carry, and which watermark bit each carries.

    Every block position draws two bytes from SHAKE-256(key, grid): the first selects the block (half of the values
    do), the second names the watermark bit it carries. Cheap enough to derive for a thousand keys in a leak check.
    """

    def __init__(self, selected: np.ndarray, bit_index: np.ndarray) -> None:
        self.selected = selected
        """bool (grid rows, grid columns): the block carries a watermark bit."""
        self.bit_index = bit_index
        """uint8 (grid rows, grid columns): the watermark bit a block would carry."""
        self.carriers = np.flatnonzero(selected)
        """intp: flat grid indices of the selected blocks, in row-major order."""
        self.carrier_bits = bit_index.reshape(-1)[self.carriers]
        """uint8: the watermark bit each of `carriers` carries."""
        for array in (self.carriers, self.carrier_bits):
            array.flags.writeable = False

    @property
    def grid_shape(self) -> tuple[int, int]:
        return self.selected.shape

    @cached_property
    def by_bit(self) -> np.ndarray:
        """intp: the flat grid indices of the carriers ordered by the bit they carry."""
        return self.carriers[np.argsort(self.carrier_bits, kind="stable")]

    @cached_property
    def bits_carried(self) -> np.ndarray:
        """intp: the watermark bits that have at least one carrier on this grid, in order."""
        return np.flatnonzero(np.bincount(self.carrier_bits, minlength=WATERMARK_BITS))

    @cached_property
    def bit_starts(self) -> np.ndarray:
        """intp: where each of `bits_carried` starts in `by_bit`."""
        counts = np.bincount(self.carrier_bits, minlength=WATERMARK_BITS)
        return (np.cumsum(counts) - counts)[self.bits_carried]

    def ones(self, bits: np.ndarray) -> np.ndarray:
        """bool grid: the selected blocks whose watermark bit is 1."""
        return self.selected & (np.asarray(bits, dtype=np.uint8)[self.bit_index] == 1)


def carrier_layout(key: SecretKey, grid_shape: tuple[int, int]) -> CarrierLayout:
    """The layout of `key` over a grid of blocks; cached, since one key is used on many slices and volumes."""
    return _layout(key.raw, int(grid_shape[0]), int(grid_shape[1]))


@lru_cache(maxsize=64)
def _layout(raw_key: bytes, rows: int, cols: int) -> CarrierLayout:
    seed = b"paroma-carriers/1" + raw_key + f"{rows}x{cols}".encode("ascii")
    stream = np.frombuffer(hashlib.shake_256(seed).digest(2 * rows * cols), dtype=np.uint8).reshape(2, rows, cols)
    selected = stream[0] < round(CARRIER_FRACTION * 256)
    selected.flags.writeable = False
    return CarrierLayout(selected=selected, bit_index=stream[1])
