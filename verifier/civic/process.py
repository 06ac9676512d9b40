"""The state of every process in a log, fed entry by entry in log order, and
the tally an observer recomputes.

The same code decides on both sides of the trust boundary: the service runs
:meth:`Registry.check` before it appends an entry (and refuses what fails), and
an auditor replays the whole log through :meth:`Registry.admit` and compares
every published ``result`` with :meth:`Registry.tally`. An entry the service
should have refused shows up in the audit as a refusal at its index.

Rules (docs/spec/entries.md, docs/spec/counting.md):

- authority: an institution is registered by an ``institution`` entry signed by
  the log operator's key (the log's key) or by an institution registered with
  the ``register`` role; a name and a key are registered once. A process id is
  reserved once, by a ``reservation`` the operator signs when a registered
  institution with the ``open`` role asks its issuer for the process's key; it
  names that institution and that issuer key;
- a process id is used once, by a manifest of the institution it was reserved
  for, carrying the issuer key of the reservation, and signed by that institution;
- a ballot names an open (not closed) process, is signed by its pseudonym, and
  carries a credential of the process's issuer for exactly that process and
  pseudonym; the pseudonym is the nullifier;
- a petition counts each pseudonym once: a second signature is refused;
- a vote or budget ballot may replace an earlier one by the same pseudonym only
  where the manifest allows revoting, and only with a higher ``seq`` (so an old
  ballot replayed cannot undo a revote); the last one counts;
- choices are known proposal ids that respect the rule (number of choices;
  for budgets: never over the budget, minimum share, min/max projects);
- a paper batch is signed by an official named in the manifest, once per batch id,
  and its tally sheet (``sheet``, the hash of the signed paper) counts once per
  process: recording one sheet twice would count its ballots twice;
- ``close`` and ``result`` are signed by the institution; nothing after ``close``
  counts. A process has one result, its final one: published after the close,
  counting exactly through the close, equal to the recount. There is no interim
  result: before the close, the count is the provisional recount anyone makes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from urne.verifier.civic import budget, judgment
from urne.verifier.civic.beacon import NETWORKS, verify_round
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import (
    GRADED,
    RANKED,
    Answer,
    Ballot,
    BudgetRule,
    Check,
    Close,
    Complaint,
    Deal,
    Decryption,
    Delegate,
    Delegation,
    Draw,
    ElectionKey,
    Entry,
    Paper,
    PetitionRule,
    Process,
    Registration,
    Reservation,
    Result,
    SortitionRule,
    VoteRule,
    b64encode,
    verify_entry_signature,
)
from urne.verifier.civic.secret import IssuerCeremony, SecretState, check_offices, open_secret
from urne.verifier.civic.sortition import quota_violations
from urne.verifier.errors import VerificationError

__all__ = [
    "AnswerDue",
    "CredentialCheck",
    "EntryConflict",
    "EntryRefused",
    "NotAuthorized",
    "ProcessState",
    "RecordedBallot",
    "RegisteredInstitution",
    "Registry",
    "UnknownProcess",
    "answers_due",
    "check_budget_choice",
    "count",
    "resolve_delegations",
]

CredentialCheck = Callable[[bytes, str, bytes, bytes], bool]
"""``(issuer_public_key, process_id, pseudonym, credential) -> valid``."""


class EntryRefused(VerificationError):
    """An entry that is well-formed but breaks a rule of its process."""

    code = "entry_refused"
    status = 422


class EntryConflict(EntryRefused):
    """An entry that conflicts with the state of its process (already signed,
    a stale ``seq``, a closed process, ...): the same entry may be accepted at
    another time or from another author."""

    status = 409


class UnknownProcess(EntryRefused):
    """An entry, or a request, naming a process this log does not hold."""

    code = "unknown_process"
    status = 404


class NotAuthorized(EntryRefused):
    """An entry whose author has no authority for it on this log: an
    institution nobody registered, a registrar without the ``register`` role,
    a manifest for an id reserved for someone else, or for no one."""

    status = 403


@dataclass(frozen=True, slots=True)
class RegisteredInstitution:
    """An institution as its ``institution`` entry registered it."""

    name: str
    key: bytes
    roles: tuple[str, ...]
    registrar: bytes
    #: the log index of the registration
    index: int


@dataclass(slots=True)
class _Cast:
    index: int
    seq: int
    choice: tuple[str, ...] | None
    #: a secret ballot's ciphertexts (alpha || beta per proposal)
    ciphertexts: tuple[bytes, ...] | None = None


@dataclass(frozen=True, slots=True)
class RecordedBallot:
    """An accepted ballot as the count needs it, without the signature and the
    credential that were checked when it was accepted: what an auditor keeps of
    each ballot between runs (:meth:`Registry.ballots`,
    :meth:`Registry.restore_ballot`)."""

    process: str
    pseudonym: bytes
    index: int
    seq: int
    choice: tuple[str, ...] | None
    #: a secret ballot's ciphertexts (alpha || beta per proposal), proofs checked
    ciphertexts: tuple[bytes, ...] | None = None


@dataclass
class ProcessState:
    process: Process
    index: int
    #: the index of the reservation the manifest used
    reserved_at: int = -1
    closed_at: int | None = None
    #: every accepted ballot per pseudonym, in log order
    casts: dict[bytes, list[_Cast]] = field(default_factory=dict)
    #: log indices of accepted ballots, in order (for "through" queries)
    ballot_indices: list[int] = field(default_factory=list)
    paper: list[tuple[int, Paper]] = field(default_factory=list)
    batches: set[str] = field(default_factory=set)
    #: the batch id each recorded tally sheet was counted in, by sheet hash
    sheets: dict[str, str] = field(default_factory=dict)
    #: the accepted result, at most one: the final result, through ``closed_at``
    results: list[tuple[int, Result]] = field(default_factory=list)
    #: a secret vote's ceremony, key and decryptions (None for a public process)
    secret: SecretState | None = None
    #: a sortition's draw and its index (docs/spec/sortition.md §4)
    draw: tuple[int, Draw] | None = None
    #: the institution's answers by subject (None: the petition itself), in log order
    answers: dict[str | None, list[tuple[int, Answer]]] = field(default_factory=dict)
    #: the indices of every answer, in log order
    answer_indices: list[int] = field(default_factory=list)
    #: a vote's delegates: pseudonym -> (index, name) (docs/spec/delegation.md)
    delegates: dict[bytes, tuple[int, str]] = field(default_factory=dict)
    #: each pseudonym's delegations, in log order: (index, seq, to or None)
    delegations: dict[bytes, list[tuple[int, int, bytes | None]]] = field(default_factory=dict)
    #: the indices of the delegates' and delegations' entries, in log order
    delegation_indices: list[int] = field(default_factory=list)


def check_budget_choice(rule: BudgetRule, costs: dict[str, int], choice: tuple[str, ...]) -> None:
    """Decidim's budgeting constraints for one ballot (raises :class:`EntryRefused`
    whose code names the constraint: ``over_budget``, ``min_share``,
    ``min_projects``, ``max_projects``)."""
    constraints = budget.BallotConstraints(
        budget=Fraction(rule.budget) if rule.capped else None,
        min_share=Fraction(rule.min_share_percent, 100),
        min_projects=rule.min_projects,
        max_projects=rule.max_projects,
    )
    try:
        budget.check_ballot(choice, {k: Fraction(v) for k, v in costs.items()}, constraints)
    except budget.BallotConstraintError as exc:
        raise EntryRefused(str(exc), code=exc.constraint) from exc


class Registry:
    """All processes of one log. Feed it every entry in log order."""

    def __init__(
        self,
        credential_check: CredentialCheck | None,
        *,
        operator: bytes,
        ballot_proofs: bool = True,
        running_sums: bool = True,
    ) -> None:
        """``operator``: the log operator's Ed25519 public key (the key of the
        log's checkpoints), the root of every registration and the signer of
        every reservation. ``credential_check=None`` skips credentials here: an
        auditor collects them and verifies them in batches instead (see
        ``urne.verifier.check.audit``). ``ballot_proofs=False`` likewise skips
        the proofs of secret ballots (their form is still checked): the service
        verifies them before sequencing, the auditor in its workers.
        ``running_sums=False`` sums a secret vote's ciphertexts at its close, on
        every core, instead of as its ballots are accepted: for a reader of a
        whole log at once, never for the service (the close would wait)."""
        if not isinstance(operator, bytes) or len(operator) != 32:
            raise ValueError("the operator's key is a 32-byte Ed25519 public key")
        self.operator = operator
        self.processes: dict[str, ProcessState] = {}
        #: registered institutions, by key and by name
        self.institutions: dict[bytes, RegisteredInstitution] = {}
        self.names: dict[str, bytes] = {}
        #: reserved process ids: the reservation and its index
        self.reservations: dict[str, tuple[int, Reservation]] = {}
        #: the issuers' key ceremony of each process id reserved with offices
        self.issuer_ceremonies: dict[str, IssuerCeremony] = {}
        self._credential_check = credential_check
        self._ballot_proofs = ballot_proofs
        self._running_sums = running_sums
        #: (process, choice) pairs :meth:`restore_ballot` found valid: a choice's
        #: validity depends on nothing else, and checking a budget choice again for
        #: each of a million ballots would cost most of a run.
        self._restored_choices: set[tuple[str, tuple[str, ...] | None]] = set()

    # -- deciding ------------------------------------------------------------------------

    def state(self, process_id: str) -> ProcessState:
        st = self.processes.get(process_id)
        if st is None:
            raise UnknownProcess(f"no process {process_id!r} in this log")
        return st

    def institution(self, name: str) -> RegisteredInstitution | None:
        """The institution registered under ``name``, if any."""
        key = self.names.get(name)
        return None if key is None else self.institutions[key]

    def may_open(self, key: bytes) -> RegisteredInstitution:
        """The institution of ``key``, registered with the ``open`` role
        (:class:`NotAuthorized` ``unregistered_institution`` otherwise)."""
        found = self.institutions.get(key)
        if found is None or "open" not in found.roles:
            raise NotAuthorized(
                f"the key {b64encode(key)} is not registered on this log as an institution "
                'that may open processes (role "open")',
                code="unregistered_institution",
            )
        return found

    def authority(self, process_id: str) -> list[int]:
        """The indices of the entries that authorise ``process_id``'s manifest,
        in log order: its reservation, the registration of its institution and
        those of the registrars above it, up to the operator."""
        st = self.state(process_id)
        out = {st.reserved_at}
        ceremony = self.issuer_ceremonies.get(process_id)
        if ceremony is not None:  # the issuer key the manifest carries rests on it
            out.update(ceremony.indices)
        found = self.institutions.get(st.process.institution)
        while found is not None and found.index not in out:
            out.add(found.index)
            found = self.institutions.get(found.registrar)
        return sorted(out)

    def check(self, entry: Entry, index: int) -> None:
        """Raise unless ``entry`` may be appended at ``index`` (changes nothing)."""
        body = entry.body
        if isinstance(body, Registration):
            self._check_registration(entry, body)
            return
        if isinstance(body, Reservation):
            self._check_reservation(entry, body)
            return
        if isinstance(body, Process):
            self._check_manifest(entry, body)
            return
        if isinstance(body, Deal | Complaint | Check | ElectionKey) and body.issuer:
            self.issuer_ceremony(body.process).check_ceremony(entry, body, None)
            return
        st = self.state(body.process)
        if isinstance(body, Answer):
            self._check_answer(entry, body, st)
            return
        sortition = isinstance(st.process.rule, SortitionRule)
        if sortition != isinstance(body, Draw):
            raise EntryRefused(
                f"process {body.process!r} is a sortition: it takes a draw, nothing else"
                if sortition
                else f"process {body.process!r} is not a sortition: it takes no draw",
                code="not_for_sortition" if sortition else "not_sortition",
            )
        if isinstance(body, Draw):
            self._check_draw(entry, body, st)
            return
        if isinstance(body, Result):
            self._check_result(entry, body, st)
            return
        if isinstance(body, Deal | Complaint | Check | ElectionKey | Decryption):
            if isinstance(body, Decryption) and st.results:
                raise EntryConflict(
                    f"process {body.process!r} has its result, at index {st.results[0][0]}; "
                    "no decryption follows it",
                    code="result_exists",
                )
            self._secret(st).check(entry, body, st.closed_at)
            return
        if st.closed_at is not None:
            raise EntryConflict(
                f"process {body.process!r} was closed at index {st.closed_at}",
                code="process_closed",
            )
        if isinstance(body, Close):
            verify_entry_signature(entry, st.process.institution)
        elif isinstance(body, Ballot):
            self._check_ballot(entry, body, st)
        elif isinstance(body, Delegate | Delegation):
            self._check_delegation(entry, body, st)
        elif isinstance(body, Paper):
            self._check_paper(entry, body, st)

    def _check_registration(self, entry: Entry, r: Registration) -> None:
        if r.registrar != self.operator:
            registrar = self.institutions.get(r.registrar)
            if registrar is None:
                raise NotAuthorized(
                    f"the registrar {b64encode(r.registrar)} is neither this log's operator "
                    "nor a registered institution",
                    code="unknown_registrar",
                )
            if "register" not in registrar.roles:
                raise NotAuthorized(
                    f"institution {registrar.name!r} may not register others "
                    '(it lacks the role "register")',
                    code="not_a_registrar",
                )
        verify_entry_signature(entry, r.registrar)
        if r.name in self.names:
            raise EntryConflict(
                f"institution {r.name!r} is already registered", code="institution_exists"
            )
        if r.key in self.institutions or r.key == self.operator:
            other = self.institutions.get(r.key)
            who = "the log operator" if other is None else repr(other.name)
            raise EntryConflict(f"this key is already registered, as {who}", code="key_in_use")

    def _check_reservation(self, entry: Entry, r: Reservation) -> None:
        verify_entry_signature(entry, self.operator)
        self.may_open(r.institution)
        earlier = self.reservations.get(r.process)
        if earlier is not None:
            raise EntryConflict(
                f"process id {r.process!r} is reserved already, at index {earlier[0]}",
                code="process_reserved",
            )
        if r.offices is not None:
            check_offices(r)

    def issuer_ceremony(self, process_id: str) -> IssuerCeremony:
        """The issuers' key ceremony of a process id reserved with offices."""
        found = self.issuer_ceremonies.get(process_id)
        if found is None:
            raise EntryRefused(
                f"process id {process_id!r} was not reserved with issuers' offices: "
                "it has no issuers' key ceremony",
                code="no_issuer_ceremony",
            )
        return found

    @staticmethod
    def _secret(st: ProcessState) -> SecretState:
        if st.secret is None:
            raise EntryRefused(
                f"process {st.process.id!r} is not secret (a secret vote or budget)",
                code="not_secret",
            )
        return st.secret

    def _check_manifest(self, entry: Entry, p: Process) -> None:
        if p.id in self.processes:
            raise EntryConflict(f"process {p.id!r} already exists", code="process_exists")
        reserved = self.reservations.get(p.id)
        if reserved is None:
            raise NotAuthorized(
                f"process id {p.id!r} is not reserved: a registered institution asks the "
                "issuer for the process's key first, which reserves the id for it",
                code="unreserved_process",
            )
        at, r = reserved
        if p.institution != r.institution:
            raise NotAuthorized(
                f"process id {p.id!r} is reserved for another institution (at index {at})",
                code="reserved_for_another",
            )
        self.may_open(p.institution)
        if r.offices is not None:
            self._check_offices(p, at)
        elif (p.issuer_key, p.issuer_threshold, p.issuer_shares, p.issuer_offices) != (
            r.issuer_key,
            r.issuer_threshold,
            r.issuer_shares,
            (),
        ):
            raise EntryRefused(
                f"the manifest's issuer is not the one reserved for {p.id!r} at index {at}",
                code="wrong_issuer_key",
            )
        verify_entry_signature(entry, p.institution)
        if p.secret is not None:
            open_secret(p, entry)  # the trustees' proofs of their share keys

    def _check_offices(self, p: Process, at: int) -> None:
        """A process reserved with offices: its manifest comes after the
        issuer key (``no_issuer_key``) and carries it, the reserved ``t`` and
        ``n``, and each qualified office with its share's public key
        (``wrong_issuer_key``)."""
        c = self.issuer_ceremonies[p.id]
        if c.key is None:
            raise EntryConflict(
                f"process id {p.id!r} was reserved with issuers' offices (index {at}) and "
                "their key ceremony has not ended: no manifest before the issuer key",
                code="no_issuer_key",
            )
        named = tuple((o.share, o.public_key) for o in p.issuer_offices)
        if (p.issuer_key, p.issuer_threshold, p.issuer_shares, named) != (
            c.key,
            c.spec.threshold,
            len(c.spec.trustees),
            c.offices(),
        ):
            raise EntryRefused(
                f"the manifest's issuer is not the one the offices made for {p.id!r} (issuer "
                f"key at index {c.key_at}): the key {b64encode(c.key)}, "
                f"{c.spec.threshold}-of-{len(c.spec.trustees)}, and the offices "
                f"{list(c.qualified)} each with its share's public key",
                code="wrong_issuer_key",
            )

    def _check_choice(
        self, p: Process, choice: tuple[str, ...] | None, *, paper: bool = False
    ) -> None:
        """A choice in clear: an online ballot's, or one of a budget's paper
        ballots (in clear even in a secret budget: the officials counted it)."""
        rule = p.rule
        if p.secret is not None and not paper:
            if choice is not None:
                raise EntryRefused(
                    f"a ballot of a secret {p.type} carries its choice encrypted, never in clear",
                    code="secret_ballot_in_clear",
                )
            return
        if isinstance(rule, PetitionRule):
            if choice is not None:
                raise EntryRefused("a petition signature has no choice", code="bad_choice")
            return
        if choice is None:
            raise EntryRefused(f"a {p.type} ballot needs a choice", code="bad_choice")
        if isinstance(rule, VoteRule) and rule.method == GRADED:
            # a majority judgment's ballot: a grade of the scale per proposal, in order
            if paper:
                raise EntryRefused("a majority judgment has no paper ballots", code="bad_batch")
            if len(choice) != len(p.proposals):
                raise EntryRefused(
                    f"{len(choice)} grades for {len(p.proposals)} proposals: grade each, "
                    "in the manifest's order",
                    code="bad_grades",
                )
            scale = set(rule.grade_ids())
            wrong = sorted({g for g in choice if g not in scale})
            if wrong:
                raise EntryRefused(
                    f"grade(s) {wrong} are not on this vote's scale {list(rule.grade_ids())}",
                    code="bad_grades",
                )
            return
        unknown = [c for c in choice if p.proposal(c) is None]
        if unknown:
            raise EntryRefused(f"unknown proposal(s) {unknown}", code="unknown_proposal")
        if isinstance(rule, VoteRule):
            if not rule.min <= len(choice) <= rule.max:
                raise EntryRefused(
                    f"{len(choice)} choices; this vote takes {rule.min} to {rule.max}",
                    code="bad_choice_count",
                )
        elif isinstance(rule, BudgetRule):
            costs = {q.id: q.cost or 0 for q in p.proposals}
            check_budget_choice(rule, costs, choice)
        else:  # refused before, with not_for_sortition
            raise EntryRefused("a sortition takes no choice", code="not_for_sortition")

    def _check_ballot(self, entry: Entry, b: Ballot, st: ProcessState) -> None:
        p = st.process
        graded = isinstance(p.rule, VoteRule) and p.rule.method == GRADED
        if graded != (b.grades is not None):
            raise EntryRefused(
                "a majority judgment's ballot carries grades, never a choice"
                if graded
                else f"process {p.id!r} is not a majority judgment: its ballots carry no grades",
                code="bad_choice",
            )
        self._check_choice(p, b.counted)
        if st.secret is not None:
            st.secret.check_ballot(b, verify_proofs=self._ballot_proofs)
        elif b.encrypted is not None:
            raise EntryRefused(
                f"process {p.id!r} is not secret: its ballots carry a choice",
                code="not_secret",
            )
        verify_entry_signature(entry, b.pseudonym)
        self._check_revote(st, b.pseudonym, b.seq)
        if self._credential_check is not None and not self._credential_check(
            p.issuer_key, p.id, b.pseudonym, b.credential
        ):
            raise EntryRefused(
                "the credential is not the issuer's for this process and pseudonym",
                code="bad_credential",
            )

    def _check_delegation(self, entry: Entry, d: Delegate | Delegation, st: ProcessState) -> None:
        """A delegate standing, or a delegation (docs/spec/delegation.md §2):
        in a vote that takes them, signed by its pseudonym with the process's
        credential; a pseudonym stands once; a delegation names a delegate
        standing, never its own pseudonym, with a higher ``seq`` than the
        pseudonym's last delegation."""
        p = st.process
        if not (isinstance(p.rule, VoteRule) and p.rule.delegation):
            raise EntryRefused(
                f"process {p.id!r} takes no delegation (its manifest does not allow it)",
                code="no_delegation",
            )
        verify_entry_signature(entry, d.pseudonym)
        if isinstance(d, Delegate):
            if d.pseudonym in st.delegates:
                raise EntryConflict(
                    f"this pseudonym stands as a delegate already, at index "
                    f"{st.delegates[d.pseudonym][0]}",
                    code="already_delegate",
                )
        else:
            if d.to is not None and d.to == d.pseudonym:
                raise EntryRefused("a pseudonym cannot delegate to itself", code="self_delegation")
            if d.to is not None and d.to not in st.delegates:
                raise EntryRefused(
                    f"{b64encode(d.to)} does not stand as a delegate in {p.id!r}",
                    code="unknown_delegate",
                )
            earlier = st.delegations.get(d.pseudonym)
            if earlier and d.seq <= earlier[-1][1]:
                raise EntryConflict(
                    f"seq {d.seq} does not follow the pseudonym's last delegation's seq "
                    f"{earlier[-1][1]}",
                    code="stale_seq",
                )
        if self._credential_check is not None and not self._credential_check(
            p.issuer_key, p.id, d.pseudonym, d.credential
        ):
            raise EntryRefused(
                "the credential is not the issuer's for this process and pseudonym",
                code="bad_credential",
            )

    @staticmethod
    def _check_revote(st: ProcessState, pseudonym: bytes, seq: int) -> None:
        prev = st.casts.get(pseudonym)
        if not prev:
            return
        rule = st.process.rule
        if isinstance(rule, PetitionRule | SortitionRule):
            raise EntryConflict("this pseudonym already signed", code="already_signed")
        if not rule.revoting:
            raise EntryConflict(
                "this pseudonym already voted and the process allows no revoting",
                code="already_voted",
            )
        if seq <= prev[-1].seq:
            raise EntryConflict(
                f"seq {seq} does not follow the pseudonym's last seq {prev[-1].seq}",
                code="stale_seq",
            )

    def _check_paper(self, entry: Entry, pb: Paper, st: ProcessState) -> None:
        p = st.process
        if p.official(pb.official) is None:
            raise EntryRefused(
                "the batch is signed by a key that is not an official of this process",
                code="unknown_official",
            )
        verify_entry_signature(entry, pb.official)
        if pb.batch in st.batches:
            raise EntryConflict(f"batch {pb.batch!r} was already recorded", code="duplicate_batch")
        counted_in = st.sheets.get(pb.sheet)
        if counted_in is not None:
            raise EntryConflict(
                f"tally sheet {pb.sheet} was already counted in batch {counted_in!r}; "
                "a sheet counts once per process",
                code="duplicate_sheet",
            )
        if isinstance(p.rule, PetitionRule):
            ok = pb.signatures is not None
        elif isinstance(p.rule, VoteRule) and p.rule.method in (GRADED, RANKED):
            raise EntryRefused(
                f"a {p.rule.method} vote has no paper batches in this version "
                "(docs/spec/counting-ranked.md §3)",
                code="bad_batch",
            )
        elif isinstance(p.rule, VoteRule):
            ok = pb.counts is not None
            unknown = [c for c in pb.counts or {} if p.proposal(c) is None]
            if unknown:
                raise EntryRefused(f"unknown proposal(s) {unknown}", code="unknown_proposal")
        else:
            ok = pb.ballots is not None
            for choice in pb.ballots or ():
                self._check_choice(p, choice, paper=True)
        if not ok:
            raise EntryRefused(
                f"a {p.type} batch carries "
                + {"petition": "signatures", "vote": "counts", "budget": "ballots"}[p.type],
                code="bad_batch",
            )

    @staticmethod
    def _check_draw(entry: Entry, d: Draw, st: ProcessState) -> None:
        """A sortition's draw (docs/spec/sortition.md §4): once, by the
        institution, with the signature of the round the manifest named, and a
        panel that fills the seats within the quotas. That the panel is the
        one the pool and the seed give is checked by replaying the draw with
        the pool file (``urne-verify sortition``)."""
        rule = st.process.rule
        assert isinstance(rule, SortitionRule)
        verify_entry_signature(entry, st.process.institution)
        if st.draw is not None:
            raise EntryConflict(
                f"process {d.process!r} was drawn at index {st.draw[0]}; a sortition draws once",
                code="already_drawn",
            )
        if d.round != rule.round:
            raise EntryRefused(
                f"the draw uses round {d.round}; the manifest named round {rule.round}",
                code="wrong_round",
            )
        network = NETWORKS[rule.chain]
        if not verify_round(network, d.round, d.signature):
            raise EntryRefused(
                f"the beacon signature is not drand {network.name}'s for round {d.round}",
                code="bad_beacon",
            )
        if d.attempt >= rule.attempts:
            raise EntryRefused(
                f"attempt {d.attempt}; the manifest allows {rule.attempts} (0 to "
                f"{rule.attempts - 1})",
                code="bad_attempt",
            )
        broken = quota_violations(rule, d.panel)
        if broken:
            raise EntryRefused(
                "the panel breaks the manifest: " + "; ".join(broken[:5]),
                code="quota_not_met",
            )

    @staticmethod
    def _check_answer(entry: Entry, a: Answer, st: ProcessState) -> None:
        """The institution's answer (docs/spec/answers.md §2): by the
        institution, about the petition itself or one of the process's
        proposals, never after a final answer on the same subject, and dated
        no earlier than the process's opening nor than its last answer."""
        p = st.process
        if isinstance(p.rule, SortitionRule):
            raise EntryRefused(
                f"process {p.id!r} is a sortition: its outcome is its panel, it takes no answer",
                code="not_for_sortition",
            )
        verify_entry_signature(entry, p.institution)
        if a.about is None:
            if not isinstance(p.rule, PetitionRule):
                raise EntryRefused(
                    f"an answer to process {p.id!r} names the proposal it answers "
                    "(only a petition is answered as a whole)",
                    code="bad_subject",
                )
        elif p.proposal(a.about) is None:
            raise EntryRefused(f"unknown proposal {a.about!r}", code="unknown_proposal")
        earlier = st.answers.get(a.about)
        if earlier and earlier[-1][1].status != "in_study":
            at, last = earlier[-1]
            raise EntryConflict(
                f"{'the petition' if a.about is None else repr(a.about)} was answered "
                f"{last.status!r} at index {at}: a decision is final",
                code="already_answered",
            )
        last_time = max((x.answered for xs in st.answers.values() for _, x in xs), default=None)
        if a.answered < p.opens or (last_time is not None and a.answered < last_time):
            raise EntryRefused(
                f"the answer is dated {a.answered}, before the process opened ({p.opens}) "
                f"or before its last answer ({last_time})",
                code="bad_answer_time",
            )

    def _check_result(self, entry: Entry, r: Result, st: ProcessState) -> None:
        """One final result per process, counting exactly through the close.

        A second result, or one counting through an earlier index, would let
        the institution replace the outcome it published by a partial count
        (another winner, a petition not yet at its threshold) that is still a
        true recount of some prefix of the log; only "through the close, once"
        leaves a single outcome to show."""
        verify_entry_signature(entry, st.process.institution)
        if st.results:
            raise EntryConflict(
                f"process {r.process!r} already has its result, at index {st.results[0][0]}; "
                "a process has one result",
                code="result_exists",
            )
        if st.closed_at is None:
            raise EntryConflict(
                f"process {r.process!r} is not closed; its result follows its close",
                code="process_not_closed",
            )
        if r.through != st.closed_at:
            raise EntryRefused(
                f"a result counts through the close of its process, at index {st.closed_at}; "
                f"this one counts through {r.through}",
                code="bad_through",
            )
        if st.secret is not None:
            st.secret.require_decrypted()
        want = self.tally(r.process, r.through)
        if canonical(want) != canonical(r.tally):
            raise EntryRefused(
                f"the published tally differs from the recount through index {r.through}",
                code="wrong_result",
            )

    # -- recording ----------------------------------------------------------------------

    def apply(self, entry: Entry, index: int) -> None:
        """Record an entry that :meth:`check` accepted."""
        body = entry.body
        if isinstance(body, Registration):
            self.institutions[body.key] = RegisteredInstitution(
                body.name, body.key, body.roles, body.registrar, index
            )
            self.names[body.name] = body.key
            return
        if isinstance(body, Reservation):
            self.reservations[body.process] = (index, body)
            if body.offices is not None:
                self.issuer_ceremonies[body.process] = IssuerCeremony.start(body, entry)
            return
        if isinstance(body, Process):
            self.processes[body.id] = ProcessState(
                body,
                index,
                reserved_at=self.reservations[body.id][0],
                secret=None
                if body.secret is None
                else SecretState.start(body, entry, sums=self._running_sums),
            )
            return
        if isinstance(body, Deal | Complaint | Check | ElectionKey) and body.issuer:
            self.issuer_ceremonies[body.process].apply_ceremony(body, index)
            return
        st = self.processes[body.process]
        if isinstance(body, Deal | Complaint | Check | ElectionKey | Decryption):
            assert st.secret is not None
            st.secret.apply(body, index)
            return
        if isinstance(body, Ballot):
            cts = None
            if st.secret is not None:
                cts = st.secret.ciphertexts_of(body)
                st.secret.count_in(body.pseudonym, cts)
            self._record_cast(st, body.pseudonym, _Cast(index, body.seq, body.counted, cts))
        elif isinstance(body, Paper):
            st.paper.append((index, body))
            st.batches.add(body.batch)
            st.sheets[body.sheet] = body.batch
        elif isinstance(body, Close):
            st.closed_at = index
            if st.secret is not None:
                st.secret.close()
        elif isinstance(body, Result):
            st.results.append((index, body))
        elif isinstance(body, Draw):
            st.draw = (index, body)
            st.closed_at = index
        elif isinstance(body, Answer):
            st.answers.setdefault(body.about, []).append((index, body))
            st.answer_indices.append(index)
        elif isinstance(body, Delegate):
            st.delegates[body.pseudonym] = (index, body.name)
            st.delegation_indices.append(index)
        elif isinstance(body, Delegation):
            st.delegations.setdefault(body.pseudonym, []).append((index, body.seq, body.to))
            st.delegation_indices.append(index)

    def admit(self, entry: Entry, index: int) -> None:
        self.check(entry, index)
        self.apply(entry, index)

    @staticmethod
    def _record_cast(st: ProcessState, pseudonym: bytes, cast: _Cast) -> None:
        st.casts.setdefault(pseudonym, []).append(cast)
        st.ballot_indices.append(cast.index)

    # -- keeping the state between runs -------------------------------------------------

    def ballots(self) -> list[RecordedBallot]:
        """Every accepted ballot, in log order: with the other accepted entries,
        all an auditor keeps to rebuild this registry in a later run, without
        storing (or verifying again) every signature and credential."""
        out = [
            RecordedBallot(pid, pseudonym, cast.index, cast.seq, cast.choice, cast.ciphertexts)
            for pid, st in self.processes.items()
            for pseudonym, casts in st.casts.items()
            for cast in casts
        ]
        out.sort(key=lambda b: b.index)
        return out

    def restore_ballot(self, ballot: RecordedBallot) -> None:
        """Record a ballot accepted in an earlier run, as :meth:`ballots` gave it.

        Ballots and the other entries come back in log order. The signature and
        credential were verified when the ballot was accepted and are not kept;
        the rules that need neither are checked again, so a damaged state is
        refused here (:class:`EntryRefused`) instead of skewing a count.
        """
        self.restore_ballots(
            [
                (
                    ballot.process,
                    ballot.pseudonym,
                    ballot.index,
                    ballot.seq,
                    ballot.choice,
                    ballot.ciphertexts,
                )
            ]
        )

    def restore_ballots(
        self,
        ballots: Iterable[
            tuple[str, bytes, int, int, tuple[str, ...] | None, tuple[bytes, ...] | None]
        ],
    ) -> None:
        """:meth:`restore_ballot` for many ballots in log order, each given as
        ``(process, pseudonym, index, seq, choice, ciphertexts)``: the same
        checks, without an object per ballot (a service restarting from a
        snapshot of a million ballots)."""
        states: dict[str, ProcessState] = {}
        restored = self._restored_choices
        for process, pseudonym, index, seq, choice, cts in ballots:
            st = states.get(process)
            if st is None:
                st = states[process] = self.state(process)
            indices = st.ballot_indices
            last = indices[-1] if indices else st.index
            if index <= last:
                raise EntryRefused(
                    f"a ballot at index {index} does not come after the process's manifest "
                    f"and its earlier ballots (index {last})",
                    code="out_of_order",
                )
            if st.closed_at is not None:
                raise EntryConflict(
                    f"process {process!r} was closed at index {st.closed_at}",
                    code="process_closed",
                )
            if (process, choice) not in restored:
                self._check_choice(st.process, choice)
                restored.add((process, choice))
            secret = st.secret
            if secret is not None:
                secret.check_restored(cts)
            elif cts is not None:
                raise EntryRefused("a public vote's ballot has no ciphertexts", code="not_secret")
            casts = st.casts.get(pseudonym)
            if casts:
                self._check_revote(st, pseudonym, seq)
                casts.append(_Cast(index, seq, choice, cts))
            else:
                st.casts[pseudonym] = [_Cast(index, seq, choice, cts)]
            indices.append(index)
            if secret is not None and cts is not None:
                secret.count_in(pseudonym, cts)

    # -- counting ---------------------------------------------------------------------

    def tally(self, process_id: str, through: int) -> dict[str, Any]:
        """The result of a process counting the entries at indices <= ``through``."""
        return count(self.state(process_id), through)


