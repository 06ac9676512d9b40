"""Authority on the log: the operator registers institutions and reserves
process ids, each as an entry the log's own key signs (docs/spec/entries.md §8, §9).

The log's key signs checkpoints (signed notes) and these entries. The two
never overlap: an entry's signed bytes start with ``urne/v1/<kind>`` and a
newline followed by a JSON object, a checkpoint's with the log's origin and a
newline followed by a decimal size, so neither signature can pass for the
other (docs/spec/entries.md §1).

- :func:`register_institution` appends an ``institution`` entry signed by
  the operator (``urne institution add``);
- :func:`reserve_process` appends the ``reservation`` of a process id for a
  registered institution, with the issuer key made for it (the institution's
  signed request for its issuer key, ``urne.api.routes.institution``).

Both go through the civic record's admission like any entry, so they are
refused by the same rules an auditor replays (``institution_exists``,
``key_in_use``, ``unregistered_institution``, ``process_reserved``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from urne.ledger.civic.record import CivicRecord
from urne.ledger.institutions.registry import forget_legacy_institution, legacy_institutions
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import OperatorKey
from urne.verifier.errors import VerificationError

__all__ = ["OperatorKey", "carry_registrations", "register_institution", "reserve_process"]


def register_institution(
    civic: CivicRecord, name: str, key: bytes, roles: Sequence[str] = ("open",)
) -> int:
    """Register ``name`` with its Ed25519 ``key`` and ``roles``, signed by the
    operator; returns the entry's index (``EntryRefused`` if the rules refuse it)."""
    entry = authoring.registration(name, key, OperatorKey(civic.log.signer), roles=roles)
    return civic.append(entry)


def reserve_process(
    civic: CivicRecord, process_id: str, institution: bytes, issuer: Mapping[str, Any]
) -> int:
    """Reserve ``process_id`` for the institution of key ``institution`` with
    the manifest's ``issuer`` object; returns the entry's index."""
    entry = authoring.reservation(process_id, institution, issuer, OperatorKey(civic.log.signer))
    return civic.append(entry)


def carry_registrations(civic: CivicRecord, roll: Engine) -> list[str]:
    """Register on the log, with the role ``open``, each institution an
    earlier version registered in the issuance database only, then delete
    its row: nothing registered is lost, and the log becomes the one list.
    A row whose name or key the log already holds otherwise is left in place
    and named in a warning (the operator decides). Returns the names carried."""
    carried = []
    for name, key in legacy_institutions(roll):
        found = civic.institution(name)
        if found is None:
            try:
                register_institution(civic, name, key)
            except VerificationError as exc:
                logging.getLogger("urne").warning(
                    "institution %r of the issuance database was not registered on the log: %s",
                    name,
                    exc,
                )
                continue
            carried.append(name)
        elif found.key != key:
            logging.getLogger("urne").warning(
                "institution %r is registered on the log with another key than in the "
                "issuance database; the log's is used",
                name,
            )
            continue
        forget_legacy_institution(roll, name)
    return carried
