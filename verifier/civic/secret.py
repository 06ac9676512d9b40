"""The rules of a secret vote or budget (docs/secret-ballot.md §3-§6): its trustees' key
ceremony, its encrypted ballots and the decryption of its totals.

:class:`SecretState` is part of a process's state (``ProcessState.secret``)
and decides, like the rest of :class:`~urne.verifier.civic.process.Registry`,
on both sides: the service refuses what it refuses, and an auditor replaying
the log finds, with the entry as evidence, anything that should have been
refused. The cryptography is ``urne.verifier.secret``'s.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import (
    Ballot,
    BudgetRule,
    Check,
    Complaint,
    Deal,
    Decryption,
    ElectionKey,
    Entry,
    Process,
    Reservation,
    SecretSpec,
    VoteRule,
    b64encode,
    verify_entry_signature,
)
from urne.verifier.errors import FormatError, ProofError, VerificationError
from urne.verifier.secret import dkg, tally
from urne.verifier.secret.ballot import EncryptedBallot, Spend, ballot_context, budget_shape
from urne.verifier.secret.group import Group, Ristretto255, group_named, ristretto255
from urne.verifier.secret.proofs import Ciphertext, DleqProof, SchnorrProof

__all__ = [
    "Ceremony",
    "IssuerCeremony",
    "SecretState",
    "check_offices",
    "manifest_fingerprint",
    "open_secret",
]


def _refused(message: str, *, code: str) -> VerificationError:
    from urne.verifier.civic.process import EntryRefused

    return EntryRefused(message, code=code)


def _conflict(message: str, *, code: str) -> VerificationError:
    from urne.verifier.civic.process import EntryConflict

    return EntryConflict(message, code=code)


def manifest_fingerprint(entry: Entry) -> bytes:
    """``F``: the SHA-256 of the manifest entry's canonical bytes."""
    return hashlib.sha256(canonical(entry.obj)).digest()


def _check_participants(spec: SecretSpec, process_id: str, role: str, where: str) -> None:
    """Each share key a point of the spec's group other than the identity,
    with its proof of knowledge in the share-key context (``bad_trustee_key``)."""
    g = group_named(spec.group)
    for i, t in enumerate(spec.trustees, start=1):
        try:
            share_key = g.decode(t.share_key, f"{where}[{i - 1}].share_key")
            SchnorrProof.decode(g, t.proof, "proof").verify(
                dkg.share_context(g, process_id, t.key), dkg.LABEL_SHARE_KEY, share_key
            )
        except (FormatError, ProofError) as exc:
            raise _refused(
                f"{role} {i} ({t.name!r}): its share key is not proven ({exc})",
                code="bad_trustee_key",
            ) from exc


def open_secret(p: Process, entry: Entry) -> None:
    """Check a secret manifest's trustees: each share key a point of the group,
    with its proof of knowledge (``bad_trustee_key``)."""
    assert p.secret is not None
    _check_participants(p.secret, p.id, "trustee", "process.secret.trustees")


def check_offices(r: Reservation) -> None:
    """Check a reservation's offices as a manifest's trustees are checked:
    each G2 share key proven (``bad_trustee_key``)."""
    assert r.offices is not None
    _check_participants(r.offices, r.process, "office", "reservation.issuer.offices")


