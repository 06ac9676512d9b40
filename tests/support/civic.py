"""Builders for civic-record tests: institutions, processes, citizens with real
blind-issued credentials, ballots, paper batches. Nothing here is faked: every
credential goes through blind / sign_blinded / unblind."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from urne.ledger.issuance.issuer_key import IssuerKey
from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
from urne.verifier.citizen.signing import AuthorKey, EntrySigner, OperatorKey, sign_entry
from urne.verifier.civic.entries import Process, b64encode, decode_entry
from urne.verifier.civic.process import EntryRefused, NotAuthorized, Registry
from urne.verifier.credentials.credential import credential_message, verify_credential
from urne.verifier.errors import FormatError, SignatureError

if TYPE_CHECKING:  # the verifier's tests run without the server side installed
    from urne.ledger.civic.record import CivicRecord

#: A moment inside every test process's window.
IN_2026 = datetime(2026, 6, 1, tzinfo=UTC)


def proposal(pid: str, title: str, cost: int | None = None) -> dict[str, Any]:
    return authoring.proposal(pid, {"en": title}, {"en": f"<p>{title}, in detail.</p>"}, cost=cost)


RULES: dict[str, dict[str, Any]] = {
    "petition": {"threshold": 3},
    "vote": {"method": "single", "min": 1, "max": 1, "revoting": True},
    "budget": {
        "budget": 1000,
        "outcome": "greedy",
        "min_projects": 1,
        "max_projects": None,
        "min_share_percent": 0,
        "capped": True,
        "revoting": False,
    },
}


@dataclass
class Institution:
    key: AuthorKey = field(default_factory=AuthorKey.generate)
    officials: list[AuthorKey] = field(default_factory=lambda: [AuthorKey.generate()])
    issuers: dict[str, IssuerKey] = field(default_factory=dict)

    def process(
        self,
        pid: str,
        ptype: str,
        *,
        rule: dict[str, Any] | None = None,
        proposals: list[dict[str, Any]] | None = None,
        opens: str = "2026-01-01T00:00:00Z",
        closes: str = "2026-12-31T23:59:59Z",
        issuer_key: dict[str, Any] | None = None,
        **extra: Any,
    ) -> bytes:
        """A manifest; ``issuer_key`` replaces its ``issuer`` (a t-of-n key);
        ``extra`` adds fields (a secret vote's ``secret``)."""
        issuer = self.issuers.setdefault(pid, IssuerKey.generate())
        if proposals is None:
            proposals = {
                "petition": [],
                "vote": [
                    proposal("a", "Option A"),
                    proposal("b", "Option B"),
                    proposal("c", "Option C"),
                ],
                "budget": [
                    proposal("park", "A park", 600),
                    proposal("bikes", "Bike lanes", 300),
                    proposal("bench", "Benches", 200),
                ],
            }[ptype]
        return sign_entry(
            {
                "v": 1,
                "kind": "process",
                "id": pid,
                "type": ptype,
                "title": {"en": f"Process {pid}"},
                "text": {"en": "What this is about."},
                "institution": b64encode(self.key.public_key),
                "opens": opens,
                "closes": closes,
                "issuer": issuer_key
                or {"public_key": b64encode(issuer.public_key), "threshold": 1, "shares": 1},
                "officials": [
                    {"name": f"Official {i}", "key": b64encode(o.public_key)}
                    for i, o in enumerate(self.officials)
                ],
                "proposals": proposals,
                "rule": rule if rule is not None else RULES[ptype],
                **extra,
            },
            self.key,
        )

    def close(self, pid: str) -> bytes:
        return authoring.close(pid, self.key)

    def result(self, pid: str, through: int, tally: dict[str, Any]) -> bytes:
        return authoring.result(pid, self.key, through, tally)

    def paper(
        self,
        pid: str,
        batch: str,
        official: AuthorKey | None = None,
        *,
        sheet: str | None = None,
        **payload: Any,
    ) -> bytes:
        """A paper batch. A tally sheet counts once per process, so unless
        ``sheet`` names one, each batch id has a sheet hash of its own."""
        if sheet is None:
            sheet = hashlib.sha256(f"tally sheet {pid}/{batch}".encode()).hexdigest()
        return authoring.paper_batch(pid, official or self.officials[0], batch, sheet, **payload)


@dataclass
class Citizen:
    """One person taking part in one process under a fresh pseudonym."""

    pid: str
    pseudonym: Pseudonym
    credential: bytes
    seq: int = 0

    @classmethod
    def enrol(cls, institution: Institution, pid: str) -> Citizen:
        issuer = institution.issuers[pid]
        pseudonym = Pseudonym.generate()
        state, blinded = blind(credential_message(pid, pseudonym.public_key))
        credential = unblind(state, issuer.sign_blinded(blinded), issuer.public_key)
        return cls(pid, pseudonym, credential)

    def ballot(
        self,
        choice: list[str] | None = None,
        *,
        seq: int | None = None,
        pid: str | None = None,
        credential: bytes | None = None,
    ) -> bytes:
        seq = self.seq if seq is None else seq
        self.seq += 1
        cred, process = credential or self.credential, pid or self.pid
        if choice is None:
            return authoring.signature(process, self.pseudonym, cred, seq=seq)
        return authoring.ballot(process, self.pseudonym, cred, choice, seq=seq)


def entries(*leaves: bytes) -> list[Any]:
    return [decode_entry(x) for x in leaves]


# -- authority: the registration and the reservation a manifest needs ------------------


def institution_name(key: bytes) -> str:
    """The name the test harnesses register an institution's key under."""
    return "inst-" + hashlib.sha256(key).hexdigest()[:12]


def authority_for(
    manifest: bytes, operator: EntrySigner, *, registered: Callable[[bytes], bool]
) -> list[bytes]:
    """The entries that must precede ``manifest`` on a log whose operator is
    ``operator``: the registration of its institution (unless ``registered``
    says the log has it) and the reservation of its id with its issuer key,
    both signed by the operator, as ``urne institution add`` and the
    institution's request for its issuer key make them."""
    p = decode_entry(manifest).body
    assert isinstance(p, Process)
    out = []
    if not registered(p.institution):
        out.append(authoring.registration(institution_name(p.institution), p.institution, operator))
    issuer = {
        "public_key": b64encode(p.issuer_key),
        "threshold": p.issuer_threshold,
        "shares": p.issuer_shares,
    }
    out.append(authoring.reservation(p.id, p.institution, issuer, operator))
    return out


def registry_knows(registry: Registry) -> Callable[[bytes], bool]:
    return lambda key: key in registry.institutions


def civic_knows(civic: CivicRecord) -> Callable[[bytes], bool]:
    def registered(key: bytes) -> bool:
        try:
            civic.may_open(key)
        except NotAuthorized:
            return False
        return True

    return registered


def operator_of(civic: CivicRecord) -> OperatorKey:
    """The log's key, as the author of registrations and reservations."""
    return OperatorKey(civic.log.signer)


def open_in(civic: CivicRecord, manifest: bytes) -> int:
    """Append ``manifest`` with what must precede it (:func:`authority_for`);
    the manifest's index."""
    for leaf in authority_for(manifest, operator_of(civic), registered=civic_knows(civic)):
        civic.append(leaf)
    return civic.append(manifest)


class RegistryLog:
    """A registry fed like a log, under an operator key of its own: each
    admitted leaf takes the next index, and a manifest comes after the
    registration of its institution (if new) and the reservation of its id,
    as a log holds them."""

    def __init__(self, *, credentials: bool = True) -> None:
        self.operator = AuthorKey.generate()
        check = (
            (lambda pk, pid, ps, cr: verify_credential(pk, pid, ps, cr)) if credentials else None
        )
        self.reg = Registry(check, operator=self.operator.public_key)
        self.n = 0
        #: every admitted entry, in log order (its index is its position)
        self.entries: list[Any] = []

    def _admit(self, leaf: bytes) -> None:
        entry = decode_entry(leaf)
        self.reg.admit(entry, self.n)
        self.entries.append(entry)
        self.n += 1

    def admit(self, leaf: bytes) -> int:
        """Admit ``leaf`` alone, with nothing put before it; its index."""
        self._admit(leaf)
        return self.n - 1

    def add(self, leaf: bytes) -> int:
        if decode_entry(leaf).kind == "process":
            for first in authority_for(leaf, self.operator, registered=registry_knows(self.reg)):
                self._admit(first)
        self._admit(leaf)
        return self.n - 1

    def refuse(self, leaf: bytes, code: str, status: int | None = None) -> None:
        """``leaf`` is refused here with ``code`` (and ``status``, if given):
        by a rule, a signature, or the form of what it carries."""
        with pytest.raises((EntryRefused, SignatureError, FormatError)) as e:
            self.reg.check(decode_entry(leaf), self.n)
        assert e.value.code == code, str(e.value)
        if status is not None:
            assert e.value.status == status, str(e.value)
