"""Exceptions of ParomaWatermark: each says what went wrong and what to do about it."""

from __future__ import annotations


class ParomaError(Exception):
    """Base class of every error ParomaWatermark raises on purpose."""


class VolumeError(ParomaError, ValueError):
    """The volume cannot be watermarked as given (type, shape, or values)."""


class CapacityError(VolumeError):
    """The volume cannot carry enough of the watermark for a sound leak check."""

    def __init__(self, message: str, carried_bits: int, required_bits: int) -> None:
        super().__init__(message)
        self.carried_bits = carried_bits
        self.required_bits = required_bits


class SideInfoError(ParomaError, ValueError):
    """Restoration side information is corrupt or belongs to another volume."""


class KeyFormatError(ParomaError, ValueError):
    """A secret key is malformed."""


class Cancelled(ParomaError):
    """The caller cancelled a long operation; nothing was changed."""
