"""The issuer's side of blind issuance: per-process keys, the eligibility roll, ``issue``.

DESIGN §5, docs/issuance.md (the operator's protocol) and docs/credentials.md
(the cryptography). Privacy rule: identity is seen here, at issuance, and
nowhere else. The issuer sees who asks (by their one-time code) and the
blinded point ``B``; it never sees the pseudonym, the message or the
credential, and it stores nothing that links to the log. The only public
numbers are how many people are on a process's roll and how many have been
answered (:func:`roll_size`, :func:`issued_count`).

Keys (:class:`IssuerKeyring`, under ``<key_dir>``)::

    issuers/<process_id>.pub        public record: group key, threshold, share keys
    issuers/<process_id>.key        the secret key of a single-issuer process (0600)
    issuers/<process_id>.<i>.key    share i of a t-of-n key (0600), one per office
    roll/<process_id>.key           the roll key: HMAC key of the one-time codes (0600)

The roll (``urne.ledger.issuance.models``): one row per person and process with the
HMAC of their one-time code -- never the code -- and whether (and on which
day, never at what time) they were answered.

Errors::

    LedgerError
    ├── InvalidRequest
    │   ├── IssuanceRefused      unknown_process, bad_share_index, bad_code,
    │   │                        unknown_code, already_issued, blinded_mismatch
    │   ├── BadBlindedPoint      bad_blinded_point; also a verifier FormatError
    │   ├── RollRefused          bad_process_id, bad_person, duplicate_person,
    │   │                        already_on_roll, bad_roll_csv, bad_threshold
    │   └── IssuerKeyExists      issuer_key_exists
    ├── NotFound                 not_on_roll
    ├── LogMismatch
    │   └── UnsafeKeyFile        unsafe_key_file: a key readable by group or others
    └── KeyFileError             bad_key_file, no_roll_key: the key directory is
                                 damaged or incomplete (an operator's problem)
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from urne.ledger.db.engine import create_engine, write_connection
from urne.ledger.db.migrate import upgrade
from urne.ledger.errors import InvalidRequest, LedgerError, NotFound
from urne.ledger.issuance.models import RollPerson, RollShare
from urne.ledger.log.keys import UnsafeKeyFile
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import CREDENTIAL_SIZE, IssuerKey, split_key
from urne.verifier.errors import FormatError

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "MAX_SHARES",
    "BadBlindedPoint",
    "IssuanceRefused",
    "IssuerKeyExists",
    "IssuerKeyring",
    "IssuerRecord",
    "KeyFileError",
    "RollImport",
    "RollRefused",
    "has_credential",
    "import_roll",
    "import_roll_csv",
    "issue",
    "issued_count",
    "normalise_code",
    "open_roll",
    "replace_code",
    "roll_size",
]

#: Crockford's base32: no I, L, O, U, so a code read aloud or typed is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: 12 symbols of 5 bits: 60 bits from ``secrets``, printed as ``XXXX-XXXX-XXXX``.
CODE_LENGTH = 12
#: The manifest allows at most 255 shares (``process.issuer.shares``).
MAX_SHARES = 255

# Process ids as the manifest allows them (urne.verifier.civic.entries), matched in full:
# they also name key files, so no "/" and no leading "." can reach a path.
_PROCESS_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_MAX_PERSON = 256
# How people misread Crockford symbols, mapped to what was printed.
_CODE_READ = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE_TAG = b"urne/v1/roll-code\n"
_KEY_FORMAT = "urne/v1/issuer-key"
_PUBLIC_FORMAT = "urne/v1/issuer"
_ROLL_KEY_FORMAT = "urne/v1/roll-key"
_CHUNK = 500  # values per IN (...) query

_roll = RollPerson.__table__  # type: ignore[attr-defined]
_shares = RollShare.__table__  # type: ignore[attr-defined]


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class IssuanceRefused(InvalidRequest):
    """A credential request the issuer refuses; ``code`` says why."""

    code = "issuance_refused"


class BadBlindedPoint(InvalidRequest, FormatError):
    """``B`` is not a point of G2's prime-order subgroup other than the identity.

    Both a ledger :class:`~urne.ledger.errors.InvalidRequest` and a verifier
    :class:`~urne.verifier.errors.FormatError`, so either handler reports it as 4xx.
    """

    code = "bad_blinded_point"


class RollRefused(InvalidRequest):
    """An import (or keyring request) that is refused; nothing was stored."""

    code = "roll_refused"


class IssuerKeyExists(InvalidRequest):
    """A process has one issuer key for life: a second one is refused."""

    code = "issuer_key_exists"


class KeyFileError(LedgerError):
    """A key file is damaged, belongs elsewhere, or is missing where it must exist."""

    code = "bad_key_file"


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _check_process_id(process_id: object) -> str:
    if not isinstance(process_id, str) or not _PROCESS_ID.fullmatch(process_id):
        raise RollRefused(
            f"process id {process_id!r} is not 1-128 characters of A-Z a-z 0-9 . _ : - "
            "starting with a letter or digit",
            code="bad_process_id",
        )
    return process_id


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, path: Path) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise KeyFileError(f"{path}: a key is not valid base64") from exc


def _write_new(path: Path, text: str, mode: int) -> None:
    """Write a new file atomically: FileExistsError if ``path`` exists.

    As ``urne.ledger.log.keys`` does: a private temporary file, fsynced, then linked into
    place, so that nobody ever reads half a key and a race has one winner.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) owner-only; an existing one is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_json(path: Path, *, private: bool) -> dict[str, Any]:
    """Parse a key file; a private one readable by group or others is refused."""
    with open(path, encoding="utf-8") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if private and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UnsafeKeyFile(
                f"{path} is accessible by group or others (mode {stat.filemode(mode)}); "
                f"run: chmod 600 {path}"
            )
        text = fh.read()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise KeyFileError(f"{path} is not a key file (not JSON)") from exc
    if not isinstance(data, dict):
        raise KeyFileError(f"{path} is not a key file")
    return data


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """The public side of a process's issuer key: what the manifest announces.

    ``share_public_keys`` (``{i: f(i)*G1}``, empty for a single key) lets a
    citizen check each share holder's answer (``verify_blind_share``).
    """

    process_id: str
    public_key: bytes
    threshold: int
    shares: int
    share_public_keys: dict[int, bytes]

    def manifest_issuer(self) -> dict[str, object]:
        """The ``issuer`` object of the process manifest (DESIGN §4)."""
        return {
            "public_key": _b64(self.public_key),
            "threshold": self.threshold,
            "shares": self.shares,
        }


