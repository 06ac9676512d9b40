"""SQL tables of the institutions' signed requests (SQLModel; SQLite or PostgreSQL).

They live in the issuance database, beside the roll (``urne.ledger.issuance.models``).
Institutions themselves are registered on the log (``institution`` entries,
docs/spec/entries.md §8), which is where the service reads their keys.

- ``institution``: what an earlier version kept of the institutions the
  operator registered (``name``, Ed25519 ``public_key``, ``added_at``). The
  service registers each such row on the log at start, then deletes it
  (``urne.ledger.civic.authority.carry_registrations``); nothing else reads it.
- ``institution_nonce``: the nonces of accepted signed requests with the
  request's ``created`` time (unix seconds), so that a replay is refused across
  restarts and across service processes. Rows older than the freshness window
  are purged: a request that old is refused as stale anyway.
- ``institution_process``: which institution created a process's issuer key;
  only that institution may import the process's roll.

Alembic migration ``0003_institutions`` creates these tables, and
``0004_institutions_on_log`` drops the foreign keys of the nonces and of the
owners to ``institution``: the names they hold are registered on the log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

__all__ = ["Institution", "InstitutionNonce", "InstitutionProcess"]


class Institution(SQLModel, table=True):
    __tablename__ = "institution"
    __table_args__ = (
        PrimaryKeyConstraint("name", name="pk_institution"),
        UniqueConstraint("public_key", name="uq_institution_key"),
    )

    name: str = Field(sa_column=Column(Text, nullable=False))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class InstitutionNonce(SQLModel, table=True):
    __tablename__ = "institution_nonce"
    __table_args__ = (
        PrimaryKeyConstraint("institution", "nonce", name="pk_institution_nonce"),
        Index("ix_institution_nonce_created", "created"),
    )

    institution: str = Field(sa_column=Column(Text, nullable=False))
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created: int = Field(sa_column=Column(BigInteger, nullable=False))


class InstitutionProcess(SQLModel, table=True):
    __tablename__ = "institution_process"
    __table_args__ = (PrimaryKeyConstraint("process_id", name="pk_institution_process"),)

    process_id: str = Field(sa_column=Column(Text, nullable=False))
    institution: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
