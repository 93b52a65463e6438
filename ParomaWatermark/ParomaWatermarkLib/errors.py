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


class LedgerError(ParomaError):
    """The ledger cannot do what was asked (unreadable, locked, or refused the request)."""


class LedgerIntegrityError(LedgerError):
    """The ledger's chain or index does not verify: something was changed, removed or inserted."""


class MasterKeyError(LedgerError):
    """The ledger master key is missing, malformed, unsafe on disk, or not the one that sealed these keys."""


class NotRecordedError(ParomaError, LookupError):
    """The volume is not a watermarked copy that the ledger knows."""


class RestoreError(ParomaError):
    """The original could not be restored bit for bit."""