def count(st: ProcessState, through: int) -> dict[str, Any]:
    """The tally of one process's state counting its entries at indices <= ``through``
    (docs/spec/counting.md): a function of that state alone. A secret vote's
    counts are known once its trustees have decrypted the totals at the close
    (docs/secret-ballot.md §6); before, they are ``null``."""
    p = st.process
    last: dict[bytes, tuple[str, ...] | None] = {}
    first_index: list[int] = []
    for pseudonym, casts in st.casts.items():
        k = bisect_right([c.index for c in casts], through)
        if k:
            last[pseudonym] = casts[k - 1].choice
            first_index.append(casts[0].index)
    paper = [(i, pb) for i, pb in st.paper if i <= through]
    officials: dict[str, int] = {}
    for _, pb in paper:
        key = b64encode(pb.official)
        officials[key] = officials.get(key, 0) + 1
    out: dict[str, Any] = {
        "process": p.id,
        "type": p.type,
        "ballots": len(last),
        "paper_batches": officials,
    }
    if isinstance(p.rule, SortitionRule):
        out.update(_sortition(p.rule, st.draw if st.draw and st.draw[0] <= through else None))
    elif isinstance(p.rule, PetitionRule):
        out.update(_petition(p.rule, first_index, paper))
    elif st.secret is not None:
        totals = (
            st.secret.totals() if st.closed_at is not None and through >= st.closed_at else None
        )
        if isinstance(p.rule, VoteRule):
            out.update(_secret_vote(p, totals, paper))
        else:
            out.update(_secret_budget(p, p.rule, totals, paper))
    elif isinstance(p.rule, VoteRule) and p.rule.method == GRADED:
        out.update(_graded(p, p.rule, last.values()))
    elif isinstance(p.rule, VoteRule) and p.rule.method == RANKED:
        out.update(_ranked(p, last.values()))
    elif isinstance(p.rule, VoteRule) and p.rule.delegation:
        out.update(_delegated(p, st, last, through, paper))
    elif isinstance(p.rule, VoteRule):
        out.update(_vote(p, last.values(), paper))
    else:
        out.update(_budget(p, p.rule, last.values(), paper))
    return out


