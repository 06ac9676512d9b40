"""SQL tables of the registered institutions (SQLModel; SQLite or PostgreSQL).

They live in the issuance database, beside the roll (``urne.ledger.issuance.models``):
the institutions are who may ask the issuer for a process's key and import its
roll (docs/spec/api.md §6). Nothing here refers to the log.

- ``institution``: one row per institution the operator registered: its
  ``name`` (the ``keyid`` of its signed requests), its Ed25519 public key and
  when it was added.
- ``institution_nonce``: the nonces of accepted signed requests with the
  request's ``created`` time (unix seconds), so that a replay is refused across
  restarts and across service processes. Rows older than the freshness window
  are purged: a request that old is refused as stale anyway.
- ``institution_process``: which institution created a process's issuer key;
  only that institution may import the process's roll.

Alembic migration ``0003_institutions`` creates exactly these tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKeyConstraint,
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
        ForeignKeyConstraint(
            ["institution"],
            ["institution.name"],
            name="fk_institution_nonce_institution",
            ondelete="CASCADE",
        ),
        Index("ix_institution_nonce_created", "created"),
    )

    institution: str = Field(sa_column=Column(Text, nullable=False))
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created: int = Field(sa_column=Column(BigInteger, nullable=False))


class InstitutionProcess(SQLModel, table=True):
    __tablename__ = "institution_process"
    __table_args__ = (
        PrimaryKeyConstraint("process_id", name="pk_institution_process"),
        ForeignKeyConstraint(
            ["institution"], ["institution.name"], name="fk_institution_process_institution"
        ),
    )

    process_id: str = Field(sa_column=Column(Text, nullable=False))
    institution: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