class IssuerKeyring:
    """Per-process issuer keys and roll keys in ``<key_dir>`` (see the module docstring).

    Directories are created ``0700``, secret files ``0600``; a secret file that
    group or others may access is refused. Every file names the process (and
    share) it belongs to, and a secret must match the public record, so a key
    copied under another process's name is refused rather than used.

    For a t-of-n key, :meth:`create` acts as the dealer: it draws the key,
    splits it (Shamir, :func:`urne.verifier.credentials.credential.split_key`) and writes every
    share into this directory; the whole key is never written. In production,
    each ``<process_id>.<i>.key`` is moved to the office that holds share ``i``
    (with the ``.pub`` record and the roll key, see docs/issuance.md) and the
    dealer's copies are destroyed. A distributed key generation, where no one
    ever holds the whole key, comes later.
    """

    def __init__(self, key_dir: str | Path) -> None:
        self.key_dir = Path(key_dir)
        self.issuers_dir = self.key_dir / "issuers"
        self.roll_dir = self.key_dir / "roll"

    def __repr__(self) -> str:
        return f"IssuerKeyring({str(self.key_dir)!r})"

    def _secret_path(self, process_id: str, share_index: int | None) -> Path:
        if share_index is None:
            return self.issuers_dir / f"{process_id}.key"
        return self.issuers_dir / f"{process_id}.{share_index}.key"

    def _public_path(self, process_id: str) -> Path:
        return self.issuers_dir / f"{process_id}.pub"

    # -- creating ----------------------------------------------------------------

    def create(self, process_id: str, *, threshold: int = 1, shares: int = 1) -> bytes:
        """Draw a fresh issuer key for ``process_id``; returns its public key (48 bytes).

        ``threshold``-of-``shares``: with ``shares == 1``, one secret key file;
        otherwise one share file per index ``1..shares``, any ``threshold`` of
        which can sign together. Refused if the process already has a key: one
        key per process, for life (docs/credentials.md §3.3).
        """
        _check_process_id(process_id)
        if not (
            isinstance(threshold, int)
            and isinstance(shares, int)
            and 1 <= threshold <= shares <= MAX_SHARES
        ):
            raise RollRefused(
                f"a {threshold!r}-of-{shares!r} key: need 1 <= threshold <= shares <= {MAX_SHARES}",
                code="bad_threshold",
            )
        _private_dir(self.key_dir)
        _private_dir(self.issuers_dir)
        public_path = self._public_path(process_id)
        if public_path.exists():
            raise IssuerKeyExists(f"process {process_id!r} already has an issuer key")
        key = IssuerKey.generate()
        parts: dict[int | None, IssuerKey] = {None: key}
        if shares > 1:
            parts = {i: share for i, share in split_key(key, threshold, shares).items()}
        record = {
            "format": _PUBLIC_FORMAT,
            "process_id": process_id,
            "public_key": _b64(key.public_key),
            "threshold": threshold,
            "shares": shares,
            "share_public_keys": {
                str(i): _b64(part.public_key) for i, part in parts.items() if i is not None
            },
        }
        files: list[tuple[Path, str, int]] = [
            (
                self._secret_path(process_id, index),
                json.dumps(
                    {
                        "format": _KEY_FORMAT,
                        "process_id": process_id,
                        "index": index,
                        "secret": _b64(part.to_bytes()),
                    }
                ),
                0o600,
            )
            for index, part in parts.items()
        ]
        # Secrets first, the public record last: a record means its keys exist.
        files.append((public_path, json.dumps(record, indent=1), 0o644))
        written: list[Path] = []
        for path, text, mode in files:
            try:
                _write_new(path, text, mode)
            except FileExistsError as exc:
                for done in written:
                    done.unlink(missing_ok=True)
                raise IssuerKeyExists(
                    f"process {process_id!r}: {path} already exists; nothing was written"
                ) from exc
            written.append(path)
        _fsync_dir(self.issuers_dir)
        return key.public_key

    # -- reading -----------------------------------------------------------------

    def record(self, process_id: str) -> IssuerRecord:
        """The public record of ``process_id``'s key (``unknown_process`` if none)."""
        try:
            _check_process_id(process_id)
        except RollRefused as exc:
            raise IssuanceRefused(str(exc), code="unknown_process") from exc
        path = self._public_path(process_id)
        try:
            data = _read_json(path, private=False)
        except FileNotFoundError as exc:
            raise IssuanceRefused(
                f"no issuer key for process {process_id!r}", code="unknown_process"
            ) from exc
        try:
            if data.get("format") != _PUBLIC_FORMAT or data.get("process_id") != process_id:
                raise ValueError
            threshold, shares = data["threshold"], data["shares"]
            if not (
                type(threshold) is int
                and type(shares) is int
                and 1 <= threshold <= shares <= MAX_SHARES
            ):
                raise ValueError
            share_keys = {int(i): _unb64(v, path) for i, v in data["share_public_keys"].items()}
            if sorted(share_keys) != (list(range(1, shares + 1)) if shares > 1 else []):
                raise ValueError
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeyFileError(f"{path} is not the issuer record of {process_id!r}") from exc
        return IssuerRecord(
            process_id=process_id,
            public_key=_unb64(data["public_key"], path),
            threshold=threshold,
            shares=shares,
            share_public_keys=share_keys,
        )

    def public_key(self, process_id: str) -> bytes:
        """The process's issuer public key (48 bytes), as its manifest announces it."""
        return self.record(process_id).public_key

    def _signer(self, process_id: str, share_index: int | None) -> tuple[IssuerRecord, IssuerKey]:
        record = self.record(process_id)
        if record.shares == 1:
            if share_index is not None:
                raise IssuanceRefused(
                    f"process {process_id!r} has a single issuer key, not shares",
                    code="bad_share_index",
                )
            want = record.public_key
        else:
            if type(share_index) is not int or share_index not in record.share_public_keys:
                raise IssuanceRefused(
                    f"process {process_id!r} has a {record.threshold}-of-{record.shares} "
                    f"key: say which share signs (1..{record.shares}), not {share_index!r}",
                    code="bad_share_index",
                )
            want = record.share_public_keys[share_index]
        path = self._secret_path(process_id, share_index)
        try:
            data = _read_json(path, private=True)
        except FileNotFoundError as exc:
            which = "its key" if share_index is None else f"share {share_index}"
            raise IssuanceRefused(
                f"this issuer does not hold {which} of process {process_id!r}",
                code="unknown_process",
            ) from exc
        if (
            data.get("format") != _KEY_FORMAT
            or data.get("process_id") != process_id
            or data.get("index") != share_index
        ):
            raise KeyFileError(f"{path} is not the key it is named after")
        try:
            key = IssuerKey.from_bytes(_unb64(data.get("secret"), path))
        except FormatError as exc:
            raise KeyFileError(f"{path} holds no valid issuer key") from exc
        if not hmac.compare_digest(key.public_key, want):
            raise KeyFileError(f"{path} does not match the public record of {process_id!r}")
        return record, key

    def signing_key(self, process_id: str, share_index: int | None = None) -> IssuerKey:
        """The secret key (``share_index=None``) or share ``share_index`` of the process."""
        return self._signer(process_id, share_index)[1]

    def _roll_key(self, process_id: str, *, create: bool) -> bytes | None:
        """The roll's HMAC key for the process; drawn on first use if ``create``."""
        path = self.roll_dir / f"{process_id}.key"
        try:
            data = _read_json(path, private=True)
        except FileNotFoundError:
            if not create:
                return None
            _private_dir(self.key_dir)
            _private_dir(self.roll_dir)
            secret = secrets.token_bytes(32)
            doc = {"format": _ROLL_KEY_FORMAT, "process_id": process_id, "secret": _b64(secret)}
            try:
                _write_new(path, json.dumps(doc), 0o600)
            except FileExistsError:
                return self._roll_key(process_id, create=False)
            _fsync_dir(self.roll_dir)
            return secret
        if data.get("format") != _ROLL_KEY_FORMAT or data.get("process_id") != process_id:
            raise KeyFileError(f"{path} is not the roll key of {process_id!r}")
        secret = _unb64(data.get("secret"), path)
        if len(secret) != 32:
            raise KeyFileError(f"{path}: a roll key is 32 bytes")
        return secret


