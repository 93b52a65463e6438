"""The ledger in PostgreSQL, for ledger servers that outgrow one machine: the same schema and behaviour as the SQLite
file, with PostgreSQL's table lock in place of SQLite's write lock.

Needs psycopg (pip install 'paroma-watermark[postgresql]'). The master key comes from PAROMA_LEDGER_KEY or is given:
a database has no folder to keep a key file in.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import LedgerError
from .local import _SCHEMA, LocalLedger
from .sealing import MasterKey

_POSTGRES_SCHEMA = (
    _SCHEMA.replace("idx INTEGER PRIMARY KEY", "idx BIGINT PRIMARY KEY")
    .replace("block INTEGER", "block BIGINT")
    .replace("prefix INTEGER", "prefix BIGINT")
    .replace("BLOB", "BYTEA")
)


def is_postgres_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


class PostgresLedger(LocalLedger):
    """A ledger kept in a PostgreSQL database, given by its URL (postgresql://user@host:port/database)."""

    def __init__(self, url: str, master_key: MasterKey | str | None = None) -> None:
        try:
            import psycopg
        except ImportError:
            raise LedgerError("a PostgreSQL ledger needs psycopg: pip install 'paroma-watermark[postgresql]'") from None
        self.path = url
        self._master_key = MasterKey.from_hex(master_key) if isinstance(master_key, str) else master_key
        self._lock = threading.RLock()
        self._database_errors = (psycopg.Error,)
        try:
            self._db = psycopg.connect(url, autocommit=True)
            self._create_schema()
            self._ensure_genesis()
        except psycopg.Error as exc:
            raise LedgerError(f"the PostgreSQL ledger {_without_password(url)} cannot be used ({str(exc).strip()})") from None

    def _create_schema(self) -> None:
        with self._lock:
            self._db.execute("SELECT pg_advisory_lock(727272)")
            try:
                for statement in filter(str.strip, _POSTGRES_SCHEMA.split(";")):
                    self._db.execute(statement)
            finally:
                self._db.execute("SELECT pg_advisory_unlock(727272)")

    def _execute(self, statement: str, parameters: Sequence = ()):
        return self._db.execute(statement.replace("?", "%s"), parameters)

    def _executemany(self, statement: str, rows: list) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(statement.replace("?", "%s"), rows)

    def _begin_write(self) -> None:
        self._db.execute("BEGIN")
        self._db.execute("LOCK TABLE blocks IN EXCLUSIVE MODE")

    def _key_file(self) -> Path | None:
        return None

    def __repr__(self) -> str:
        return f"PostgresLedger({_without_password(self.path)!r})"


def _without_password(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{tail}"
