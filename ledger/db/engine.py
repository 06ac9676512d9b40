"""Database engines for the log: SQLite (embedded default) or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: readers never block the
sequencer, and a batch acknowledged to a client survives power loss, not only a
killed process. The sequencer opens its transactions with ``BEGIN IMMEDIATE``
so that two writer processes serialise on the database lock instead of failing
at commit time. On PostgreSQL the sequencer takes a transaction-level advisory
lock instead (:data:`SEQUENCER_LOCK_ID`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url

__all__ = ["SEQUENCER_LOCK_ID", "create_engine", "is_postgres", "normalise_url", "write_connection"]

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


def create_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
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
