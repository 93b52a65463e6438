"""The ledger master key, and secret keys sealed under it.

Watermark keys never sit in the clear in a ledger: each is sealed with AES-256-GCM under the ledger master key, which
lives apart from the ledger (an environment variable, or a key file with owner-only permissions). The sealed form names
the master key that sealed it, so a wrong master key is reported as such, never turned into a silent mismatch.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from pathlib import Path

from ..errors import MasterKeyError
from ..watermark import KEY_BYTES, SecretKey

ENVIRONMENT_VARIABLE = "PAROMA_LEDGER_KEY"
KEY_FILE_SUFFIX = ".key"
_NONCE_BYTES = 12


class MasterKey:
    """A 256-bit AES-GCM key that seals the watermark keys of one ledger. Its repr shows only its public id."""

    __slots__ = ("_raw", "source")

    def __init__(self, raw: bytes, source: str = "given") -> None:
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != KEY_BYTES:
            raise MasterKeyError(f"a ledger master key is {KEY_BYTES} bytes (64 hexadecimal digits)")
        self._raw = bytes(raw)
        self.source = source
        """Where the key came from, for messages: 'environment', a file path, or 'given'."""

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES), "generated")

    @classmethod
    def from_hex(cls, text: str, source: str = "given") -> MasterKey:
        try:
            raw = bytes.fromhex(text.strip())
        except ValueError:
            raise MasterKeyError(f"the ledger master key from {source} is not 64 hexadecimal digits") from None
        if len(raw) != KEY_BYTES:
            raise MasterKeyError(f"the ledger master key from {source} is not 64 hexadecimal digits")
        return cls(raw, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> MasterKey:
        """Read a key file; refuse one that others than its owner can read."""
        path = Path(path)
        mode = path.stat().st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise MasterKeyError(
                f"the master key file {path} can be read by other users (mode {stat.filemode(mode)}); "
                f"restrict it with: chmod 600 {path}"
            )
        return cls.from_hex(path.read_text(encoding="ascii"), str(path))

    def write(self, path: str | os.PathLike) -> None:
        """Write the key to a new file that only its owner can read; never overwrite an existing one."""
        path = Path(path)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise MasterKeyError(f"{path} already exists; a master key file is never overwritten") from None
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(self._raw.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    @property
    def id(self) -> str:
        """A public name for the key: it identifies the key without revealing it."""
        return hashlib.sha256(b"paroma-master-key-id/1" + self._raw).hexdigest()[:16]

    def hex(self) -> str:
        return self._raw.hex()

    def seal(self, key: SecretKey, context: str) -> dict:
        """Encrypt and authenticate `key`, bound to `context` (which block it belongs to)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self._raw).encrypt(nonce, key.raw, _aad(context))
        return {"sealed": base64.b64encode(nonce + sealed).decode("ascii"), "master_key_id": self.id}

    def unseal(self, sealed: dict, context: str) -> SecretKey:
        """The secret key in `sealed`; MasterKeyError if this is not the master key that sealed it, or it was altered."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if sealed.get("master_key_id") != self.id:
            raise MasterKeyError(
                f"wrong ledger master key: this key was sealed with master key {sealed.get('master_key_id')}, "
                f"but the key from {self.source} is {self.id}"
            )
        try:
            blob = base64.b64decode(sealed["sealed"], validate=True)
            raw = AESGCM(self._raw).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(context))
        except (KeyError, ValueError, InvalidTag):
            raise MasterKeyError("a sealed key does not open: it was altered, or belongs to another block") from None
        return SecretKey(raw)

    def __repr__(self) -> str:
        return f"MasterKey(id={self.id}, source={self.source!r})"


def key_file_for(ledger_path: str | os.PathLike) -> Path:
    """Where the master key file of a local ledger lives: beside it, named after it."""
    path = Path(ledger_path)
    return path.with_name(path.name + KEY_FILE_SUFFIX)


def find_master_key(key_file: str | os.PathLike | None) -> MasterKey | None:
    """The master key from PAROMA_LEDGER_KEY, else from `key_file` if there is one, else None."""
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    if text:
        return MasterKey.from_hex(text, f"the environment variable {ENVIRONMENT_VARIABLE}")
    if key_file is not None and Path(key_file).exists():
        return MasterKey.from_file(key_file)
    return None


def _aad(context: str) -> bytes:
    return b"paroma-seal/1|" + context.encode("utf-8")
