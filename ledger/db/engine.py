"""Database engines for the log: SQLite (embedded default) or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: readers never block the
sequencer, and a batch acknowledged to a client survives power loss, not only a
killed process. The sequencer opens its transactions with ``BEGIN IMMEDIATE``
so that two writer processes serialise on the database lock instead of failing
at commit time. On PostgreSQL the sequencer takes a transaction-level advisory
lock instead (:data:`SEQUENCER_LOCK_ID`).

An SQLite database holds the roll (who is eligible, who was answered) beside
the log, so its file and the ``-wal`` and ``-shm`` files next to it are the
owner's only (``0600``), whatever the process's umask: :func:`private_sqlite_files`
creates the database file ``0600`` before SQLite opens it, and SQLite gives the
files it creates beside a database the database's own permissions. A database
that group or others may read (one made before, or copied in) is tightened to
the owner's bits at opening, with a warning in the operator's log.
"""

from __future__ import annotations

import logging
import os
import stat
import urllib.parse
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url

from urne.ledger.errors import LedgerError

__all__ = [
    "SEQUENCER_LOCK_ID",
    "create_engine",
    "is_postgres",
    "normalise_url",
    "private_sqlite_files",
    "write_connection",
]

_log = logging.getLogger("urne.ledger")

#: The files SQLite keeps beside a database in WAL mode (and the rollback
#: journal it uses while switching to it).
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

#: Key of the PostgreSQL advisory lock held by the sequencer while it appends.
SEQUENCER_LOCK_ID = 0x75726E65  # "urne"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _sqlite_file(database: str | None, query: Any) -> tuple[Path, bool] | None:
    """The file an SQLite URL's database names, and whether SQLite would
    create it; ``None`` for a database in memory."""
    if not database or database == ":memory:":
        return None
    if database.startswith("file:") and str(query.get("uri", "")).lower() in ("true", "1"):
        parts = urllib.parse.urlsplit(database)
        mode = urllib.parse.parse_qs(parts.query).get("mode", ["rwc"])[0]
        if mode == "memory" or not parts.path:
            return None
        return Path(urllib.parse.unquote(parts.path)), mode == "rwc"
    return Path(database), True


def private_sqlite_files(path: Path, *, create: bool = True) -> None:
    """Make ``path`` (an SQLite database) and the files beside it the owner's only.

    A new database is created here, empty and ``0600`` (its directory ``0700``
    if new), so that SQLite opens a file no one else could read, not even for
    a moment; SQLite then creates ``-wal`` and ``-shm`` with the database's
    permissions. An existing database, and the files beside it, keep only
    their owner's bits; one this process may not change is refused
    (:class:`~urne.ledger.errors.LedgerError`). ``create=False`` (an SQLite
    URI opened ``mode=ro`` or ``mode=rw``) creates nothing."""
    if create and not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o600) if create else -1
    except FileExistsError:
        fd = -1
    if fd >= 0:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask took away from 0600
        finally:
            os.close(fd)
    for file in (path, *(path.with_name(path.name + side) for side in SQLITE_SIDE_FILES)):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if not mode & 0o077:
            continue
        try:
            file.chmod(mode & 0o700)
        except OSError as exc:
            raise LedgerError(
                f"{file} may be read by group or others (mode {mode:04o}) and cannot be "
                f"made the owner's only ({exc}); it holds the roll: chmod 600 it"
            ) from exc
        _log.warning(
            "%s could be read by group or others (mode %04o); it is now %04o",
            file,
            mode,
            mode & 0o700,
        )


def create_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        file = _sqlite_file(u.database, u.query)
        if file is not None:
            private_sqlite_files(file[0], create=file[1])
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, **kwargs
        )
        _sqlite_setup(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def write_connection(engine: Engine) -> Connection:
    """A connection whose transactions take the write lock at once on SQLite
    (``BEGIN IMMEDIATE``, set up by :func:`_sqlite_setup`); on PostgreSQL the
    callers lock what they change (advisory lock, ``FOR UPDATE``)."""
    return engine.connect().execution_options(urne_begin="IMMEDIATE")


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (the driver's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("urne_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
