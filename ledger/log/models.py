"""SQL tables of the log (SQLModel; SQLite or PostgreSQL).

- ``log_entry``: the entries by index, byte for byte as appended. Their leaf
  hashes (the level-0 nodes) are not stored: hashing an entry is cheaper than
  writing 32 more bytes per entry, and a proof needs at most 15 of them.
- ``log_node``: the hash of every complete subtree ``(level, idx)`` at the
  levels that are multiples of ``NODE_STRIDE`` (4, 8, 12, ...). A node between
  two stored levels is folded from at most ``2**(NODE_STRIDE-1)`` stored hashes
  in the same read, so proofs stay one query while the log writes about one
  node row per fifteen entries. Tile levels (multiples of 8) are stored as such.
- ``log_checkpoint``: every signed checkpoint, one per size. The primary key on
  ``size`` is a second line of defence against a fork: two sequencers can never
  both store a checkpoint for the same size.
- ``log_meta``: the origin and verifier key the database belongs to, so that a
  log is never reopened with another name or key.
- ``log_cosignature``: the witnesses' cosignatures of checkpoints, one per
  checkpoint size and witness (``name+hex key ID``), each line exactly as the
  witness returned it (``urne.ledger.log.witnessing``).
- ``log_snapshot``: the admission's state at one checkpoint size, opaque to
  the log (the civic record's, ``urne.ledger.civic.snapshot``), so that a
  restarted service catches up from there instead of from the first entry.
  Only the latest is kept.

Alembic migrations in ``ledger/db/migrations`` create exactly these tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Integer, LargeBinary, SmallInteger, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "NODE_STRIDE",
    "LogCheckpoint",
    "LogCosignature",
    "LogEntry",
    "LogMeta",
    "LogNode",
    "LogSnapshot",
]

#: Interior nodes are stored at the levels that are multiples of this.
NODE_STRIDE = 4

# SQLite turns only "INTEGER PRIMARY KEY" into the rowid, the fastest key it has.
_Index = BigInteger().with_variant(Integer(), "sqlite")


class LogEntry(SQLModel, table=True):
    __tablename__ = "log_entry"

    idx: int = Field(sa_column=Column(_Index, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogNode(SQLModel, table=True):
    __tablename__ = "log_node"
    __table_args__ = {"sqlite_with_rowid": False}

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogCheckpoint(SQLModel, table=True):
    __tablename__ = "log_checkpoint"

    size: int = Field(sa_column=Column(_Index, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LogMeta(SQLModel, table=True):
    __tablename__ = "log_meta"

    key: str = Field(sa_column=Column(Text, primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


class LogCosignature(SQLModel, table=True):
    __tablename__ = "log_cosignature"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    witness: str = Field(sa_column=Column(Text, primary_key=True))
    line: str = Field(sa_column=Column(Text, nullable=False))
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))


class LogSnapshot(SQLModel, table=True):
    __tablename__ = "log_snapshot"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
