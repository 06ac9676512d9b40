"""SQL tables of the eligibility roll (SQLModel; SQLite or PostgreSQL).

The roll is the issuer's private record, kept apart from the log: no table
here refers to a log table, and nothing here names a pseudonym, a blinded
point's owner in the log, a credential or a ballot (docs/spec/issuance.md).

- ``roll_person``: one row per eligible person and process. ``person`` is the
  institution's opaque identifier (a census number, say); it is needed to
  refuse a second credential and to answer "has this person got one".
  ``code_hash`` is the HMAC of the person's one-time code, never the code.
  ``issued`` and ``issued_on`` (a day, never a time: timing links a request to
  a ballot) say whether the person has been answered. ``blinded_hash`` is
  SHA-256 of the blinded point answered for this person: the one point a
  lost answer is given again for, and the one the share holders of a t-of-n
  key all sign (NULL until the first answer, and on rows an earlier version
  answered for a single key). Being uniformly random and independent of the
  pseudonym, the blinded point links to nothing.
- ``roll_share``: for t-of-n keys, which share holders have answered whom,
  so that each signs at most once per person.

Alembic migration ``0002_roll`` creates exactly these tables.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

__all__ = [
    "REPLACEMENTS",
    "ROLL",
    "SHARES",
    "SUBJECTS",
    "OidcSubject",
    "RollPerson",
    "RollReplacement",
    "RollShare",
]


class RollPerson(SQLModel, table=True):
    __tablename__ = "roll_person"
    __table_args__ = (
        PrimaryKeyConstraint("process_id", "person", name="pk_roll_person"),
        UniqueConstraint("process_id", "code_hash", name="uq_roll_person_code"),
    )

    process_id: str = Field(sa_column=Column(Text, nullable=False))
    person: str = Field(sa_column=Column(Text, nullable=False))
    code_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    issued: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    issued_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    blinded_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class RollShare(SQLModel, table=True):
    __tablename__ = "roll_share"
    __table_args__ = (
        PrimaryKeyConstraint("process_id", "person", "share_index", name="pk_roll_share"),
        ForeignKeyConstraint(
            ["process_id", "person"],
            ["roll_person.process_id", "roll_person.person"],
            name="fk_roll_share_person",
            ondelete="CASCADE",
        ),
    )

    process_id: str = Field(sa_column=Column(Text, nullable=False))
    person: str = Field(sa_column=Column(Text, nullable=False))
    share_index: int = Field(sa_column=Column(SmallInteger, nullable=False))


class RollReplacement(SQLModel, table=True):
    """One row per code the help desk replaced (a letter lost): how many there
    were in a process is public (``GET /issuance/{id}``), who they were is not
    kept here. Migration ``0005_code_replacements``."""

    __tablename__ = "roll_replacement"
    __table_args__ = (PrimaryKeyConstraint("id", name="pk_roll_replacement"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, autoincrement=True))
    process_id: str = Field(sa_column=Column(Text, nullable=False, index=True))
    replaced_on: date = Field(sa_column=Column(Date, nullable=False))


class OidcSubject(SQLModel, table=True):
    """One row per person an identity provider vouched for and who was answered
    (docs/spec/eligibility.md §3): ``subject_hash`` is HMAC-SHA256, under the
    process's roll key, of the provider and the ``sub`` it gave -- never the
    ``sub`` itself, nor a name or any other claim. ``issued_on`` a day, never a
    time; ``blinded_hash`` the SHA-256 of the one blinded point this person's
    answer is given again for. A row is written in the transaction that
    answers, so a refusal leaves none. Migration ``0008_oidc_subjects``."""

    __tablename__ = "oidc_subject"
    __table_args__ = (PrimaryKeyConstraint("process_id", "subject_hash", name="pk_oidc_subject"),)

    process_id: str = Field(sa_column=Column(Text, nullable=False))
    subject_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    issued_on: date = Field(sa_column=Column(Date, nullable=False))
    blinded_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


#: The tables as SQLAlchemy Core sees them, for the roll's bulk statements.
ROLL = RollPerson.__table__  # type: ignore[attr-defined]
SHARES = RollShare.__table__  # type: ignore[attr-defined]
REPLACEMENTS = RollReplacement.__table__  # type: ignore[attr-defined]
SUBJECTS = OidcSubject.__table__  # type: ignore[attr-defined]