# --------------------------------------------------------------------------
# One-time codes
# --------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _format_code(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise_code(code: str) -> str:
    """A code as typed (any case, with or without spaces and dashes, O for 0,
    I or L for 1) in its canonical 12-symbol form; ``bad_code`` if it cannot be one."""
    if isinstance(code, str) and len(code) <= 4 * CODE_LENGTH:
        raw = "".join(code.split()).replace("-", "").upper().translate(_CODE_READ)
        if len(raw) == CODE_LENGTH and all(c in CODE_ALPHABET for c in raw):
            return raw
    raise IssuanceRefused(
        f"a code is {CODE_LENGTH} letters and digits, like 7K3M-Q9XD-2HRT", code="bad_code"
    )


def _code_hash(roll_key: bytes, process_id: str, raw: str) -> bytes:
    """HMAC-SHA-256 under the roll key: what the roll stores instead of the code.

    Keyed, not merely salted: whoever copies the database alone cannot test
    guesses offline. With a salt in the database, one pass over the 2**60
    codes would recover every unused code of the process at once.
    """
    msg = _CODE_TAG + process_id.encode("utf-8") + b"\x00" + raw.encode("ascii")
    return hmac.new(roll_key, msg, hashlib.sha256).digest()


# --------------------------------------------------------------------------
# The roll
# --------------------------------------------------------------------------


