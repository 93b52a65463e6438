"""The ledger: a hash-chained record of every watermarking and every later access (DESIGN §5)."""

from .blocks import GENESIS, KEY_READ, KINDS, LEAK_CHECK, RESTORE, WATERMARK, Block, canonical_json, decimal_text
from .chain import VerifyReport
from .local import LocalLedger
from .sealing import ENVIRONMENT_VARIABLE, MasterKey, key_file_for

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "GENESIS",
    "KEY_READ",
    "KINDS",
    "LEAK_CHECK",
    "RESTORE",
    "WATERMARK",
    "Block",
    "LocalLedger",
    "MasterKey",
    "VerifyReport",
    "canonical_json",
    "decimal_text",
    "key_file_for",
]
