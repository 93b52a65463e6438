"""ParomaWatermark: reversible watermarking of medical volumes, a hash-chained ledger, and leak tracing.

Pure Python over numpy: usable from the Slicer Python console, scripts, the command line and the ledger server alike.
"""

from .codec import (
    DEFAULT_STRIDE,
    SCHEME,
    BlockReadout,
    EmbedReport,
    Embedding,
    Extraction,
    block_grid,
    embed,
    extract,
    read_blocks,
    restore,
)
from .detection import Finding
from .errors import (
    Cancelled,
    CapacityError,
    KeyFormatError,
    LedgerError,
    LedgerIntegrityError,
    MasterKeyError,
    NotRecordedError,
    ParomaError,
    RestoreError,
    SideInfoError,
    VolumeError,
)
from .hashing import VolumeHash, volume_hash
from .ledger import LocalLedger, MasterKey, VerifyReport
from .ledger.records import WatermarkRecord
from .logic import ParomaWatermarkLogic, default_ledger_path
from .statistics import chance_match_probability, required_bits
from .watermark import WATERMARK_BITS, SecretKey, carrier_layout, watermark_bits, watermark_message

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_STRIDE",
    "SCHEME",
    "BlockReadout",
    "Cancelled",
    "CapacityError",
    "EmbedReport",
    "Finding",
    "LedgerError",
    "LedgerIntegrityError",
    "LocalLedger",
    "MasterKey",
    "MasterKeyError",
    "NotRecordedError",
    "ParomaWatermarkLogic",
    "RestoreError",
    "VerifyReport",
    "WatermarkRecord",
    "default_ledger_path",
    "Embedding",
    "Extraction",
    "KeyFormatError",
    "ParomaError",
    "SecretKey",
    "SideInfoError",
    "VolumeError",
    "VolumeHash",
    "WATERMARK_BITS",
    "block_grid",
    "carrier_layout",
    "chance_match_probability",
    "embed",
    "extract",
    "read_blocks",
    "required_bits",
    "restore",
    "volume_hash",
    "watermark_bits",
    "watermark_message",
]
