"""Registered institutions: who may sign requests to the issuer (docs/spec/api.md §6).

An institution is a name and an Ed25519 public key, registered by the
operator (``urne institution add``). It signs the requests that are not log
entries -- creating a process's issuer key, importing its roll -- with the same
key that signs its manifests, closes and results. This module keeps, in the
issuance database (``urne.ledger.institutions.models``):

- the registered institutions (:func:`add_institution`, :func:`institutions`,
  :func:`institution_key`);
- the nonces of accepted requests (:func:`use_nonce`): a nonce is accepted
  once per institution; rows older than the freshness window are purged;
- which institution created each process's issuer key (:func:`create_issuer_key`,
  :func:`process_owner`): only that one may import the process's roll.

Errors (all ``InvalidRequest``, nothing stored): ``bad_institution_name``,
``bad_public_key``, ``institution_exists``, ``key_in_use``; and from
:func:`create_issuer_key` the keyring's own (``issuer_key_exists``,
``bad_process_id``, ``bad_threshold``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from urne.ledger.db.engine import write_connection
from urne.ledger.errors import InvalidRequest
from urne.ledger.institutions.models import Institution, InstitutionNonce, InstitutionProcess
from urne.ledger.issuance.errors import IssuerKeyExists
from urne.ledger.issuance.keyring import IssuerKeyring, IssuerRecord
from urne.verifier.civic.entries import IDENTIFIER

__all__ = [
    "INSTITUTION_NAME",
    "InstitutionRefused",
    "RegisteredInstitution",
    "add_institution",
    "create_issuer_key",
    "institution_key",
    "institutions",
    "process_owner",
    "use_nonce",
]

#: An institution's name: also the ``keyid`` of its signed requests.
INSTITUTION_NAME = IDENTIFIER
PUBLIC_KEY_SIZE = 32

_institution = Institution.__table__  # type: ignore[attr-defined]
_nonce = InstitutionNonce.__table__  # type: ignore[attr-defined]
_owner = InstitutionProcess.__table__  # type: ignore[attr-defined]


class InstitutionRefused(InvalidRequest):
    """A registration (or a request about institutions) that is refused."""

    code = "institution_refused"


@dataclass(frozen=True, slots=True)
class RegisteredInstitution:
    name: str
    public_key: bytes
    added_at: datetime


def check_name(name: object) -> str:
    if not isinstance(name, str) or not INSTITUTION_NAME.fullmatch(name):
        raise InstitutionRefused(
            f"institution name {name!r} is not 1-128 characters of A-Z a-z 0-9 . _ : - "
            "starting with a letter or digit",
            code="bad_institution_name",
        )
    return name


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def add_institution(engine: Engine, name: str, public_key: bytes) -> RegisteredInstitution:
    """Register ``name`` with its Ed25519 public key (32 bytes). A name, or a
    key, is registered once: ``institution_exists`` / ``key_in_use``."""
    check_name(name)
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE:
        raise InstitutionRefused(
            f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes", code="bad_public_key"
        )
    added = datetime.now(UTC).replace(microsecond=0)
    try:
        with write_connection(engine) as conn, conn.begin():
            if conn.execute(
                sa.select(_institution.c.name).where(_institution.c.name == name)
            ).first():
                raise InstitutionRefused(
                    f"institution {name!r} is already registered", code="institution_exists"
                )
            other = conn.execute(
                sa.select(_institution.c.name).where(_institution.c.public_key == public_key)
            ).first()
            if other is not None:
                raise InstitutionRefused(
                    f"this key is already registered, as {other.name!r}", code="key_in_use"
                )
            conn.execute(
                _institution.insert(), [{"name": name, "public_key": public_key, "added_at": added}]
            )
    except sa.exc.IntegrityError as exc:
        raise InstitutionRefused(
            f"institution {name!r} (or its key) was registered at the same time",
            code="institution_exists",
        ) from exc
    return RegisteredInstitution(name, public_key, added)


def institutions(engine: Engine) -> list[RegisteredInstitution]:
    """Every registered institution, by name."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                _institution.c.name, _institution.c.public_key, _institution.c.added_at
            ).order_by(_institution.c.name)
        ).all()
    return [RegisteredInstitution(r.name, bytes(r.public_key), _aware(r.added_at)) for r in rows]


def institution_key(engine: Engine, name: str) -> bytes | None:
    """The registered public key of ``name``, or ``None``."""
    with engine.connect() as conn:
        key = conn.execute(
            sa.select(_institution.c.public_key).where(_institution.c.name == name)
        ).scalar_one_or_none()
    return None if key is None else bytes(key)


def use_nonce(
    engine: Engine, name: str, nonce: bytes, created: int, *, now: int, window: int
) -> bool:
    """Record ``nonce`` of institution ``name``'s request made at ``created``;
    ``False`` if it was recorded already (a replay). Also purges the nonces of
    requests made more than ``window`` seconds before ``now``: such a request is
    refused as stale, whatever its nonce."""
    try:
        with write_connection(engine) as conn, conn.begin():
            conn.execute(_nonce.delete().where(_nonce.c.created < now - window))
            seen = conn.execute(
                sa.select(_nonce.c.created).where(
                    _nonce.c.institution == name, _nonce.c.nonce == nonce
                )
            ).first()
            if seen is not None:
                return False
            conn.execute(
                _nonce.insert(), [{"institution": name, "nonce": nonce, "created": created}]
            )
    except sa.exc.IntegrityError:  # the same nonce, committed by another process meanwhile
        return False
    return True


def process_owner(engine: Engine, process_id: str) -> str | None:
    """The institution that created the issuer key of ``process_id`` here, if any."""
    with engine.connect() as conn:
        owner: str | None = conn.execute(
            sa.select(_owner.c.institution).where(_owner.c.process_id == process_id)
        ).scalar_one_or_none()
    return owner


def create_issuer_key(
    engine: Engine,
    keyring: IssuerKeyring,
    institution: str,
    process_id: str,
    *,
    threshold: int = 1,
    shares: int = 1,
) -> IssuerRecord:
    """Create the issuer key of ``process_id`` for ``institution`` and record
    that it did: the owner row and the key files are made together (the row's
    transaction commits only once the keys are written), and a process that has
    either already is refused (``issuer_key_exists``)."""
    created = datetime.now(UTC).replace(microsecond=0)
    try:
        with write_connection(engine) as conn, conn.begin():
            owner = conn.execute(
                sa.select(_owner.c.institution).where(_owner.c.process_id == process_id)
            ).first()
            if owner is not None:
                raise IssuerKeyExists(f"process {process_id!r} already has an issuer key")
            conn.execute(
                _owner.insert(),
                [{"process_id": process_id, "institution": institution, "created_at": created}],
            )
            keyring.create(process_id, threshold=threshold, shares=shares)
    except sa.exc.IntegrityError as exc:
        raise IssuerKeyExists(
            f"process {process_id!r} got an issuer key at the same time from another request"
        ) from exc
    return keyring.record(process_id)