@dataclass(frozen=True, slots=True)
class AnswerDue:
    """Where one answer the manifest promises stands (docs/spec/answers.md §3)."""

    #: the proposal, or None for the petition itself
    about: str | None
    #: ``answered`` (first answer by the deadline), ``late`` (first answer
    #: after it), ``overdue`` (none, the deadline passed), ``pending`` (none yet)
    state: str
    #: the last answer's status, if any
    status: str | None
    #: the last answer's index, if any
    index: int | None


def answers_due(st: ProcessState, through: int, now: str) -> list[AnswerDue]:
    """The answers ``st``'s manifest promises, counting entries at indices
    <= ``through``, as of the UTC time ``now`` (``YYYY-MM-DDTHH:MM:SSZ``): the
    petition itself once its threshold is reached, and every proposal the
    manifest lists. A process that promises none has none due."""
    p, policy = st.process, st.process.answers
    if policy is None:
        return []
    subjects: list[str | None] = []
    if isinstance(p.rule, PetitionRule) and count(st, through)["reached"]:
        subjects.append(None)
    subjects += list(policy.proposals)
    out = []
    for about in subjects:
        given = [(i, a) for i, a in st.answers.get(about, []) if i <= through]
        if not given:
            state = "overdue" if now > policy.by else "pending"
            out.append(AnswerDue(about, state, None, None))
            continue
        first, (last_index, last) = given[0][1], given[-1]
        state = "answered" if first.answered <= policy.by else "late"
        out.append(AnswerDue(about, state, last.status, last_index))
    return out