@dataclass
class Ceremony:
    """A key ceremony's state and rules (docs/secret-ballot.md §4): the
    trustees of a secret vote in ristretto255, or a process's credential
    issuers' offices in BLS12-381 G2 (docs/spec/issuer-ceremony.md). One
    implementation, two groups: the group is the spec's."""

    #: the group, the threshold and the participants, in order
    spec: SecretSpec
    #: F: the SHA-256 of the entry that names the participants (the manifest,
    #: or the reservation), in every proof's context
    fingerprint: bytes
    #: who signs the joint key's entry
    institution: bytes
    #: trustee -> (log index, deal)
    deals: dict[int, tuple[int, Deal]] = field(default_factory=dict)
    #: dealer -> the log index of the complaint that disqualified it
    disqualified: dict[int, int] = field(default_factory=dict)
    #: (complainer, dealer) pairs already decided
    complaints: set[tuple[int, int]] = field(default_factory=set)
    #: trustee -> log index of its check
    checks: dict[int, int] = field(default_factory=dict)
    key: bytes | None = None
    key_at: int | None = None
    qualified: tuple[int, ...] = ()
    verification_keys: dict[int, bytes] = field(default_factory=dict)
    #: the log index of every ceremony entry (and decryption), in log order
    indices: list[int] = field(default_factory=list)

    #: how messages name a participant, the key, and the code of a wrong key
    role: ClassVar[str] = "trustee"
    key_name: ClassVar[str] = "election key"
    wrong_key_code: ClassVar[str] = "wrong_election_key"

    @property
    def group(self) -> Group:
        return group_named(self.spec.group)

    def _trustee(self, entry: Entry, index: int) -> None:
        if not 1 <= index <= len(self.spec.trustees):
            raise _refused(
                f"there is no {self.role} {index} in this process "
                f"(it has {len(self.spec.trustees)})",
                code="unknown_trustee",
            )
        verify_entry_signature(entry, self.spec.trustees[index - 1].key)

    def _ceremony_open(self) -> None:
        if self.key_at is not None:
            raise _conflict(
                f"the key ceremony ended with the {self.key_name} at index {self.key_at}",
                code="ceremony_over",
            )

    def check_ceremony(
        self, entry: Entry, body: Deal | Complaint | Check | ElectionKey, closed_at: int | None
    ) -> None:
        """Raise unless the ceremony entry may follow (changes nothing)."""
        if isinstance(body, ElectionKey):
            verify_entry_signature(entry, self.institution)
            self._ceremony_open()
            if closed_at is not None:
                raise _conflict("the process is closed", code="process_closed")
            self._check_key(body)
            return
        self._trustee(entry, body.trustee)
        self._ceremony_open()
        if closed_at is not None:
            raise _conflict("the process is closed", code="process_closed")
        if isinstance(body, Deal):
            self._check_deal(body)
        elif isinstance(body, Complaint):
            self._check_complaint(body)
        elif body.trustee in self.checks:
            raise _conflict(
                f"{self.role} {body.trustee} checked already, at index {self.checks[body.trustee]}",
                code="already_checked",
            )

    def _check_deal(self, d: Deal) -> None:
        g, t = self.group, self.spec.threshold
        if d.trustee in self.deals:
            raise _conflict(
                f"{self.role} {d.trustee} dealt already, at index {self.deals[d.trustee][0]}",
                code="already_dealt",
            )
        if d.trustee in self.checks:
            raise _conflict(
                f"{self.role} {d.trustee} checked already, at index {self.checks[d.trustee]}: "
                f"a {self.role} deals before it checks",
                code="dealing_over",
            )
        if len(d.commitments) != t:
            raise _refused(
                f"a deal commits to {t} coefficients (the threshold); this one to "
                f"{len(d.commitments)}",
                code="bad_deal",
            )
        want = [j for j in range(1, len(self.spec.trustees) + 1) if j != d.trustee]
        if [s.to for s in d.shares] != want:
            raise _refused(
                f"a deal has one share for every other {self.role}, in order: {want}",
                code="bad_deal",
            )
        try:
            for k, a in enumerate(d.commitments):
                g.decode(a, f"deal.commitments[{k}]")
            for s in d.shares:
                g.decode(s.ephemeral, f"deal.shares[to {s.to}].ephemeral")
                dkg.verify_ephemeral(
                    g,
                    self.fingerprint,
                    d.trustee,
                    s.to,
                    dkg.EncryptedShare(s.ephemeral, s.masked, s.proof),
                )
            SchnorrProof.decode(g, d.proof, "deal.proof").verify(
                dkg.trustee_context(g, self.fingerprint, d.trustee),
                dkg.LABEL_CONSTANT,
                d.commitments[0],
            )
        except (FormatError, ProofError) as exc:
            raise _refused(f"{self.role} {d.trustee}'s deal: {exc}", code="bad_deal") from exc

    def _check_complaint(self, c: Complaint) -> None:
        g = self.group
        dealt = self.deals.get(c.against)
        if dealt is None or c.against == c.trustee:
            raise _refused(
                f"{self.role} {c.against} dealt nothing to complain about", code="no_such_deal"
            )
        if (c.trustee, c.against) in self.complaints:
            raise _conflict(
                f"{self.role} {c.trustee} complained about {self.role} {c.against} already",
                code="already_complained",
            )
        deal = dealt[1]
        share = next(s for s in deal.shares if s.to == c.trustee)
        try:
            stands = dkg.verify_complaint(
                g,
                self.fingerprint,
                c.against,
                c.trustee,
                self.spec.trustees[c.trustee - 1].share_key,
                dkg.EncryptedShare(share.ephemeral, share.masked),
                deal.commitments,
                g.decode(c.key, "complaint.key"),
                DleqProof.decode(g, c.proof, "complaint.proof"),
            )
        except (FormatError, ProofError) as exc:
            raise _refused(
                f"the complaint's revealed key is not proven: {exc}", code="bad_complaint"
            ) from exc
        if not stands:
            raise _refused(
                f"the share {self.role} {c.against} dealt to {self.role} {c.trustee} is correct: "
                "the complaint is unfounded",
                code="complaint_unfounded",
            )

    def _spans(self) -> dict[int, tuple[int, int]]:
        """Trustees who dealt, then checked, and are not disqualified: the log
        indices of their deal and their check."""
        return {
            i: (self.deals[i][0], self.checks[i])
            for i in self.deals
            if i in self.checks and i not in self.disqualified and self.deals[i][0] < self.checks[i]
        }

    def may_qualify(self, qualified: tuple[int, ...]) -> bool:
        """Trustees who dealt and checked, none disqualified, each having
        checked after every one of them dealt (a check covers the deals
        before it): each holds a checked share of every other's polynomial."""
        spans = self._spans()
        if not qualified or any(i not in spans for i in qualified):
            return False
        return max(spans[i][0] for i in qualified) < min(spans[i][1] for i in qualified)

    def qualified_now(self) -> tuple[int, ...]:
        """The largest set :meth:`may_qualify` accepts; among equally large
        ones, the one checked last. What ``urne process election-key`` names.

        No trustee ends the dealing for the others: one who checks early (or
        never) leaves out only itself, and a deal made after the others checked
        is left out, not them. The institution signs the set (the election key
        entry), and may name another set the rules accept."""
        spans = self._spans()
        best: tuple[int, ...] = ()
        for cut in sorted({c for _, c in spans.values()}):
            # everyone who dealt before the cut and checked at or after it
            here = tuple(sorted(i for i, (d, c) in spans.items() if d < cut <= c))
            if len(here) >= len(best):
                best = here
        return best

    def _check_key(self, k: ElectionKey) -> None:
        qual = k.qualified
        if not self.may_qualify(qual):
            raise _refused(
                f"{self.role}s {list(qual)} may not be the qualified {self.role}s: each must have "
                "dealt, then checked after every one of them dealt, and not be disqualified "
                f"(these may: {list(self.qualified_now())})",
                code="wrong_qualified",
            )
        if len(qual) < self.spec.threshold:
            raise _refused(
                f"{len(qual)} qualified {self.role}s; the {self.key_name} needs "
                f"{self.spec.threshold}",
                code="too_few_trustees",
            )
        want = dkg.joint_key(self.group, [self.deals[i][1].commitments[0] for i in qual])
        if k.key != want:
            raise _refused(
                f"the {self.key_name} is not the product of the qualified {self.role}s' "
                f"commitments ({b64encode(want)})",
                code=self.wrong_key_code,
            )

    def apply_ceremony(self, body: Deal | Complaint | Check | ElectionKey, index: int) -> None:
        self.indices.append(index)
        if isinstance(body, Deal):
            self.deals[body.trustee] = (index, body)
        elif isinstance(body, Complaint):
            self.complaints.add((body.trustee, body.against))
            self.disqualified.setdefault(body.against, index)
        elif isinstance(body, Check):
            self.checks[body.trustee] = index
        else:
            self.key, self.key_at, self.qualified = body.key, index, body.qualified
            commitments = [self.deals[i][1].commitments for i in body.qualified]
            self.verification_keys = {
                j: dkg.verification_key(self.group, commitments, j) for j in body.qualified
            }