def open_roll(url: str) -> Engine:
    """An engine on the roll's database, migrated to the newest schema.

    The roll may live in the log's database or, better, in a database of its
    own on the issuer's host (docs/issuance.md §5).
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
                sa.select(column).where(_roll.c.process_id == process_id, column.in_(chunk))
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
            raw = _new_code()
            digest = _code_hash(roll_key, process_id, raw)
            if digest not in fresh:
                batch[digest] = raw
        for digest in _existing(conn, process_id, _roll.c.code_hash, list(batch)):
            del batch[digest]
        fresh.update(batch)
    return [(raw, digest) for digest, raw in fresh.items()]


def _store(
    engine: Engine,
    keyring: IssuerKeyring,
    process_id: str,
    persons: list[str],
    skip_existing: bool,
) -> RollImport:
    """Add ``persons`` to the roll in one transaction: all of them or none."""
    try:
        with write_connection(engine) as conn, conn.begin():
            existing = _existing(conn, process_id, _roll.c.person, persons)
            if existing and not skip_existing:
                shown = ", ".join(repr(p) for p in [p for p in persons if p in existing][:5])
                raise RollRefused(
                    f"{len(existing)} of these people are already on the roll of "
                    f"{process_id!r} ({shown}{', ...' if len(existing) > 5 else ''}); "
                    "nothing was stored. Import only the new people, or skip those "
                    "already on it, who keep their earlier codes (urne roll import "
                    '--skip-existing; "skip_existing": true over HTTP)',
                    code="already_on_roll",
                )
            new = [p for p in persons if p not in existing]
            empty = (
                conn.execute(
                    sa.select(_roll.c.person).where(_roll.c.process_id == process_id).limit(1)
                ).first()
                is None
            )
            # A new key only for a new roll: a fresh key would silently void
            # every code already mailed.
            roll_key = keyring._roll_key(process_id, create=empty)
            if roll_key is None:
                raise KeyFileError(
                    f"the roll of {process_id!r} has codes, but its key is not in "
                    f"{keyring.roll_dir}: restore it from the backup",
                    code="no_roll_key",
                )
            codes = _fresh_codes(conn, roll_key, process_id, len(new))
            rows = [
                {"process_id": process_id, "person": p, "code_hash": digest}
                for p, (_, digest) in zip(new, codes, strict=True)
            ]
            for chunk in _chunks(rows):
                conn.execute(_roll.insert(), list(chunk))
    except sa.exc.IntegrityError as exc:
        raise RollRefused(
            f"another import to the roll of {process_id!r} ran at the same time; "
            "nothing was stored, import again",
            code="already_on_roll",
        ) from exc
    return RollImport(
        process_id=process_id,
        codes={p: _format_code(raw) for p, (raw, _) in zip(new, codes, strict=True)},
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
    _check_process_id(process_id)

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

    The header must name one ``person`` column (any case); other columns are
    ignored, and blank lines skipped. Errors name the line.
    """
    _check_process_id(process_id)
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            names = [h.strip().lower() for h in header or []]
            if names.count("person") != 1:
                raise RollRefused(
                    f"{path}: the first line must be a header with one 'person' column, "
                    f"got {header!r}",
                    code="bad_roll_csv",
                )
            col = names.index("person")
            items: list[tuple[str, object]] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                where = f"{path}, line {reader.line_num}"
                items.append((where, row[col] if col < len(row) else None))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RollRefused(f"{path} is not a UTF-8 CSV file: {exc}", code="bad_roll_csv") from exc
    return _store(engine, keyring, process_id, _collect(items), skip_existing)