def _sortition(rule: SortitionRule, drawn: tuple[int, Draw] | None) -> dict[str, Any]:
    """A sortition's outcome: its panel once drawn (``null`` before)."""
    return {
        "seats": rule.seats,
        "round": rule.round,
        "drawn_at": None if drawn is None else drawn[0],
        "panel": None
        if drawn is None
        else [{"id": m.id, "values": list(m.values)} for m in drawn[1].panel],
    }


def _petition(
    rule: PetitionRule, first_index: list[int], paper: list[tuple[int, Paper]]
) -> dict[str, Any]:
    events = sorted([(i, 1) for i in first_index] + [(i, pb.signatures or 0) for i, pb in paper])
    total, reached_at = 0, None
    for i, n in events:
        total += n
        if reached_at is None and total >= rule.threshold:
            reached_at = i
    paper_n = sum(pb.signatures or 0 for _, pb in paper)
    return {
        "signatures": len(first_index),
        "paper_signatures": paper_n,
        "total": len(first_index) + paper_n,
        "threshold": rule.threshold,
        "reached": reached_at is not None,
        "reached_at": reached_at,
    }


def resolve_delegations(
    direct: Iterable[bytes], delegations: dict[bytes, bytes | None]
) -> dict[bytes, bytes]:
    """Whose direct vote each delegating pseudonym's counts as
    (docs/spec/delegation.md §3): a pseudonym that voted counts its own
    vote, whatever it delegated; one that did not follows its last
    delegation, transitively, to the first pseudonym on the chain that voted.
    A chain that ends at a revoked delegation or at a pseudonym that neither
    voted nor delegated, or that comes back on itself before reaching a
    voter, counts nothing. Linear in the pseudonyms: each chain is walked
    once, its answer shared by every pseudonym on it."""
    voted = set(direct)
    resolved: dict[bytes, bytes | None] = {v: v for v in voted}
    unknown = object()
    for start, first in delegations.items():
        if start in resolved:
            continue
        known = unknown if first is None else resolved.get(first, unknown)
        if first is None or known is not unknown:  # revoked, or a chain walked already
            resolved[start] = None if first is None else known  # type: ignore[assignment]
            continue
        path: dict[bytes, None] = {start: None}  # in order, and for membership
        x: bytes | None = first
        answer: bytes | None = None
        while x is not None:
            if x in resolved:
                answer = resolved[x]
                break
            if x in path:  # a cycle with no voter on it
                break
            path[x] = None
            x = delegations.get(x)
        for y in path:
            resolved[y] = answer
    return {k: v for k, v in resolved.items() if v is not None and k not in voted}


