"""The issuance side of institutions' requests (docs/spec/api.md §6).

Institutions are registered on the log (``institution`` entries, read through
``urne.ledger.civic.record.CivicRecord.institution``); they sign the requests
that are not log entries -- reserving a process id with its issuer key,
importing its roll -- with the key that signs their manifests, closes and
results. This module keeps, in the issuance database
(``urne.ledger.institutions.models``):

- the nonces of accepted requests (:func:`use_nonce`): a nonce is accepted
  once per institution; rows older than the freshness window are purged;
- which institution created each process's issuer key (:func:`create_issuer_key`,
  :func:`process_owner`);
- what an earlier version kept of registered institutions
  (:func:`legacy_institutions`, :func:`forget_legacy_institution`), until the
  service has registered them on the log.

Errors: from :func:`create_issuer_key`, ``issuer_key_exists`` and the keyring's
own (``bad_process_id``, ``bad_threshold``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from urne.ledger.db.engine import write_connection
from urne.ledger.institutions.models import Institution, InstitutionNonce, InstitutionProcess
from urne.ledger.issuance.errors import IssuerKeyExists
from urne.ledger.issuance.keyring import IssuerKeyring, IssuerRecord

__all__ = [
    "create_issuer_key",
    "forget_legacy_institution",
    "legacy_institutions",
    "process_owner",
    "use_nonce",
]

_institution = Institution.__table__  # type: ignore[attr-defined]
_nonce = InstitutionNonce.__table__  # type: ignore[attr-defined]
_owner = InstitutionProcess.__table__  # type: ignore[attr-defined]


def legacy_institutions(engine: Engine) -> list[tuple[str, bytes]]:
    """``(name, public key)`` of each institution an earlier version
    registered in this database rather than on the log, by name."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_institution.c.name, _institution.c.public_key).order_by(_institution.c.name)
        ).all()
    return [(r.name, bytes(r.public_key)) for r in rows]


def forget_legacy_institution(engine: Engine, name: str) -> None:
    """Delete the row of ``name`` once the log holds its registration."""
    with write_connection(engine) as conn, conn.begin():
        conn.execute(_institution.delete().where(_institution.c.name == name))


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
) -> tuple[IssuerRecord, bool]:
    """The issuer key of ``process_id`` for ``institution``: created, with the
    owner row, if the process has none (the row's transaction commits only
    once the keys are written), else the one ``institution`` created before,
    so that a retry of an interrupted opening gets the same key. ``(record,
    created)``; another institution's process, or the same one asked with
    another ``threshold``-of-``shares``, is refused (``issuer_key_exists``)."""
    created = datetime.now(UTC).replace(microsecond=0)
    try:
        with write_connection(engine) as conn, conn.begin():
            owner = conn.execute(
                sa.select(_owner.c.institution).where(_owner.c.process_id == process_id)
            ).first()
            if owner is not None:
                if owner.institution != institution:
                    raise IssuerKeyExists(
                        f"process {process_id!r} already has an issuer key, "
                        "created by another institution"
                    )
                record = keyring.record(process_id)
                if (record.threshold, record.shares) != (threshold, shares):
                    raise IssuerKeyExists(
                        f"process {process_id!r} already has a {record.threshold}-of-"
                        f"{record.shares} issuer key; it was asked for {threshold}-of-{shares}"
                    )
                return record, False
            conn.execute(
                _owner.insert(),
                [{"process_id": process_id, "institution": institution, "created_at": created}],
            )
            keyring.create(process_id, threshold=threshold, shares=shares)
    except sa.exc.IntegrityError as exc:
        raise IssuerKeyExists(
            f"process {process_id!r} got an issuer key at the same time from another request"
        ) from exc
    return keyring.record(process_id), True
