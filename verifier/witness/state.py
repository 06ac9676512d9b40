"""The witness's state: one small SQLite file, readable by its owner only.

One row per log the witness follows: the size, root, cosigned note and time
of the last checkpoint it cosigned. A log enters with size 0 when it is first
configured and never leaves (removing and adding it again would let the log
start a second history: stop following it by removing it from the
configuration instead; its row stays).

Durability: WAL with ``synchronous=FULL``, so a committed compare-and-swap
survives the process being killed, and the machine losing power, before the
witness answers. Each thread has its own connection; the compare-and-swap is
one ``UPDATE ... WHERE origin = ? AND size = ? AND root IS ? AND
timestamp = ?`` that must change exactly one row, so of two requests racing
from the same stored state one wins (and a cosignature's time never goes
back).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from urne.verifier.errors import FormatError
from urne.verifier.witness.core import LogState

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB,
    note TEXT,
    timestamp INTEGER NOT NULL
)
"""


class SqliteStore:
    """The witness's state in the SQLite file ``path`` (created ``0600``)."""

    def __init__(self, path: str | os.PathLike[str], origins: Iterable[str] = ()) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            raise FormatError(
                f"{self.path} is readable by others (mode {mode:o}): chmod 600 {self.path}",
                code="unsafe_state_file",
            )
        self._local = threading.local()
        with self._connection() as db:
            db.execute(_SCHEMA)
            for origin in origins:
                db.execute(
                    "INSERT OR IGNORE INTO log (origin, size, root, note, timestamp) "
                    "VALUES (?, 0, NULL, NULL, 0)",
                    (origin,),
                )

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    def get(self, origin: str) -> LogState:
        row = (
            self._connection()
            .execute("SELECT size, root, note, timestamp FROM log WHERE origin = ?", (origin,))
            .fetchone()
        )
        if row is None:
            return LogState(0, None, None, 0)
        return LogState(int(row[0]), row[1], row[2], int(row[3]))

    def compare_and_swap(self, origin: str, old: LogState, new: LogState) -> bool:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR IGNORE INTO log (origin, size, root, note, timestamp) "
                "VALUES (?, 0, NULL, NULL, 0)",
                (origin,),
            )
            changed = db.execute(
                # the whole old state, its time included: a request that read
                # it before another one cosigned again loses, so times never go back
                "UPDATE log SET size = ?, root = ?, note = ?, timestamp = ? "
                "WHERE origin = ? AND size = ? AND root IS ? AND timestamp = ?",
                (
                    new.size,
                    new.root,
                    new.note,
                    new.timestamp,
                    origin,
                    old.size,
                    old.root,
                    old.timestamp,
                ),
            ).rowcount
            if changed != 1:
                db.execute("ROLLBACK")
                return False
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return True

    def origins(self) -> list[str]:
        return [r[0] for r in self._connection().execute("SELECT origin FROM log ORDER BY origin")]

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