def _delegated(
    p: Process,
    st: ProcessState,
    last: dict[bytes, tuple[str, ...] | None],
    through: int,
    paper: list[tuple[int, Paper]],
) -> dict[str, Any]:
    """A vote with delegation: each direct ballot counts once for its own
    pseudonym and once for every pseudonym whose delegations lead to it
    (docs/spec/delegation.md §3); the counts, totals and winners as a
    vote's, with how many votes came by delegation and each delegate's
    weight."""
    delegations: dict[bytes, bytes | None] = {}
    for pseudonym, given in st.delegations.items():
        k = bisect_right([i for i, _, _ in given], through)
        if k:
            delegations[pseudonym] = given[k - 1][2]
    via = resolve_delegations(last, delegations)
    weight = dict.fromkeys(last, 1)
    for voter in via.values():
        weight[voter] += 1
    weighted: list[tuple[str, ...] | None] = []
    for pseudonym, choice in last.items():
        weighted.extend([choice] * weight[pseudonym])
    out = _vote(p, weighted, paper)
    standing = {ps: name for ps, (i, name) in st.delegates.items() if i <= through}
    out["delegated"] = len(via)
    out["delegates"] = {
        b64encode(ps): {"name": name, "voted": ps in last, "weight": weight.get(ps, 0)}
        for ps, name in sorted(standing.items())
    }
    return out


