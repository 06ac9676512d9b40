"""The eligibility roll: who may ask for a credential, by one-time code, and
who was answered (on which day, never at what time)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from urne.ledger.db.engine import create_engine, write_connection
from urne.ledger.db.migrate import upgrade
from urne.ledger.errors import NotFound
from urne.ledger.issuance.codes import code_hash, format_code, new_code, normalise_code
from urne.ledger.issuance.errors import (
    IssuanceConflict,
    IssuanceRefused,
    KeyFileError,
    RollConflict,
    RollRefused,
)
from urne.ledger.issuance.keyring import IssuerKeyring, check_process_id
from urne.ledger.issuance.models import REPLACEMENTS, ROLL, SUBJECTS
from urne.verifier.citizen.rollcsv import RollFileError, read_roll_csv

_MAX_PERSON = 256


_CHUNK = 500  # values per IN (...) query


def open_roll(url: str) -> Engine:
    """An engine on the roll's database, migrated to the newest schema.

    The roll may live in the log's database or, better, in a database of its
    own on the issuer's host (docs/spec/issuance.md §5).
    """
    engine = create_engine(url)
    upgrade(engine)
    return engine


@dataclass(frozen=True, slots=True, repr=False)
class RollImport:
    """What an import added: ``codes`` maps each new person to their one-time code.

    The codes exist only here -- the roll keeps their HMAC -- so print and mail
    them, then drop this object. ``skipped`` lists the people already on the
    roll (only with ``skip_existing=True``); they keep their earlier code.
    """

    process_id: str
    codes: dict[str, str]
    skipped: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never the codes: a repr ends up in logs
        return (
            f"RollImport(process_id={self.process_id!r}, added={len(self.codes)}, "
            f"skipped={len(self.skipped)})"
        )


def _person(value: object, where: str) -> str:
    """An opaque identifier: surrounding blanks dropped, otherwise taken as it is."""
    if not isinstance(value, str):
        raise RollRefused(f"{where}: a person is a string, not {value!r}", code="bad_person")
    person = value.strip()
    if not person or len(person) > _MAX_PERSON or not person.isprintable():
        raise RollRefused(
            f"{where}: a person is 1-{_MAX_PERSON} printable characters, not {value!r}",
            code="bad_person",
        )
    return person


def _collect(items: Iterable[tuple[str, object]]) -> list[str]:
    """Validate ``(where, person)`` pairs; a person twice in one input is refused."""
    seen: dict[str, str] = {}
    for where, value in items:
        person = _person(value, where)
        if person in seen:
            raise RollRefused(
                f"{where}: person {person!r} is already in {seen[person]}; nothing was stored",
                code="duplicate_person",
            )
        seen[person] = where
    return list(seen)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _existing(conn: Connection, process_id: str, column: Any, values: Sequence[Any]) -> set[Any]:
    found: set[Any] = set()
    for chunk in _chunks(values):
        found.update(
            conn.execute(
                sa.select(column).where(ROLL.c.process_id == process_id, column.in_(chunk))
            ).scalars()
        )
    return found


def _fresh_codes(
    conn: Connection, roll_key: bytes, process_id: str, count: int
) -> list[tuple[str, bytes]]:
    """``count`` new codes with their hashes, distinct from each other and from
    every code of the process's roll (60-bit codes collide: ~4e-7 in a million)."""
    fresh: dict[bytes, str] = {}
    while len(fresh) < count:
        batch: dict[bytes, str] = {}
        for _ in range(count - len(fresh)):
            raw = new_code()
            digest = code_hash(roll_key, process_id, raw)
            if digest not in fresh:
                batch[digest] = raw
        for digest in _existing(conn, process_id, ROLL.c.code_hash, list(batch)):
            del batch[digest]
        fresh.update(batch)
    return [(raw, digest) for digest, raw in fresh.items()]