def replace_code(engine: Engine, keyring: IssuerKeyring, process_id: str, person: str) -> str:
    """A new one-time code for someone not yet answered (their letter was lost);
    the old code stops working. Refused once they have been answered."""
    _check_process_id(process_id)
    roll_key = keyring._roll_key(process_id, create=False)
    with write_connection(engine) as conn, conn.begin():
        row = conn.execute(
            sa.select(_roll.c.issued)
            .where(_roll.c.process_id == process_id, _roll.c.person == person)
            .with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"this person is not on the roll of {process_id!r}", code="not_on_roll")
        if row.issued:
            raise IssuanceRefused(
                "this person has already been answered; a new code would be a second credential",
                code="already_issued",
            )
        if roll_key is None:
            raise KeyFileError(
                f"the roll key of {process_id!r} is not in {keyring.roll_dir}", code="no_roll_key"
            )
        [(raw, digest)] = _fresh_codes(conn, roll_key, process_id, 1)
        conn.execute(
            _roll.update()
            .where(_roll.c.process_id == process_id, _roll.c.person == person)
            .values(code_hash=digest)
        )
    return _format_code(raw)


# --------------------------------------------------------------------------
# Issuance
# --------------------------------------------------------------------------


def _check_blinded(blinded: object) -> bytes:
    if not isinstance(blinded, bytes | bytearray | memoryview):
        raise BadBlindedPoint(f"a blinded point is bytes, not {type(blinded).__name__}")
    blinded = bytes(blinded)
    if len(blinded) != CREDENTIAL_SIZE:
        raise BadBlindedPoint(
            f"a blinded point is {CREDENTIAL_SIZE} bytes (compressed G2), got {len(blinded)}"
        )
    if bls.current_backend().g2_decompress(blinded) is None:
        raise BadBlindedPoint(
            "the blinded point is not a canonical compressed point of G2's prime-order "
            "subgroup other than the identity"
        )
    return blinded