def _graded(
    p: Process, rule: VoteRule, ballots: Iterable[tuple[str, ...] | None]
) -> dict[str, Any]:
    """A majority judgment's tally (docs/spec/counting-ranked.md §1): each
    proposal's profile (how many ballots gave each grade, best first), its
    majority grade, the ranking by majority values, in tiers, and the first
    tier as the winners (none without ballots)."""
    scale = rule.grade_ids()
    at = {g: k for k, g in enumerate(scale)}
    ids = [q.id for q in p.proposals]
    profiles = {pid: [0] * len(scale) for pid in ids}
    counted = 0
    for grades in ballots:
        if grades is None:
            continue
        counted += 1
        for pid, g in zip(ids, grades, strict=True):
            profiles[pid][at[g]] += 1
    majority: dict[str, str | None] = {}
    for pid in ids:
        best = judgment.majority_grade(profiles[pid])
        majority[pid] = None if best is None else scale[best]
    ranking = judgment.majority_judgment(profiles) if counted else [sorted(ids)]
    return {
        "grades": list(scale),
        "profiles": profiles,
        "majority_grades": majority,
        "ranking": ranking,
        "winners": ranking[0] if counted else [],
    }


def _ranked(p: Process, rankings: Iterable[tuple[str, ...] | None]) -> dict[str, Any]:
    """A Schulze vote's tally (docs/spec/counting-ranked.md §2): the pairwise
    counts ``d``, the strongest paths ``p``, the ranking in tiers and the first
    tier as the winners (none without ballots)."""
    ids = [q.id for q in p.proposals]
    given = [r for r in rankings if r is not None]
    d = judgment.pairwise(ids, given)
    paths = judgment.strongest_paths(d)
    ranking = judgment.schulze(ids, d, paths) if given else [sorted(ids)]
    return {
        "pairwise": {
            a: {b: d[i][j] for j, b in enumerate(ids) if j != i} for i, a in enumerate(ids)
        },
        "strongest_paths": {
            a: {b: paths[i][j] for j, b in enumerate(ids) if j != i} for i, a in enumerate(ids)
        },
        "ranking": ranking,
        "winners": ranking[0] if given else [],
    }