def _store(
    engine: Engine,
    keyring: IssuerKeyring,
    process_id: str,
    persons: list[str],
    skip_existing: bool,
    given: dict[str, str] | None = None,
) -> RollImport:
    """Add ``persons`` to the roll in one transaction: all of them or none;
    with ``given`` (person -> normalised code), under those codes."""
    try:
        with write_connection(engine) as conn, conn.begin():
            existing = _existing(conn, process_id, ROLL.c.person, persons)
            if existing and not skip_existing:
                shown = ", ".join(repr(p) for p in [p for p in persons if p in existing][:5])
                raise RollConflict(
                    f"{len(existing)} of these people are already on the roll of "
                    f"{process_id!r} ({shown}{', ...' if len(existing) > 5 else ''}); "
                    "nothing was stored. Import only the new people, or skip those "
                    "already on it, who keep their earlier codes ("
                    + (
                        "urne office roll --skip-existing)"
                        if given is not None
                        else 'urne roll import --skip-existing; "skip_existing": true over HTTP)'
                    ),
                    code="already_on_roll",
                )
            new = [p for p in persons if p not in existing]
            empty = (
                conn.execute(
                    sa.select(ROLL.c.person).where(ROLL.c.process_id == process_id).limit(1)
                ).first()
                is None
            )
            # A new key only for a new roll: a fresh key would silently void
            # every code already mailed.
            roll_key = keyring.roll_key(process_id, create=empty)
            if roll_key is None:
                raise KeyFileError(
                    f"the roll of {process_id!r} has codes, but its key is not in "
                    f"{keyring.roll_dir}: restore it from the backup",
                    code="no_roll_key",
                )
            if given is None:
                codes = _fresh_codes(conn, roll_key, process_id, len(new))
            else:
                codes = [(given[p], code_hash(roll_key, process_id, given[p])) for p in new]
                taken = _existing(conn, process_id, ROLL.c.code_hash, [d for _, d in codes])
                if taken or len({d for _, d in codes}) != len(codes):
                    raise RollConflict(
                        f"a code of this copy is already on the roll of {process_id!r} or twice "
                        "in the file; nothing was stored",
                        code="duplicate_code",
                    )
            rows = [
                {"process_id": process_id, "person": p, "code_hash": digest}
                for p, (_, digest) in zip(new, codes, strict=True)
            ]
            for chunk in _chunks(rows):
                conn.execute(ROLL.insert(), list(chunk))
    except sa.exc.IntegrityError as exc:
        raise RollConflict(
            f"another import to the roll of {process_id!r} ran at the same time; "
            "nothing was stored, import again",
            code="already_on_roll",
        ) from exc
    return RollImport(
        process_id=process_id,
        codes={p: format_code(raw) for p, (raw, _) in zip(new, codes, strict=True)},
        skipped=tuple(p for p in persons if p in existing),
    )


def import_roll(
    engine: Engine,
    keyring: IssuerKeyring,
    process_id: str,
    rows: Iterable[tuple[str, ...]],
    *,
    skip_existing: bool = False,
) -> RollImport:
    """Put people on the roll of ``process_id``; returns their one-time codes, once.

    Each row's first field is the person (an identifier the institution uses,
    such as a census number); further fields are ignored. All or nothing: a
    malformed person, a person twice in ``rows``, or -- unless
    ``skip_existing`` -- a person already on this roll refuses the whole
    import and stores nothing. Re-importing someone never gives them a second
    code. The roll key is drawn with the first import of the process.
    """
    check_process_id(process_id)

    def located() -> Iterator[tuple[str, object]]:
        for n, row in enumerate(rows, 1):
            if isinstance(row, str | bytes) or not isinstance(row, Sequence) or not row:
                raise RollRefused(
                    f"row {n}: a row is a tuple of fields, the first the person; got {row!r}",
                    code="bad_person",
                )
            yield f"row {n}", row[0]

    return _store(engine, keyring, process_id, _collect(located()), skip_existing)


def import_roll_csv(
    engine: Engine,
    keyring: IssuerKeyring,
    process_id: str,
    path: str | Path,
    *,
    skip_existing: bool = False,
) -> RollImport:
    """:func:`import_roll` from a CSV file (UTF-8, a BOM allowed) with a header.

    The file is read by :func:`urne.verifier.citizen.rollcsv.read_roll_csv`
    (a header naming one ``person`` column; an empty row is refused); errors
    name the line.
    """
    check_process_id(process_id)
    try:
        rows = read_roll_csv(path)
    except RollFileError as exc:
        raise RollRefused(str(exc), code=exc.code) from exc
    items = [(f"{path}, line {line}", person) for line, person in rows]
    return _store(engine, keyring, process_id, _collect(items), skip_existing)