def _today() -> date:
    """The day in UTC: all the roll records of when (docs/issuance.md §3)."""
    return datetime.now(UTC).date()


def issue(
    engine: Engine,
    keyring: IssuerKeyring,
    process_id: str,
    code: str,
    blinded: bytes,
    *,
    share_index: int | None = None,
) -> bytes:
    """Answer one credential request: ``sk * B``, or share ``share_index``'s ``f(i) * B``.

    In order, each refusal leaving the roll untouched:

    1. the process has a key here (``unknown_process``) and the share, if the
       key is shared, is one this issuer holds (``bad_share_index``);
    2. the code is well-formed (``bad_code``) and ``B`` is a canonical point of
       G2's prime-order subgroup, not the identity (``bad_blinded_point``) --
       checked before any lock is taken;
    3. in one transaction holding the person's row (``SELECT ... FOR UPDATE``
       on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): the code is on the roll
       (``unknown_code``, compared in constant time); the person has not been
       answered (``already_issued``) -- for a shared key: not by this share,
       and every share signs the same ``B`` (``blinded_mismatch``); then sign,
       mark the person (the day only) and commit.

    The answer is returned only once the mark is committed; if signing or the
    commit fails, the transaction rolls back and the code stays usable. So two
    concurrent requests with one code never both get an answer. The key signs
    only for someone eligible, which also bounds how many timings of its
    secret operation an attacker can collect.
    """
    record, key = keyring._signer(process_id, share_index)
    raw = normalise_code(code)
    blinded = _check_blinded(blinded)
    roll_key = keyring._roll_key(process_id, create=False)
    if roll_key is None:
        raise KeyFileError(
            f"no roll key for {process_id!r} in {keyring.roll_dir}: import the roll, "
            "or install its key on this issuer",
            code="no_roll_key",
        )
    digest = _code_hash(roll_key, process_id, raw)
    shared = record.shares > 1
    with write_connection(engine) as conn, conn.begin():
        row = conn.execute(
            sa.select(_roll.c.person, _roll.c.code_hash, _roll.c.issued, _roll.c.blinded_hash)
            .where(_roll.c.process_id == process_id, _roll.c.code_hash == digest)
            .with_for_update()
        ).first()
        # The index finds the row; the comparison that decides is constant-time.
        # (Lookup timing could at most reveal HMAC outputs, which say nothing
        # about any other code.)
        if row is None or not hmac.compare_digest(row.code_hash, digest):
            raise IssuanceRefused(
                f"this code is not on the roll of {process_id!r}", code="unknown_code"
            )
        mark: dict[str, object] | None = {"issued": True, "issued_on": _today()}
        if not shared:
            if row.issued:
                raise IssuanceRefused(
                    "this code has already been used for a credential", code="already_issued"
                )
        else:
            done = conn.execute(
                sa.select(_shares.c.share_index).where(
                    _shares.c.process_id == process_id,
                    _shares.c.person == row.person,
                    _shares.c.share_index == share_index,
                )
            ).first()
            if done is not None:
                raise IssuanceRefused(
                    f"share {share_index} has already answered this code", code="already_issued"
                )
            fingerprint = hashlib.sha256(blinded).digest()
            if row.issued:
                if row.blinded_hash is None or not hmac.compare_digest(
                    row.blinded_hash, fingerprint
                ):
                    raise IssuanceRefused(
                        "other share holders signed a different blinded point for this code; "
                        "every share must sign the same one",
                        code="blinded_mismatch",
                    )
                mark = None
            else:
                assert mark is not None
                mark["blinded_hash"] = fingerprint
            conn.execute(
                _shares.insert(),
                [{"process_id": process_id, "person": row.person, "share_index": share_index}],
            )
        try:
            answer = key.sign_blinded(blinded)
        except FormatError as exc:  # checked above; kept for the type's sake
            raise BadBlindedPoint(str(exc)) from exc
        if mark is not None:
            conn.execute(
                _roll.update()
                .where(_roll.c.process_id == process_id, _roll.c.person == row.person)
                .values(**mark)
            )
    return answer


# --------------------------------------------------------------------------
# Public numbers, and one private answer
# --------------------------------------------------------------------------


def roll_size(engine: Engine, process_id: str) -> int:
    """How many people are on the roll of ``process_id`` (public)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(_roll.c.process_id == process_id)
            ).scalar_one()
        )


def issued_count(engine: Engine, process_id: str) -> int:
    """How many people of the roll have been answered (public).

    For a t-of-n key, a person counts from the first share's answer (their
    ``B`` is then fixed, so they can obtain at most one credential). Observers
    check that the log holds no more credentialed pseudonyms than this.
    """
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(
                    _roll.c.process_id == process_id, _roll.c.issued.is_(True)
                )
            ).scalar_one()
        )


def has_credential(engine: Engine, process_id: str, person: str) -> bool:
    """Whether ``person`` has been answered for ``process_id`` (``not_on_roll`` if
    they are not on it). For the institution's help desk, not for the public."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_roll.c.issued).where(
                _roll.c.process_id == process_id, _roll.c.person == person
            )
        ).first()
    if row is None:
        raise NotFound(f"this person is not on the roll of {process_id!r}", code="not_on_roll")
    return bool(row.issued)