def _vote(
    p: Process, choices: Iterable[tuple[str, ...] | None], paper: list[tuple[int, Paper]]
) -> dict[str, Any]:
    online = {q.id: 0 for q in p.proposals}
    for choice in choices:
        for c in choice or ():
            online[c] += 1
    on_paper = {q.id: 0 for q in p.proposals}
    for _, pb in paper:
        for c, n in (pb.counts or {}).items():
            on_paper[c] += n
    total = {k: online[k] + on_paper[k] for k in online}
    top = max(total.values(), default=0)
    winners = sorted(k for k, v in total.items() if v == top) if top else []
    return {"counts": online, "paper_counts": on_paper, "total": total, "winners": winners}


def _secret_vote(
    p: Process, totals: list[int] | None, paper: list[tuple[int, Paper]]
) -> dict[str, Any]:
    """A secret vote's tally: the decrypted online totals (``null`` until the
    trustees have decrypted them) with the paper counts, as a public vote's."""
    on_paper = {q.id: 0 for q in p.proposals}
    for _, pb in paper:
        for c, n in (pb.counts or {}).items():
            on_paper[c] += n
    if totals is None:
        return {
            "secret": True,
            "counts": None,
            "paper_counts": on_paper,
            "total": None,
            "winners": None,
        }
    online = {q.id: n for q, n in zip(p.proposals, totals, strict=True)}
    total = {k: online[k] + on_paper[k] for k in online}
    top = max(total.values(), default=0)
    winners = sorted(k for k, v in total.items() if v == top) if top else []
    return {
        "secret": True,
        "counts": online,
        "paper_counts": on_paper,
        "total": total,
        "winners": winners,
    }


