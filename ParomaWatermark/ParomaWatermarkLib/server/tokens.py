"""Bearer tokens of the ledger server: each names a holder and a role, and only its SHA-256 is ever stored.

A tokens file is JSON: {"tokens": [{"id": "alice", "role": "writer", "sha256": "<hex>"}, ...]}; the same document can
be given in the PAROMA_SERVER_TOKENS environment variable. `paroma-watermark token add` creates a token, prints it once
and stores its hash. Presented tokens are hashed and compared with every stored hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParomaError

READER, WRITER, AUDITOR, CUSTODIAN = "reader", "writer", "auditor", "custodian"
ROLES = (READER, WRITER, AUDITOR, CUSTODIAN)
ENVIRONMENT_VARIABLE = "PAROMA_SERVER_TOKENS"


class TokenConfigError(ParomaError):
    """The tokens file or variable cannot be used."""


@dataclass(frozen=True)
class Holder:
    """Who presented a token: its id and role."""

    id: str
    role: str

    def actor(self) -> dict:
        """How audit blocks name the holder."""
        return {"role": self.role, "token_id": self.id}


class TokenRegistry:
    """The server's tokens, by hash."""

    def __init__(self, entries: list[dict]) -> None:
        self._entries: list[tuple[bytes, Holder]] = []
        for entry in entries:
            try:
                holder = Holder(id=str(entry["id"]), role=str(entry["role"]))
                digest = bytes.fromhex(entry["sha256"])
            except (KeyError, TypeError, ValueError):
                raise TokenConfigError(f"a token entry needs an id, a role and a sha256 in hexadecimal: {entry!r}") from None
            if holder.role not in ROLES or len(digest) != 32:
                raise TokenConfigError(f"token {holder.id}: the role must be one of {', '.join(ROLES)} and sha256 64 digits")
            self._entries.append((digest, holder))

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> TokenRegistry:
        """Tokens from a file, else from PAROMA_SERVER_TOKENS; a server without tokens refuses to start."""
        if path is not None:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise TokenConfigError(f"cannot read the tokens file {path}: {exc.strerror}") from None
        elif os.environ.get(ENVIRONMENT_VARIABLE):
            text = os.environ[ENVIRONMENT_VARIABLE]
        else:
            raise TokenConfigError(
                f"no tokens: give --tokens FILE or set {ENVIRONMENT_VARIABLE}; create tokens with 'paroma-watermark token add'"
            )
        try:
            entries = json.loads(text)["tokens"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise TokenConfigError('the tokens document must be JSON: {"tokens": [{"id": ..., "role": ..., "sha256": ...}]}') from None
        registry = cls(entries)
        if not registry._entries:
            raise TokenConfigError("the tokens document holds no token")
        return registry

    def holder(self, token: str) -> Holder | None:
        """The holder of `token`, or None; every stored hash is compared, in constant time."""
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for digest, holder in self._entries:
            if hmac.compare_digest(presented, digest):
                found = holder
        return found


def add_token(path: str | os.PathLike, token_id: str, role: str) -> str:
    """Create a token for `token_id` with `role`, store its hash in the tokens file (created 0600), and return it.

    Tokens start with "pwt_": recognisable in a leaked log, and never taken for a command-line option.
    """
    if role not in ROLES:
        raise TokenConfigError(f"the role must be one of {', '.join(ROLES)}")
    path = Path(path)
    document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"tokens": []}
    if any(entry.get("id") == token_id for entry in document["tokens"]):
        raise TokenConfigError(f"{path} already has a token with id {token_id!r}")
    token = "pwt_" + secrets.token_urlsafe(32)
    document["tokens"].append({"id": token_id, "role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()})
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
    return token