def copy_roll_csv(
    engine: Engine,
    keyring: IssuerKeyring,
    process_id: str,
    path: str | Path,
    *,
    skip_existing: bool = False,
) -> RollImport:
    """Put the people of a ``person,code`` CSV on this roll under those very
    codes: the copy an office of a t-of-n issuer keeps of the roll another
    office drew the codes for (docs/spec/issuer-ceremony.md §4). Each office
    hashes the codes under a roll key of its own. All or nothing; a code
    that does not parse, a person or a code twice, is refused."""
    check_process_id(process_id)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header != ["person", "code"]:
                raise RollRefused(
                    f"{path}: the header is person,code (as urne roll import writes it), "
                    f"found {header!r}",
                    code="bad_roll_file",
                )
            items, given = [], {}
            for line, row in enumerate(reader, start=2):
                if len(row) != 2:
                    raise RollRefused(
                        f"{path}, line {line}: two fields, person and code", code="bad_roll_file"
                    )
                try:
                    raw = normalise_code(row[1])
                except IssuanceRefused as exc:
                    raise RollRefused(f"{path}, line {line}: {exc}", code="bad_code") from exc
                where = f"{path}, line {line}"
                items.append((where, row[0]))
                given[_person(row[0], where)] = raw
    except OSError as exc:
        raise RollRefused(
            f"cannot read {path}: {exc.strerror or exc}", code="bad_roll_file"
        ) from exc
    return _store(engine, keyring, process_id, _collect(items), skip_existing, given)


def replace_code(
    engine: Engine,
    keyring: IssuerKeyring,
    process_id: str,
    person: str,
    *,
    code: str | None = None,
) -> str:
    """A new one-time code for someone not yet answered (their letter was lost);
    the old code stops working. Refused once they have been answered. Each
    replacement is counted (:func:`codes_replaced`, published), in the same
    transaction as the new code.

    ``code``: this code rather than a fresh one, for the other offices of an
    issuer with no dealer once one of them drew it (``duplicate_code`` if the
    roll has it already)."""
    check_process_id(process_id)
    given = None
    if code is not None:
        try:
            given = normalise_code(code)
        except IssuanceRefused as exc:
            raise RollRefused(str(exc), code="bad_code") from exc
    roll_key = keyring.roll_key(process_id, create=False)
    with write_connection(engine) as conn, conn.begin():
        row = conn.execute(
            sa.select(ROLL.c.issued)
            .where(ROLL.c.process_id == process_id, ROLL.c.person == person)
            .with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"this person is not on the roll of {process_id!r}", code="not_on_roll")
        if row.issued:
            raise IssuanceConflict(
                "this person has already been answered; a new code would be a second credential",
                code="already_issued",
            )
        if roll_key is None:
            raise KeyFileError(
                f"the roll key of {process_id!r} is not in {keyring.roll_dir}", code="no_roll_key"
            )
        if given is None:
            [(raw, digest)] = _fresh_codes(conn, roll_key, process_id, 1)
        else:
            raw, digest = given, code_hash(roll_key, process_id, given)
            if _existing(conn, process_id, ROLL.c.code_hash, [digest]):
                raise RollConflict(
                    f"this code is already on the roll of {process_id!r}", code="duplicate_code"
                )
        conn.execute(
            ROLL.update()
            .where(ROLL.c.process_id == process_id, ROLL.c.person == person)
            .values(code_hash=digest)
        )
        conn.execute(
            REPLACEMENTS.insert(),
            [{"process_id": process_id, "replaced_on": datetime.now(UTC).date()}],
        )
    return format_code(raw)


def codes_replaced(engine: Engine, process_id: str) -> int:
    """How many codes of ``process_id`` the help desk replaced (public)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(REPLACEMENTS.c.process_id == process_id)
            ).scalar_one()
        )


def roll_size(engine: Engine, process_id: str) -> int:
    """How many people are on the roll of ``process_id`` (public)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(ROLL.c.process_id == process_id)
            ).scalar_one()
        )


def issued_count(engine: Engine, process_id: str) -> int:
    """How many people of the roll have been answered (public).

    For a t-of-n key, a person counts from the first share's answer (their
    ``B`` is then fixed, so they can obtain at most one credential). A person
    an identity provider vouched for counts once answered
    (docs/spec/eligibility.md). Observers check that the log holds no more
    credentialed pseudonyms than this (``urne-verify audit``).
    """
    with engine.connect() as conn:
        on_roll = conn.execute(
            sa.select(sa.func.count()).where(
                ROLL.c.process_id == process_id, ROLL.c.issued.is_(True)
            )
        ).scalar_one()
        subjects = conn.execute(
            sa.select(sa.func.count()).where(SUBJECTS.c.process_id == process_id)
        ).scalar_one()
    return int(on_roll) + int(subjects)


def has_credential(engine: Engine, process_id: str, person: str) -> bool:
    """Whether ``person`` has been answered for ``process_id`` (``not_on_roll`` if
    they are not on it). For the institution's help desk, not for the public."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(ROLL.c.issued).where(ROLL.c.process_id == process_id, ROLL.c.person == person)
        ).first()
    if row is None:
        raise NotFound(f"this person is not on the roll of {process_id!r}", code="not_on_roll")
    return bool(row.issued)