def _secret_budget(
    p: Process, rule: BudgetRule, totals: list[int] | None, paper: list[tuple[int, Paper]]
) -> dict[str, Any]:
    """A secret budget's tally: greedy over the approvals per project, the
    decrypted online totals plus the paper ballots' (docs/secret-ballot.md §6);
    ``null`` until the trustees have decrypted. Greedy depends on the totals
    alone, so it is the same outcome the ballots in clear would give."""
    paper_ballots = [frozenset(b) for _, pb in paper for b in pb.ballots or ()]
    costs = {q.id: q.cost or 0 for q in p.proposals}
    head: dict[str, Any] = {"secret": True, "paper_ballots": len(paper_ballots)}
    if totals is None:
        return {
            **head,
            "approvals": None,
            "budget": rule.budget,
            "rule": rule.outcome,
            "selected": None,
            "spent": None,
        }
    approvals = {q.id: n for q, n in zip(p.proposals, totals, strict=True)}
    for b in paper_ballots:
        for c in b:
            approvals[c] += 1
    selected = budget.greedy_by_approvals(
        Fraction(rule.budget), {k: Fraction(v) for k, v in costs.items()}, approvals
    )
    return {
        **head,
        "approvals": approvals,
        "budget": rule.budget,
        "rule": rule.outcome,
        "selected": sorted(selected),
        "spent": sum(costs[c] for c in selected),
    }


def _budget(
    p: Process,
    rule: BudgetRule,
    choices: Iterable[tuple[str, ...] | None],
    paper: list[tuple[int, Paper]],
) -> dict[str, Any]:
    ballots = [frozenset(c or ()) for c in choices]
    paper_ballots = [frozenset(b) for _, pb in paper for b in pb.ballots or ()]
    costs = {q.id: q.cost or 0 for q in p.proposals}
    everyone = ballots + paper_ballots
    approvals = {q.id: 0 for q in p.proposals}
    for b in everyone:
        for c in b:
            approvals[c] += 1
    election = budget.ApprovalElection.from_ballots(rule.budget, costs, everyone)
    selected = budget.RULES[rule.outcome](election)
    return {
        "paper_ballots": len(paper_ballots),
        "approvals": approvals,
        "budget": rule.budget,
        "rule": rule.outcome,
        "selected": sorted(selected),
        "spent": sum(costs[c] for c in selected),
    }