class IssuerCeremony(Ceremony):
    """The ceremony of a process's credential issuers' offices, in BLS12-381
    G2, between its reservation and its manifest
    (docs/spec/issuer-ceremony.md): the issuer key with no dealer."""

    role: ClassVar[str] = "office"
    key_name: ClassVar[str] = "issuer key"
    wrong_key_code: ClassVar[str] = "wrong_issuer_key"

    @classmethod
    def start(cls, r: Reservation, entry: Entry) -> IssuerCeremony:
        assert r.offices is not None
        return cls(r.offices, manifest_fingerprint(entry), r.institution)

    def offices(self) -> tuple[tuple[int, bytes], ...]:
        """``(share, X_j)`` of every qualified office: what the manifest's
        ``issuer.offices`` must name, with their addresses."""
        return tuple((j, self.verification_keys[j]) for j in self.qualified)


@dataclass
class SecretState(Ceremony):
    """A secret vote or budget: its trustees' ceremony (``F`` is the SHA-256
    of the manifest's bytes), its ballots and its decryption."""

    process: Process = field(kw_only=True)
    #: at the close: the product of the counted ciphertexts, per proposal
    aggregates: list[Ciphertext] | None = None
    counted: int = 0
    #: the product of the ciphertexts of each pseudonym's last ballot so far,
    #: kept as ballots are accepted (a revote divides the ballot it replaces
    #: out): the close only copies it, so nobody waits for a sum of every ballot
    running: list[Ciphertext] = field(default_factory=list)
    last: dict[bytes, tuple[bytes, ...]] = field(default_factory=dict)
    #: False: no running sums; the close sums the last ballots on every core
    #: (a trustee reading a whole log at once, with nothing waiting on it)
    sums: bool = True
    #: trustee -> (log index, D_k per proposal), valid ones only, in log order
    decryptions: dict[int, tuple[int, tuple[bytes, ...]]] = field(default_factory=dict)
    _totals: list[int] | None = None

    @classmethod
    def start(cls, p: Process, entry: Entry, *, sums: bool = True) -> SecretState:
        assert p.secret is not None
        return cls(p.secret, manifest_fingerprint(entry), p.institution, process=p, sums=sums)

    @property
    def group(self) -> Ristretto255:
        return ristretto255()

    @property
    def bounds(self) -> tuple[int, int]:
        """How many proposals a ballot selects: a vote's ``min..max``, a
        budget's ``min_projects..max_projects`` (every project without a maximum)."""
        rule = self.process.rule
        if isinstance(rule, VoteRule):
            return rule.min, rule.max
        return self._budget_shape()[0]

    @property
    def spend(self) -> Spend | None:
        """A capped budget's bounds on a ballot's cost (None otherwise)."""
        if isinstance(self.process.rule, VoteRule):
            return None
        return self._budget_shape()[1]

    def _budget_shape(self) -> tuple[tuple[int, int], Spend | None]:
        rule = self.process.rule
        assert isinstance(rule, BudgetRule)
        return budget_shape(
            [q.cost or 0 for q in self.process.proposals],
            rule.budget,
            rule.min_projects,
            rule.max_projects,
            rule.min_share_percent,
            rule.capped,
        )

    # -- the ceremony and the decryptions -------------------------------------------

    def check(
        self,
        entry: Entry,
        body: Deal | Complaint | Check | ElectionKey | Decryption,
        closed_at: int | None,
    ) -> None:
        if isinstance(body, Decryption):
            self._trustee(entry, body.trustee)
            self._check_decryption(body, closed_at)
            return
        self.check_ceremony(entry, body, closed_at)

    def _check_decryption(self, d: Decryption, closed_at: int | None) -> None:
        if closed_at is None or self.aggregates is None:
            raise _conflict("trustees decrypt after the close", code="process_not_closed")
        if d.trustee not in self.qualified:
            raise _refused(
                f"trustee {d.trustee} is not one of the qualified trustees {list(self.qualified)}",
                code="not_qualified",
            )
        if d.trustee in self.decryptions:
            raise _conflict(
                f"trustee {d.trustee} decrypted already, at index {self.decryptions[d.trustee][0]}",
                code="already_decrypted",
            )
        g = self.group
        assert self.key is not None
        try:
            if len(d.shares) != len(self.aggregates):
                raise FormatError(
                    f"{len(d.shares)} shares for {len(self.aggregates)} proposals",
                    code="bad_decryption",
                )
            shares = [
                g.decode(x, f"decryption.shares[{k}]", allow_identity=True)
                for k, x in enumerate(d.shares)
            ]
            proofs = [
                DleqProof.decode(g, p, f"decryption.proofs[{k}]") for k, p in enumerate(d.proofs)
            ]
            tally.verify_decryption(
                tally.decryption_context(g, self.fingerprint, self.key),
                self.verification_keys[d.trustee],
                self.aggregates,
                shares,
                proofs,
            )
        except (FormatError, ProofError) as exc:
            raise _refused(
                f"trustee {d.trustee}'s decryption is wrong: {exc}", code="bad_decryption"
            ) from exc

    def apply(self, body: Deal | Complaint | Check | ElectionKey | Decryption, index: int) -> None:
        if isinstance(body, Decryption):
            self.indices.append(index)
            self.decryptions[body.trustee] = (index, body.shares)
            self._totals = None
            return
        self.apply_ceremony(body, index)

    # -- ballots ------------------------------------------------------------------------

    def check_ballot(self, b: Ballot, *, verify_proofs: bool) -> None:
        if self.key is None:
            raise _conflict(
                "the trustees' key ceremony has not ended: no ballot before the election key",
                code="no_election_key",
            )
        if b.encrypted is None:
            raise _refused("a secret vote's ballot carries an encrypted choice", code="bad_choice")
        eb = EncryptedBallot.decode(
            self.group, b.encrypted, len(self.process.proposals), self.bounds, self.spend
        )
        if verify_proofs:
            self._verify(eb, b.pseudonym)

    def context(self) -> tuple[bytes, bytes, int, int, int, Spend | None]:
        """What checking a ballot's proofs needs: fingerprint, key, proposals,
        bounds, and a capped budget's bounds on the cost."""
        assert self.key is not None
        lo, hi = self.bounds
        return self.fingerprint, self.key, len(self.process.proposals), lo, hi, self.spend

    def verify_proofs(self, b: Ballot) -> None:
        """A ballot's form and proofs (``bad_ballot_proof``)."""
        assert b.encrypted is not None
        eb = EncryptedBallot.decode(
            self.group, b.encrypted, len(self.process.proposals), self.bounds, self.spend
        )
        self._verify(eb, b.pseudonym)

    def _verify(self, eb: EncryptedBallot, pseudonym: bytes) -> None:
        assert self.key is not None
        g = self.group
        try:
            eb.verify(
                ballot_context(g, self.fingerprint, self.key, pseudonym),
                self.key,
                self.bounds,
                self.spend,
            )
        except ProofError as exc:
            raise _refused(str(exc), code="bad_ballot_proof") from exc

    def ciphertexts_of(self, b: Ballot) -> tuple[bytes, ...]:
        assert b.encrypted is not None
        return tuple(base64.b64decode(c) for c in b.encrypted["ciphertexts"])

    def check_restored(self, cts: tuple[bytes, ...] | None) -> None:
        if self.key is None:
            raise _conflict("no ballot before the election key", code="no_election_key")
        if cts is None or len(cts) != len(self.process.proposals) or any(len(c) != 64 for c in cts):
            raise _refused(
                "a secret ballot has one 64-byte ciphertext per proposal", code="bad_choice"
            )

    # -- the close and the totals -------------------------------------------------------

    def count_in(self, pseudonym: bytes, cts: tuple[bytes, ...]) -> None:
        """An accepted ballot: it replaces the pseudonym's earlier one in the sums."""
        if not self.sums:
            self.last[pseudonym] = cts
            return
        g = self.group
        if not self.running:
            self.running = [Ciphertext(g.identity, g.identity)] * len(self.process.proposals)
        before = self.last.get(pseudonym)
        out = []
        for k, (acc, c) in enumerate(zip(self.running, cts, strict=True)):
            alpha, beta = g.add(acc.alpha, c[:32]), g.add(acc.beta, c[32:])
            if before is not None:
                alpha, beta = g.sub(alpha, before[k][:32]), g.sub(beta, before[k][32:])
            out.append(Ciphertext(alpha, beta))
        self.running = out
        self.last[pseudonym] = cts

    def close(self) -> None:
        g = self.group
        if not self.sums:
            self.running = tally.aggregate_encoded(
                g, list(self.last.values()), len(self.process.proposals), workers=tally.cores()
            )
        self.aggregates = self.running or [Ciphertext(g.identity, g.identity)] * len(
            self.process.proposals
        )
        self.counted = len(self.last)

    def require_decrypted(self) -> None:
        if len(self.decryptions) < self.spec.threshold:
            raise _conflict(
                f"{len(self.decryptions)} of the {self.spec.threshold} trustees needed have "
                "decrypted the totals: another qualified trustee runs `urne-trustee decrypt`",
                code="not_decrypted",
            )

    def totals(self) -> list[int] | None:
        """The online totals per proposal, from the first ``threshold``
        decryptions in log order; ``None`` until there are that many."""
        if self.aggregates is None or len(self.decryptions) < self.spec.threshold:
            return None
        if self._totals is None:
            g = self.group
            first = sorted(self.decryptions.items(), key=lambda kv: kv[1][0])
            used = {j: list(shares) for j, (_, shares) in first[: self.spec.threshold]}
            points = tally.combine(g, self.aggregates, used)
            out = []
            for k, pt in enumerate(points):
                t = tally.discrete_log(g, pt, self.counted)
                if t is None:  # cannot happen with proven shares of proven ballots
                    raise _refused(
                        f"proposal {k}: the decrypted total is not between 0 and {self.counted}",
                        code="bad_decryption",
                    )
                out.append(t)
            self._totals = out
        return self._totals
