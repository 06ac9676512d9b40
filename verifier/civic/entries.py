"""Log entries: the kinds, their byte-exact form, and author signatures.

Every entry is the RFC 8785 canonical JSON of one object with ``"v": 1``, a
``"kind"`` and an Ed25519 signature ``"sig"`` by its author over::

    b"urne/v1/" + kind + b"\\n" + JCS(entry without "sig")

The kind in the signed bytes is a domain-separation tag: a signature on a ballot
can never pass for a signature on a close or a result. Binary values are base64
(standard alphabet, padded, canonical). Every field is checked here, and fields
not listed for a kind are refused, so an entry means exactly one thing.

Who signs what (checked by :func:`verify_entry_signature` with the key the
state of the process designates, see ``urne.verifier.civic.process``):

===============  ============================  ==================================
kind             author                        key
===============  ============================  ==================================
``institution``  the operator or a registrar   ``registrar`` in the entry
``reservation``  the operator (the issuer)     the log's key
``process``      the institution               ``institution`` in the manifest
``ballot``       the citizen's pseudonym       ``pseudonym`` in the ballot
``paper``        an official of the manifest   ``official`` in the batch
``close``        the institution               the manifest's ``institution``
``result``       the institution               the manifest's ``institution``
``deal``,        a trustee of a secret vote    the manifest's ``secret.trustees``
``complaint``,
``check``,
``decryption``
``election-key`` the institution               the manifest's ``institution``
``draw``         the institution               the manifest's ``institution``
``answer``       the institution               the manifest's ``institution``
``delegate``,    the citizen's pseudonym       ``pseudonym`` in the entry
``delegation``
===============  ============================  ==================================

Who may sign at all (registered institutions and their roles, reserved
process ids) is decided by the state of the log, in ``urne.verifier.civic.process``.

docs/spec/entries.md is the specification; this module is its reference code.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import nacl.exceptions
import nacl.signing

from urne.verifier.civic.beacon import NETWORKS
from urne.verifier.civic.canonical import canonical, fingerprint, parse_canonical
from urne.verifier.civic.eligibility import Eligibility, parse_eligibility
from urne.verifier.credentials import bls
from urne.verifier.errors import FormatError, SignatureError

__all__ = [
    "ANSWER_STATUSES",
    "DOMAIN",
    "IDENTIFIER",
    "KINDS",
    "ROLES",
    "Answer",
    "AnswerPolicy",
    "Ballot",
    "BudgetRule",
    "Check",
    "Close",
    "Complaint",
    "Deal",
    "DealtShare",
    "Decryption",
    "Delegate",
    "Delegation",
    "Draw",
    "ElectionKey",
    "Entry",
    "Grade",
    "Member",
    "Office",
    "Official",
    "Paper",
    "PetitionRule",
    "Process",
    "Proposal",
    "Quota",
    "Registration",
    "Reservation",
    "Result",
    "SecretSpec",
    "SortitionRule",
    "TrusteeRef",
    "VoteRule",
    "b64decode",
    "b64encode",
    "decode_entry",
    "parse_entry",
    "signing_bytes",
    "verify_entry_signature",
]

DOMAIN = b"urne/v1/"
KINDS = (
    "institution",
    "reservation",
    "process",
    "ballot",
    "paper",
    "close",
    "result",
    # the secret ballot (docs/secret-ballot.md): the trustees' key ceremony and
    # their decryption of the tally
    "deal",
    "complaint",
    "check",
    "election-key",
    "decryption",
    # a process's credential issuers' key ceremony, before its manifest
    # (docs/spec/issuer-ceremony.md)
    "issuer-deal",
    "issuer-complaint",
    "issuer-check",
    "issuer-key",
    # a sortition's draw (docs/spec/sortition.md)
    "draw",
    # the institution's answer to a petition or a proposal (docs/spec/answers.md)
    "answer",
    # a vote's delegates and delegations (docs/spec/delegation.md)
    "delegate",
    "delegation",
)
#: What a registered institution may do: ``open`` processes (reserve ids, sign
#: manifests, closes and results) and ``register`` other institutions.
ROLES = ("open", "register")
PROCESS_TYPES = ("petition", "vote", "budget", "sortition")
SORTITION_ALGORITHMS = ("urne-legacy-v1",)
ANSWER_STATUSES = ("accepted", "rejected", "in_study")
VOTE_METHODS = ("single", "approval", "k-of-n", "majority-judgment", "schulze")
#: Methods whose ballots are not a set of chosen proposals (docs/spec/counting-ranked.md)
GRADED, RANKED = "majority-judgment", "schulze"
_MAX_GRADES = 10
BUDGET_RULES = ("greedy", "mes", "mes-then-greedy")

#: Identifiers: process ids, proposal ids, batch ids, institution names. They
#: also name key files, so no "/" and no leading "." can reach a path.
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: RFC 3339 in UTC with whole seconds, in ASCII digits (``\d`` would match the
#: digits of any script).
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_MAX_PROPOSALS = 10_000


# -- primitives ---------------------------------------------------------------------


def b64encode(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def b64decode(value: object, what: str, *, size: int | None = None) -> bytes:
    """Standard, padded, canonical base64 (RFC 4648 §4, §3.5), of ``size`` bytes."""
    if not isinstance(value, str):
        raise FormatError(f"{what}: expected a base64 string, found {type(value).__name__}")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{what}: not valid base64", code="bad_base64") from exc
    if b64encode(raw) != value:
        raise FormatError(f"{what}: not canonical base64", code="bad_base64")
    if size is not None and len(raw) != size:
        raise FormatError(f"{what}: {len(raw)} bytes, want {size}", code="bad_length")
    return raw


def _fields(
    obj: dict[str, Any], what: str, required: set[str], optional: frozenset[str] = frozenset()
) -> None:
    missing = required - obj.keys()
    if missing:
        raise FormatError(f"{what}: missing field(s) {sorted(missing)}", code="missing_field")
    unknown = obj.keys() - required - optional
    if unknown:
        raise FormatError(f"{what}: unknown field(s) {sorted(unknown)}", code="unknown_field")


def _str(v: object, what: str, *, max_len: int = 100_000) -> str:
    if not isinstance(v, str) or not v or len(v) > max_len:
        raise FormatError(f"{what}: expected a non-empty string of at most {max_len} characters")
    return v


def _ident(v: object, what: str) -> str:
    if not isinstance(v, str) or not IDENTIFIER.fullmatch(v):
        raise FormatError(
            f"{what}: expected an identifier (letters, digits, '.', '_', ':', '-'; "
            f"1 to 128 characters), found {v!r}",
            code="bad_identifier",
        )
    return v


def _int(v: object, what: str, *, lo: int = 0, hi: int = 2**53 - 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise FormatError(f"{what}: expected an integer in [{lo}, {hi}], found {v!r}")
    return v


def _bool(v: object, what: str) -> bool:
    if not isinstance(v, bool):
        raise FormatError(f"{what}: expected true or false, found {v!r}")
    return v


def _text(v: object, what: str) -> str | dict[str, str]:
    """A text, or translations ``{"en": ..., "fr": ...}`` as Decidim stores them."""
    if isinstance(v, str):
        return _str(v, what)
    if (
        isinstance(v, dict)
        and v
        and all(isinstance(k, str) and isinstance(t, str) for k, t in v.items())
    ):
        return dict(v)
    raise FormatError(f"{what}: expected a string or an object of translations")


def _time(v: object, what: str) -> str:
    """A real UTC instant, ``YYYY-MM-DDTHH:MM:SSZ`` (RFC 3339 §5.6).

    The form alone would let ``2027-13-01``, ``2027-02-30`` or hour ``25``
    through, and each reader would then resolve them its own way (or fail
    on the first ballot), so the calendar is checked too. A leap second
    (``:60``) is refused: the values are compared as text and as POSIX time,
    which has no leap seconds, and no deadline needs one."""
    if isinstance(v, str) and (m := _TIME.fullmatch(v)) is not None:
        try:
            year, month, day, hour, minute, second = (int(part) for part in m.groups())
            datetime(year, month, day, hour, minute, second)
        except ValueError:
            pass
        else:
            return v
    raise FormatError(
        f"{what}: expected a UTC time YYYY-MM-DDTHH:MM:SSZ with a real date and time "
        f"(year 0001-9999, seconds 00-59), found {v!r}",
        code="bad_time",
    )


def _ids(v: object, what: str) -> tuple[str, ...]:
    if not isinstance(v, list):
        raise FormatError(f"{what}: expected a list of identifiers")
    out = tuple(_ident(x, f"{what}[{i}]") for i, x in enumerate(v))
    if len(set(out)) != len(out):
        raise FormatError(f"{what}: an identifier appears twice", code="duplicate_choice")
    return out


# -- the kinds -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    title: str | dict[str, str]
    body: str | dict[str, str]
    fingerprint: str
    cost: int | None = None


@dataclass(frozen=True, slots=True)
class Official:
    name: str
    key: bytes


@dataclass(frozen=True, slots=True)
class PetitionRule:
    threshold: int


@dataclass(frozen=True, slots=True)
class Grade:
    """A grade of a majority judgment's scale: an identifier and its label."""

    id: str
    label: str | dict[str, str]


@dataclass(frozen=True, slots=True)
class VoteRule:
    method: Literal["single", "approval", "k-of-n", "majority-judgment", "schulze"]
    min: int
    max: int
    revoting: bool
    #: a majority judgment's scale, from the best grade to the worst
    grades: tuple[Grade, ...] = ()
    #: whether citizens may delegate their vote (docs/spec/delegation.md)
    delegation: bool = False

    def grade_ids(self) -> tuple[str, ...]:
        return tuple(g.id for g in self.grades)


@dataclass(frozen=True, slots=True)
class BudgetRule:
    budget: int
    outcome: Literal["greedy", "mes", "mes-then-greedy"]
    min_projects: int
    max_projects: int | None
    min_share_percent: int
    capped: bool
    revoting: bool


@dataclass(frozen=True, slots=True)
class Quota:
    """A sortition's quota: how many seats people with ``value`` for
    ``feature`` take, at least and at most."""

    feature: str
    value: str
    min: int
    max: int


@dataclass(frozen=True, slots=True)
class SortitionRule:
    """A sortition's commitment (docs/spec/sortition.md §2): the pool file by
    its hash, the seats and quotas, the algorithm, and the drand round whose
    randomness, not yet published, will draw the panel."""

    seats: int
    pool_sha256: str
    people: int
    features: tuple[str, ...]
    quotas: tuple[Quota, ...]
    algorithm: Literal["urne-legacy-v1"]
    attempts: int
    chain: str
    round: int

    def values(self, feature: str) -> tuple[str, ...]:
        return tuple(q.value for q in self.quotas if q.feature == feature)


@dataclass(frozen=True, slots=True)
class TrusteeRef:
    """A trustee of a secret vote, as the manifest names it."""

    name: str
    key: bytes  # Ed25519: signs the trustee's entries
    share_key: bytes  # E = g^e: receives the dealt shares (ristretto255, or G2 for an office)
    proof: bytes  # knowledge of e (docs/secret-ballot.md §3)


@dataclass(frozen=True, slots=True)
class SecretSpec:
    group: str
    threshold: int
    trustees: tuple[TrusteeRef, ...]

    def index_of(self, key: bytes) -> int | None:
        """The trustee's number (from 1) for its Ed25519 key."""
        for i, t in enumerate(self.trustees, start=1):
            if t.key == key:
                return i
        return None


@dataclass(frozen=True, slots=True)
class Office:
    """A credential issuer's office as a manifest names it: the share it holds,
    where it answers, and the share's public key ``X_j`` (G2), which the rules
    check against the issuers' key ceremony."""

    share: int
    url: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """What the institution commits to answer, and by when (docs/spec/answers.md
    §1): the petition itself once it reaches its threshold, and the proposals
    listed."""

    by: str
    proposals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Process:
    id: str
    type: Literal["petition", "vote", "budget", "sortition"]
    title: str | dict[str, str]
    text: str | dict[str, str]
    institution: bytes
    opens: str
    closes: str
    issuer_key: bytes
    issuer_threshold: int
    issuer_shares: int
    officials: tuple[Official, ...]
    proposals: tuple[Proposal, ...]
    rule: PetitionRule | VoteRule | BudgetRule | SortitionRule
    #: a secret vote's trustees (docs/secret-ballot.md §3); None for a public process
    secret: SecretSpec | None = None
    #: the issuers' offices, when their key came from a ceremony
    #: (docs/spec/issuer-ceremony.md); empty for a key made by the service
    issuer_offices: tuple[Office, ...] = ()
    #: the answers the institution commits to give (docs/spec/answers.md)
    answers: AnswerPolicy | None = None
    #: who may ask for a credential, when an identity provider decides it
    #: (docs/spec/eligibility.md); None: a roll of one-time codes
    eligibility: Eligibility | None = None

    def proposal(self, pid: str) -> Proposal | None:
        for p in self.proposals:
            if p.id == pid:
                return p
        return None

    def official(self, key: bytes) -> Official | None:
        for o in self.officials:
            if o.key == key:
                return o
        return None


@dataclass(frozen=True, slots=True)
class Ballot:
    process: str
    pseudonym: bytes
    credential: bytes
    seq: int
    choice: tuple[str, ...] | None  # None for a petition signature and a secret ballot
    #: a secret ballot's ``encrypted`` object, checked against its process by the
    #: rules (urne.verifier.civic.process), which know the number of proposals
    encrypted: dict[str, Any] | None = None
    #: a majority judgment's grades, one per proposal in the manifest's order
    grades: tuple[str, ...] | None = None

    @property
    def counted(self) -> tuple[str, ...] | None:
        """What the count reads: the grades of a graded ballot, else the choice
        (the ranking of a ranked ballot)."""
        return self.grades if self.grades is not None else self.choice


@dataclass(frozen=True, slots=True)
class Paper:
    process: str
    official: bytes
    batch: str
    sheet: str
    signatures: int | None  # petition
    counts: dict[str, int] | None  # vote
    ballots: tuple[tuple[str, ...], ...] | None  # budget


@dataclass(frozen=True, slots=True)
class Close:
    process: str


@dataclass(frozen=True, slots=True)
class Answer:
    """The institution's answer (docs/spec/answers.md §2): to the petition
    itself (``about`` None) or to one of the process's proposals."""

    process: str
    about: str | None
    status: Literal["accepted", "rejected", "in_study"]
    text: str | dict[str, str]
    cost: int | None
    answered: str


@dataclass(frozen=True, slots=True)
class Delegate:
    """A pseudonym standing as a delegate in a vote, under a public name
    (docs/spec/delegation.md §2); it carries its credential, as a ballot."""

    process: str
    pseudonym: bytes
    credential: bytes
    name: str


@dataclass(frozen=True, slots=True)
class Delegation:
    """A pseudonym's delegation of its vote to a delegate's pseudonym, or its
    revocation (``to`` None); the highest ``seq`` counts."""

    process: str
    pseudonym: bytes
    credential: bytes
    seq: int
    to: bytes | None


@dataclass(frozen=True, slots=True)
class Member:
    """A member of a drawn panel: the pool's pseudonymous id and the person's
    value for each of the pool's features, in the manifest's order."""

    id: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Draw:
    """A sortition's draw (docs/spec/sortition.md §4): the beacon's signature
    for the round the manifest named, and the panel, in the order drawn."""

    process: str
    round: int
    signature: bytes
    attempt: int
    panel: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class Result:
    process: str
    through: int
    tally: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Registration:
    """An institution registered on the log: its name, its key and its roles,
    signed by ``registrar`` (the log operator's key, or an institution
    registered with the ``register`` role)."""

    name: str
    key: bytes
    roles: tuple[str, ...]
    registrar: bytes


@dataclass(frozen=True, slots=True)
class Reservation:
    """A process id reserved for a registered institution, with the issuer key
    the issuer made for it, signed by the log operator (who runs the issuer):
    only that institution's manifest, with that issuer key, may use the id."""

    process: str
    institution: bytes
    #: None when the offices make the key in a ceremony (``offices``)
    issuer_key: bytes | None
    issuer_threshold: int
    issuer_shares: int
    #: the issuers' offices of a key made with no dealer: group
    #: ``bls12-381-g2``, the threshold, each office's keys (as a secret
    #: vote's trustees); None for a key the service made
    offices: SecretSpec | None = None


@dataclass(frozen=True, slots=True)
class DealtShare:
    to: int
    ephemeral: bytes
    masked: bytes
    proof: bytes


@dataclass(frozen=True, slots=True)
class Deal:
    process: str
    trustee: int
    commitments: tuple[bytes, ...]
    proof: bytes
    shares: tuple[DealtShare, ...]
    #: an ``issuer-deal``: the issuers' ceremony, not the trustees'
    issuer: bool = False


@dataclass(frozen=True, slots=True)
class Complaint:
    process: str
    trustee: int
    against: int
    key: bytes
    proof: bytes
    issuer: bool = False


@dataclass(frozen=True, slots=True)
class Check:
    process: str
    trustee: int
    issuer: bool = False


@dataclass(frozen=True, slots=True)
class ElectionKey:
    """An ``election-key`` or, with ``issuer``, an ``issuer-key``: the joint
    key of a ceremony and its qualified participants."""

    process: str
    key: bytes
    qualified: tuple[int, ...]
    issuer: bool = False


@dataclass(frozen=True, slots=True)
class Decryption:
    process: str
    trustee: int
    shares: tuple[bytes, ...]
    proofs: tuple[bytes, ...]


Body = (
    Registration
    | Reservation
    | Process
    | Ballot
    | Paper
    | Close
    | Result
    | Deal
    | Complaint
    | Check
    | ElectionKey
    | Decryption
    | Draw
    | Answer
    | Delegate
    | Delegation
)


@dataclass(frozen=True, slots=True)
class Entry:
    """A decoded entry: the raw object, its author signature and the typed body."""

    kind: str
    obj: dict[str, Any]
    sig: bytes
    body: Body

    @property
    def process_id(self) -> str | None:
        """The process the entry belongs to (``None`` for a registration)."""
        body = self.body
        if isinstance(body, Registration):
            return None
        return body.id if isinstance(body, Process) else body.process


def _proposal(p: object, what: str, budget: bool) -> Proposal:
    if not isinstance(p, dict):
        raise FormatError(f"{what}: expected an object")
    _fields(p, what, {"id", "title", "body", "fingerprint"} | ({"cost"} if budget else set()))
    title, body = _text(p["title"], f"{what}.title"), _text(p["body"], f"{what}.body")
    fp = p["fingerprint"]
    if not isinstance(fp, str) or not _HEX64.fullmatch(fp):
        raise FormatError(f"{what}.fingerprint: expected 64 lower-case hex digits")
    want = fingerprint({"title": title, "body": body})
    if fp != want:
        raise FormatError(
            f"{what}.fingerprint is {fp}, but its title and body hash to {want}",
            code="bad_fingerprint",
        )
    cost = _int(p["cost"], f"{what}.cost", lo=1) if budget else None
    return Proposal(_ident(p["id"], f"{what}.id"), title, body, fp, cost)


#: Bounds of a sortition (docs/spec/sortition.md §2): a replay makes at most
#: ``attempts`` attempts, each about people x features list operations, plus, per
#: seat, one pass over the category drawn from (at most the pool): so
#: ``attempts x people`` is bounded too; a draw entry stays under 65,535 bytes.
MAX_SEATS = 500
MAX_POOL = 10_000_000
MAX_FEATURES = 16
MAX_QUOTAS = 256
MAX_ATTEMPTS = 1_000
#: attempts x people: what replaying a draw may cost at most
MAX_REPLAY = 100_000_000
#: 9999-12-31T23:59:59Z, the last time entries.md §1 can write
_LAST_TIME = 253402300799


def _sortition_rule(r: dict[str, Any]) -> SortitionRule:
    what = "process.rule"
    _fields(r, what, {"seats", "pool", "quotas", "algorithm", "attempts", "beacon"})
    pool = r["pool"]
    if not isinstance(pool, dict):
        raise FormatError(f"{what}.pool: expected an object")
    _fields(pool, f"{what}.pool", {"sha256", "people", "features"})
    digest = pool["sha256"]
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise FormatError(f"{what}.pool.sha256: expected 64 lower-case hex digits")
    features = _ids(pool["features"], f"{what}.pool.features")
    if not 1 <= len(features) <= MAX_FEATURES:
        raise FormatError(f"{what}.pool.features: expected 1 to {MAX_FEATURES} features")
    if "id" in features:
        raise FormatError(f"{what}.pool.features: 'id' names the pool's first column")
    seats = _int(r["seats"], f"{what}.seats", lo=1, hi=MAX_SEATS)
    people = _int(pool["people"], f"{what}.pool.people", lo=seats, hi=MAX_POOL)
    raw = r["quotas"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_QUOTAS:
        raise FormatError(f"{what}.quotas: expected a list of 1 to {MAX_QUOTAS} quotas")
    quotas: list[Quota] = []
    for i, q in enumerate(raw):
        w = f"{what}.quotas[{i}]"
        if not isinstance(q, dict):
            raise FormatError(f"{w}: expected an object")
        _fields(q, w, {"feature", "value", "min", "max"})
        quota = Quota(
            _ident(q["feature"], f"{w}.feature"),
            _ident(q["value"], f"{w}.value"),
            _int(q["min"], f"{w}.min", hi=seats),
            _int(q["max"], f"{w}.max", hi=seats),
        )
        if quota.min > quota.max:
            raise FormatError(f"{w}: min {quota.min} is above max {quota.max}")
        quotas.append(quota)
    # each feature's values together, the features in the pool's order
    order = [q.feature for q in quotas]
    grouped = [f for i, f in enumerate(order) if i == 0 or order[i - 1] != f]
    if tuple(grouped) != features:
        raise FormatError(
            f"{what}.quotas: expected every value of every feature of the pool, "
            f"feature by feature in the order {list(features)}"
        )
    if len({(q.feature, q.value) for q in quotas}) != len(quotas):
        raise FormatError(f"{what}.quotas: a feature's value appears twice")
    for f in features:
        mins = sum(q.min for q in quotas if q.feature == f)
        maxs = sum(q.max for q in quotas if q.feature == f)
        if not mins <= seats <= maxs:
            raise FormatError(
                f"{what}.quotas: the quotas of {f!r} cannot add up to {seats} seats "
                f"(minimums {mins}, maximums {maxs})",
                code="infeasible_quotas",
            )
    algorithm = r["algorithm"]
    if algorithm not in SORTITION_ALGORITHMS:
        raise FormatError(
            f"{what}.algorithm: expected one of {SORTITION_ALGORITHMS}, found {algorithm!r}"
        )
    beacon = r["beacon"]
    if not isinstance(beacon, dict):
        raise FormatError(f"{what}.beacon: expected an object")
    _fields(beacon, f"{what}.beacon", {"chain", "round"})
    chain = beacon["chain"]
    if chain not in NETWORKS:
        raise FormatError(
            f"{what}.beacon.chain: expected the chain hash of drand's quicknet "
            f"({sorted(NETWORKS)}), found {chain!r}",
            code="unknown_beacon",
        )
    attempts = _int(r["attempts"], f"{what}.attempts", lo=1, hi=MAX_ATTEMPTS)
    if attempts * people > MAX_REPLAY:
        raise FormatError(
            f"{what}: {attempts} attempts over {people} people; a replay may have to make "
            f"them all, and attempts times people is at most {MAX_REPLAY:,}"
        )
    last_round = NETWORKS[chain].round_at(_LAST_TIME)
    return SortitionRule(
        seats=seats,
        pool_sha256=digest,
        people=people,
        features=features,
        quotas=tuple(quotas),
        algorithm=algorithm,
        attempts=attempts,
        chain=chain,
        # no later than the last round a time of entries.md §1 can name
        round=_int(beacon["round"], f"{what}.beacon.round", lo=1, hi=last_round),
    )


def _grades(raw: object, what: str) -> tuple[Grade, ...]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= _MAX_GRADES:
        raise FormatError(f"{what}: expected a list of 2 to {_MAX_GRADES} grades, best first")
    out = []
    for i, g in enumerate(raw):
        if not isinstance(g, dict):
            raise FormatError(f"{what}[{i}]: expected an object")
        _fields(g, f"{what}[{i}]", {"id", "label"})
        out.append(
            Grade(_ident(g["id"], f"{what}[{i}].id"), _text(g["label"], f"{what}[{i}].label"))
        )
    if len({g.id for g in out}) != len(out):
        raise FormatError(f"{what}: a grade's id appears twice")
    return tuple(out)


def _rule(
    kind: str, r: object, proposals: tuple[Proposal, ...]
) -> PetitionRule | VoteRule | BudgetRule | SortitionRule:
    what = "process.rule"
    if not isinstance(r, dict):
        raise FormatError(f"{what}: expected an object")
    if kind == "sortition":
        return _sortition_rule(r)
    if kind == "petition":
        _fields(r, what, {"threshold"})
        return PetitionRule(_int(r["threshold"], f"{what}.threshold", lo=1))
    n = len(proposals)
    if kind == "vote":
        method = r.get("method")
        _fields(
            r,
            what,
            {"method", "min", "max", "revoting"} | ({"grades"} if method == GRADED else set()),
            frozenset({"delegation"}),
        )
        if method not in VOTE_METHODS:
            raise FormatError(f"{what}.method: expected one of {VOTE_METHODS}, found {method!r}")
        lo, hi = _int(r["min"], f"{what}.min"), _int(r["max"], f"{what}.max", lo=1)
        if method == "single" and (lo, hi) != (1, 1):
            raise FormatError(f"{what}: a single-choice vote has min 1 and max 1")
        if method == RANKED and lo < 1:
            raise FormatError(f"{what}: a Schulze ballot ranks at least one proposal (min >= 1)")
        if method == GRADED and (lo, hi) != (n, n):
            raise FormatError(f"{what}: a majority judgment grades every proposal: min = max = {n}")
        if not lo <= hi <= n:
            raise FormatError(f"{what}: need min <= max <= {n} proposals, found {lo}, {hi}")
        grades = _grades(r["grades"], f"{what}.grades") if method == GRADED else ()
        delegation = _bool(r["delegation"], f"{what}.delegation") if "delegation" in r else False
        if delegation and method in (GRADED, RANKED):
            raise FormatError(
                f"{what}.delegation: a {method} vote takes no delegation in this version "
                "(docs/spec/delegation.md §1)"
            )
        return VoteRule(
            method, lo, hi, _bool(r["revoting"], f"{what}.revoting"), grades, delegation
        )
    _fields(
        r,
        what,
        {
            "budget",
            "outcome",
            "min_projects",
            "max_projects",
            "min_share_percent",
            "capped",
            "revoting",
        },
    )
    outcome = r["outcome"]
    if outcome not in BUDGET_RULES:
        raise FormatError(f"{what}.outcome: expected one of {BUDGET_RULES}, found {outcome!r}")
    max_p = r["max_projects"]
    rule = BudgetRule(
        budget=_int(r["budget"], f"{what}.budget", lo=1),
        outcome=outcome,
        min_projects=_int(r["min_projects"], f"{what}.min_projects", hi=n),
        max_projects=None if max_p is None else _int(max_p, f"{what}.max_projects", lo=1, hi=n),
        min_share_percent=_int(r["min_share_percent"], f"{what}.min_share_percent", hi=100),
        capped=_bool(r["capped"], f"{what}.capped"),
        revoting=_bool(r["revoting"], f"{what}.revoting"),
    )
    if rule.max_projects is not None and rule.max_projects < rule.min_projects:
        raise FormatError(f"{what}: max_projects is below min_projects")
    if not rule.capped and rule.min_share_percent:
        raise FormatError(f"{what}: a minimum share of the budget needs capped ballots")
    return rule


def _process(o: dict[str, Any]) -> Process:
    _fields(
        o,
        "process",
        {
            "v",
            "kind",
            "sig",
            "id",
            "type",
            "title",
            "text",
            "institution",
            "opens",
            "closes",
            "issuer",
            "officials",
            "proposals",
            "rule",
        },
        frozenset({"secret", "answers", "eligibility"}),
    )
    ptype = o["type"]
    if ptype not in PROCESS_TYPES:
        raise FormatError(f"process.type: expected one of {PROCESS_TYPES}, found {ptype!r}")
    issuer_key, threshold, shares, offices = _issuer(o["issuer"], "process.issuer")
    officials_raw = o["officials"]
    if not isinstance(officials_raw, list):
        raise FormatError("process.officials: expected a list")
    officials = []
    for i, off in enumerate(officials_raw):
        if not isinstance(off, dict):
            raise FormatError(f"process.officials[{i}]: expected an object")
        _fields(off, f"process.officials[{i}]", {"name", "key"})
        officials.append(
            Official(
                _str(off["name"], f"process.officials[{i}].name", max_len=200),
                b64decode(off["key"], f"process.officials[{i}].key", size=32),
            )
        )
    if len({x.key for x in officials}) != len(officials):
        raise FormatError("process.officials: a key appears twice")
    props_raw = o["proposals"]
    if not isinstance(props_raw, list) or len(props_raw) > _MAX_PROPOSALS:
        raise FormatError(f"process.proposals: expected a list of at most {_MAX_PROPOSALS}")
    proposals = tuple(
        _proposal(p, f"process.proposals[{i}]", ptype == "budget") for i, p in enumerate(props_raw)
    )
    if len({p.id for p in proposals}) != len(proposals):
        raise FormatError("process.proposals: a proposal id appears twice")
    if ptype == "sortition":
        if proposals or officials or "secret" in o:
            raise FormatError(
                "process: a sortition has no proposals, no officials and no secret: "
                "it draws people from its pool"
            )
    elif ptype != "petition" and not proposals:
        raise FormatError(f"process.proposals: a {ptype} needs at least one proposal")
    opens, closes = _time(o["opens"], "process.opens"), _time(o["closes"], "process.closes")
    if not opens < closes:
        raise FormatError("process: opens must be before closes")
    rule = _rule(ptype, o["rule"], proposals)
    if isinstance(rule, SortitionRule):
        released = NETWORKS[rule.chain].round_iso(rule.round)
        if not opens < released <= closes:
            raise FormatError(
                f"process.rule.beacon.round: round {rule.round} is released at {released}, "
                f"which must be after opens ({opens}) and no later than closes ({closes})",
                code="bad_round",
            )
    return Process(
        id=_ident(o["id"], "process.id"),
        type=ptype,
        title=_text(o["title"], "process.title"),
        text=_text(o["text"], "process.text"),
        institution=b64decode(o["institution"], "process.institution", size=32),
        opens=opens,
        closes=closes,
        issuer_key=issuer_key,
        issuer_threshold=threshold,
        issuer_shares=shares,
        officials=tuple(officials),
        proposals=proposals,
        rule=rule,
        secret=_secret(o["secret"], ptype, len(proposals), rule) if "secret" in o else None,
        answers=_answer_policy(o["answers"], ptype, proposals, opens) if "answers" in o else None,
        issuer_offices=offices,
        eligibility=_eligibility(o["eligibility"], ptype, shares) if "eligibility" in o else None,
    )


def _eligibility(o: object, ptype: str, shares: int) -> Eligibility:
    what = "process.eligibility"
    if ptype == "sortition":
        raise FormatError(
            f"{what}: a sortition draws from its pool; nobody asks for a credential",
            code="eligibility_not_offered",
        )
    if shares > 1:
        raise FormatError(
            f"{what}: an identity provider's answer is checked by one issuer; a t-of-n "
            "issuer key takes a roll of codes (docs/spec/eligibility.md §1)",
            code="eligibility_not_offered",
        )
    return parse_eligibility(o, what)


def _answer_policy(
    o: object, ptype: str, proposals: tuple[Proposal, ...], opens: str
) -> AnswerPolicy:
    what = "process.answers"
    if ptype == "sortition":
        raise FormatError(f"{what}: a sortition's outcome is its panel; it takes no answers")
    if not isinstance(o, dict):
        raise FormatError(f"{what}: expected an object")
    _fields(o, what, {"by", "proposals"})
    by = _time(o["by"], f"{what}.by")
    if not opens < by:
        raise FormatError(f"{what}.by: the answers are due after the process opens")
    marked = _ids(o["proposals"], f"{what}.proposals")
    known = {p.id for p in proposals}
    unknown = [x for x in marked if x not in known]
    if unknown:
        raise FormatError(f"{what}.proposals: unknown proposal(s) {unknown}")
    if ptype != "petition" and not marked:
        raise FormatError(f"{what}.proposals: a {ptype} names the proposals it will answer")
    return AnswerPolicy(by, marked)


_MAX_TRUSTEES = 32
_MAX_OPTIONS_SECRET = 64


def _secret(o: object, ptype: str, proposals: int, rule: object) -> SecretSpec:
    what = "process.secret"
    if ptype == "petition":
        raise FormatError(
            f"{what}: a petition is not secret: a signature is public by nature "
            "(docs/secret-ballot.md §9)",
            code="secret_not_offered",
        )
    if isinstance(rule, VoteRule) and rule.delegation:
        raise FormatError(
            f"{what}: a delegate's weight is public, a secret ballot's choice is not: a vote "
            "with delegation is public (docs/spec/delegation.md §1)",
            code="secret_not_offered",
        )
    if isinstance(rule, VoteRule) and rule.method in (GRADED, RANKED):
        raise FormatError(
            f"{what}: a {rule.method} vote is counted from each ballot in clear in this version "
            "(docs/spec/counting-ranked.md §4 says which of the two could be secret, and how)",
            code="secret_not_offered",
        )
    if isinstance(rule, BudgetRule) and rule.outcome != "greedy":
        raise FormatError(
            f"{what}: a secret budget is counted by greedy over the decrypted totals; "
            f"{rule.outcome!r} needs each ballot in clear (docs/secret-ballot.md §9)",
            code="secret_not_offered",
        )
    if proposals > _MAX_OPTIONS_SECRET:
        raise FormatError(
            f"{what}: a secret {ptype} has at most {_MAX_OPTIONS_SECRET} proposals",
            code="too_many_options",
        )
    if not isinstance(o, dict):
        raise FormatError(f"{what}: expected an object")
    _fields(o, what, {"group", "threshold", "trustees"})
    if o["group"] != "ristretto255":
        raise FormatError(f'{what}.group: expected "ristretto255"', code="bad_group")
    trustees = _participants(o["trustees"], f"{what}.trustees", 32)
    threshold = _int(o["threshold"], f"{what}.threshold", lo=1, hi=len(trustees))
    return SecretSpec("ristretto255", threshold, tuple(trustees))


def _participants(raw: object, what: str, share_key_size: int) -> tuple[TrusteeRef, ...]:
    """A ceremony's participants: 1 to 32 ``{"name", "key", "share_key",
    "proof"}``, no key or share key twice."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= _MAX_TRUSTEES:
        raise FormatError(f"{what}: expected 1 to {_MAX_TRUSTEES} of them")
    out = []
    for i, t in enumerate(raw):
        w = f"{what}[{i}]"
        if not isinstance(t, dict):
            raise FormatError(f"{w}: expected an object")
        _fields(t, w, {"name", "key", "share_key", "proof"})
        out.append(
            TrusteeRef(
                _str(t["name"], f"{w}.name", max_len=200),
                b64decode(t["key"], f"{w}.key", size=32),
                b64decode(t["share_key"], f"{w}.share_key", size=share_key_size),
                b64decode(t["proof"], f"{w}.proof", size=64),
            )
        )
    if len({t.key for t in out}) != len(out) or len({t.share_key for t in out}) != len(out):
        raise FormatError(f"{what}: a key appears twice")
    return tuple(out)


#: An office's address: an absolute http(s) URL with no query, fragment or
#: credentials; the wallet appends ``/issuance/<process>``.
_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/%]*)?")


def _office_url(url: str) -> bool:
    if len(url) > 200 or not _URL.fullmatch(url) or url.endswith("/"):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    return bool(parts.hostname) and "@" not in parts.netloc


def _offices(raw: object, what: str, shares: int) -> tuple[Office, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= shares:
        raise FormatError(f"{what}: expected 1 to {shares} offices")
    out = []
    for i, x in enumerate(raw):
        w = f"{what}[{i}]"
        if not isinstance(x, dict):
            raise FormatError(f"{w}: expected an object")
        _fields(x, w, {"share", "url", "public_key"})
        url = x["url"]
        if not isinstance(url, str) or not _office_url(url):
            raise FormatError(
                f"{w}.url: expected an http(s) URL of at most 200 characters with a host, "
                f"and no query, fragment, credentials or trailing slash, found {url!r}",
                code="bad_url",
            )
        out.append(
            Office(
                _int(x["share"], f"{w}.share", lo=1, hi=shares),
                url,
                _issuer_key(x["public_key"], f"{w}.public_key"),
            )
        )
    if [o.share for o in out] != sorted({o.share for o in out}):
        raise FormatError(f"{what}: offices in increasing order of share, once each")
    return tuple(out)


def _issuer(issuer: object, what: str) -> tuple[bytes, int, int, tuple[Office, ...]]:
    """``{"public_key", "threshold", "shares"}`` and, for a key made by the
    offices' ceremony, ``"offices"``: the key, t, n and the offices."""
    if not isinstance(issuer, dict):
        raise FormatError(f"{what}: expected an object")
    _fields(issuer, what, {"public_key", "threshold", "shares"}, frozenset({"offices"}))
    shares = _int(issuer["shares"], f"{what}.shares", lo=1, hi=255)
    threshold = _int(issuer["threshold"], f"{what}.threshold", lo=1, hi=shares)
    offices = _offices(issuer["offices"], f"{what}.offices", shares) if "offices" in issuer else ()
    return _issuer_key(issuer["public_key"], f"{what}.public_key"), threshold, shares, offices


def _reservation_issuer(
    issuer: object, what: str
) -> tuple[bytes | None, int, int, SecretSpec | None]:
    """A reservation's ``issuer``: a key the service made (as a manifest's,
    without offices), or ``{"threshold", "offices"}``: the offices that make
    it in a ceremony, each ``{"name", "key", "share_key", "proof"}`` with a
    G2 share key (docs/spec/issuer-ceremony.md §1)."""
    if isinstance(issuer, dict) and "offices" in issuer:
        _fields(issuer, what, {"threshold", "offices"})
        offices = _participants(issuer["offices"], f"{what}.offices", bls.G2_COMPRESSED_SIZE)
        if len(offices) < 2:
            raise FormatError(
                f"{what}.offices: at least 2 offices (one office would hold the whole key)"
            )
        threshold = _int(issuer["threshold"], f"{what}.threshold", lo=1, hi=len(offices))
        spec = SecretSpec("bls12-381-g2", threshold, offices)
        return None, threshold, len(offices), spec
    key, threshold, shares, named = _issuer(issuer, what)
    if named:
        raise FormatError(
            f"{what}: a reservation names its offices with their keys, not their addresses"
        )
    return key, threshold, shares, None


def _issuer_key(value: object, what: str) -> bytes:
    """The issuer's BLS public key, decoded as docs/spec/credentials.md §1 says
    a decoder must: the compression flag set, not the point at infinity, x
    below p, on the curve, in the order-r subgroup. Refused here, the manifest
    never enters the log; accepted, every ballot of the process would be
    refused later as ``bad_credential``, far from the cause."""
    key = b64decode(value, what, size=bls.G2_COMPRESSED_SIZE)
    if bls.current_backend().g2_decompress(key) is None:
        raise FormatError(
            f"{what}: not a compressed point of G2's order-r subgroup "
            "other than the point at infinity (docs/spec/credentials.md §1)",
            code="bad_issuer_key",
        )
    return key


def _registration(o: dict[str, Any]) -> Registration:
    _fields(o, "institution", {"v", "kind", "sig", "name", "key", "roles", "registrar"})
    roles = o["roles"]
    if (
        not isinstance(roles, list)
        or not roles
        or not all(isinstance(r, str) and r in ROLES for r in roles)
        or roles != sorted(set(roles))
    ):
        raise FormatError(
            f"institution.roles: expected distinct roles of {ROLES} in that (sorted) order, "
            f"at least one, found {roles!r}",
            code="bad_roles",
        )
    return Registration(
        name=_ident(o["name"], "institution.name"),
        key=b64decode(o["key"], "institution.key", size=32),
        roles=tuple(roles),
        registrar=b64decode(o["registrar"], "institution.registrar", size=32),
    )


def _reservation(o: dict[str, Any]) -> Reservation:
    _fields(o, "reservation", {"v", "kind", "sig", "process", "institution", "issuer"})
    issuer_key, threshold, shares, offices = _reservation_issuer(o["issuer"], "reservation.issuer")
    return Reservation(
        process=_ident(o["process"], "reservation.process"),
        institution=b64decode(o["institution"], "reservation.institution", size=32),
        issuer_key=issuer_key,
        issuer_threshold=threshold,
        issuer_shares=shares,
        offices=offices,
    )


def _ballot(o: dict[str, Any]) -> Ballot:
    _fields(
        o,
        "ballot",
        {"v", "kind", "sig", "process", "pseudonym", "credential", "seq"},
        frozenset({"choice", "encrypted", "grades"}),
    )
    if len({"choice", "encrypted", "grades"} & o.keys()) > 1:
        raise FormatError(
            "ballot: a choice, an encrypted choice or grades, one of them", code="bad_choice"
        )
    choice = _ids(o["choice"], "ballot.choice") if "choice" in o else None
    grades = None
    if "grades" in o:
        raw = o["grades"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= _MAX_PROPOSALS:
            raise FormatError(f"ballot.grades: expected a list of 1 to {_MAX_PROPOSALS} grades")
        grades = tuple(_ident(g, f"ballot.grades[{i}]") for i, g in enumerate(raw))
    encrypted = o.get("encrypted")
    if encrypted is not None and not isinstance(encrypted, dict):
        raise FormatError("ballot.encrypted: expected an object", code="bad_encrypted_ballot")
    return Ballot(
        process=_ident(o["process"], "ballot.process"),
        pseudonym=b64decode(o["pseudonym"], "ballot.pseudonym", size=32),
        credential=b64decode(o["credential"], "ballot.credential", size=bls.G1_COMPRESSED_SIZE),
        seq=_int(o["seq"], "ballot.seq"),
        choice=choice,
        encrypted=encrypted,
        grades=grades,
    )


def _paper(o: dict[str, Any]) -> Paper:
    base = {"v", "kind", "sig", "process", "official", "batch", "sheet"}
    _fields(o, "paper", base, frozenset(frozenset({"signatures", "counts", "ballots"})))
    present = [k for k in ("signatures", "counts", "ballots") if k in o]
    if len(present) != 1:
        raise FormatError(
            "paper: exactly one of signatures, counts or ballots", code="missing_field"
        )
    sheet = o["sheet"]
    if not isinstance(sheet, str) or not _HEX64.fullmatch(sheet):
        raise FormatError(
            "paper.sheet: expected the SHA-256 (64 lower-case hex) of the tally sheet"
        )
    signatures = counts = ballots = None
    if "signatures" in o:
        signatures = _int(o["signatures"], "paper.signatures")
    elif "counts" in o:
        c = o["counts"]
        if not isinstance(c, dict):
            raise FormatError("paper.counts: expected an object of proposal id to count")
        counts = {_ident(k, "paper.counts key"): _int(v, f"paper.counts.{k}") for k, v in c.items()}
    else:
        b = o["ballots"]
        if not isinstance(b, list):
            raise FormatError("paper.ballots: expected a list of ballots")
        ballots = tuple(_ids(x, f"paper.ballots[{i}]") for i, x in enumerate(b))
    return Paper(
        process=_ident(o["process"], "paper.process"),
        official=b64decode(o["official"], "paper.official", size=32),
        batch=_ident(o["batch"], "paper.batch"),
        sheet=sheet,
        signatures=signatures,
        counts=counts,
        ballots=ballots,
    )


def _close(o: dict[str, Any]) -> Close:
    _fields(o, "close", {"v", "kind", "sig", "process"})
    return Close(_ident(o["process"], "close.process"))


def _result(o: dict[str, Any]) -> Result:
    _fields(o, "result", {"v", "kind", "sig", "process", "through", "tally"})
    if not isinstance(o["tally"], dict):
        raise FormatError("result.tally: expected an object")
    return Result(
        _ident(o["process"], "result.process"), _int(o["through"], "result.through"), o["tally"]
    )


def _trustee(v: object, what: str) -> int:
    return _int(v, what, lo=1, hi=_MAX_TRUSTEES)


def _points(v: object, what: str, *, lo: int, hi: int, size: int = 32) -> tuple[bytes, ...]:
    if not isinstance(v, list) or not lo <= len(v) <= hi:
        raise FormatError(f"{what}: expected a list of {lo} to {hi} values")
    return tuple(b64decode(x, f"{what}[{i}]", size=size) for i, x in enumerate(v))


def _point_size(kind: str) -> int:
    """A ceremony's points: ristretto255 (32 bytes) for a secret vote's
    trustees, BLS12-381 G2 (96 bytes) for a process's credential issuers."""
    return bls.G2_COMPRESSED_SIZE if kind.startswith("issuer-") else 32


def _deal(o: dict[str, Any]) -> Deal:
    kind = o["kind"]
    size = _point_size(kind)
    _fields(o, kind, {"v", "kind", "sig", "process", "trustee", "commitments", "proof", "shares"})
    raw = o["shares"]
    if not isinstance(raw, list) or len(raw) >= _MAX_TRUSTEES:
        raise FormatError(f"{kind}.shares: expected a list of fewer than {_MAX_TRUSTEES}")
    shares = []
    for i, x in enumerate(raw):
        w = f"{kind}.shares[{i}]"
        if not isinstance(x, dict):
            raise FormatError(f"{w}: expected an object")
        _fields(x, w, {"to", "ephemeral", "masked", "proof"})
        shares.append(
            DealtShare(
                _trustee(x["to"], f"{w}.to"),
                b64decode(x["ephemeral"], f"{w}.ephemeral", size=size),
                b64decode(x["masked"], f"{w}.masked", size=32),
                b64decode(x["proof"], f"{w}.proof", size=64),
            )
        )
    return Deal(
        _ident(o["process"], f"{kind}.process"),
        _trustee(o["trustee"], f"{kind}.trustee"),
        _points(o["commitments"], f"{kind}.commitments", lo=1, hi=_MAX_TRUSTEES, size=size),
        b64decode(o["proof"], f"{kind}.proof", size=64),
        tuple(shares),
        issuer=kind == "issuer-deal",
    )


def _complaint(o: dict[str, Any]) -> Complaint:
    kind = o["kind"]
    _fields(o, kind, {"v", "kind", "sig", "process", "trustee", "against", "key", "proof"})
    return Complaint(
        _ident(o["process"], f"{kind}.process"),
        _trustee(o["trustee"], f"{kind}.trustee"),
        _trustee(o["against"], f"{kind}.against"),
        b64decode(o["key"], f"{kind}.key", size=_point_size(kind)),
        b64decode(o["proof"], f"{kind}.proof", size=64),
        issuer=kind == "issuer-complaint",
    )


def _check(o: dict[str, Any]) -> Check:
    kind = o["kind"]
    _fields(o, kind, {"v", "kind", "sig", "process", "trustee"})
    return Check(
        _ident(o["process"], f"{kind}.process"),
        _trustee(o["trustee"], f"{kind}.trustee"),
        issuer=kind == "issuer-check",
    )


def _election_key(o: dict[str, Any]) -> ElectionKey:
    kind = o["kind"]
    _fields(o, kind, {"v", "kind", "sig", "process", "key", "qualified"})
    q = o["qualified"]
    if not isinstance(q, list) or not 1 <= len(q) <= _MAX_TRUSTEES:
        raise FormatError(f"{kind}.qualified: expected 1 to {_MAX_TRUSTEES} trustees")
    qualified = tuple(_trustee(x, f"{kind}.qualified[{i}]") for i, x in enumerate(q))
    if list(qualified) != sorted(set(qualified)):
        raise FormatError(f"{kind}.qualified: trustees in increasing order, once each")
    return ElectionKey(
        _ident(o["process"], f"{kind}.process"),
        b64decode(o["key"], f"{kind}.key", size=_point_size(kind)),
        qualified,
        issuer=kind == "issuer-key",
    )


def _decryption(o: dict[str, Any]) -> Decryption:
    _fields(o, "decryption", {"v", "kind", "sig", "process", "trustee", "shares", "proofs"})
    shares = _points(o["shares"], "decryption.shares", lo=1, hi=_MAX_OPTIONS_SECRET)
    p = o["proofs"]
    if not isinstance(p, list) or len(p) != len(shares):
        raise FormatError("decryption.proofs: one proof per share")
    return Decryption(
        _ident(o["process"], "decryption.process"),
        _trustee(o["trustee"], "decryption.trustee"),
        shares,
        tuple(b64decode(x, f"decryption.proofs[{i}]", size=64) for i, x in enumerate(p)),
    )


def _draw(o: dict[str, Any]) -> Draw:
    _fields(o, "draw", {"v", "kind", "sig", "process", "beacon", "attempt", "panel"})
    beacon = o["beacon"]
    if not isinstance(beacon, dict):
        raise FormatError("draw.beacon: expected an object")
    _fields(beacon, "draw.beacon", {"round", "signature"})
    raw = o["panel"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SEATS:
        raise FormatError(f"draw.panel: expected a list of 1 to {MAX_SEATS} members")
    panel: list[Member] = []
    for i, m in enumerate(raw):
        w = f"draw.panel[{i}]"
        if not isinstance(m, dict):
            raise FormatError(f"{w}: expected an object")
        _fields(m, w, {"id", "values"})
        values = m["values"]
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_FEATURES:
            raise FormatError(f"{w}.values: expected a list of 1 to {MAX_FEATURES} values")
        panel.append(
            Member(
                _ident(m["id"], f"{w}.id"),
                tuple(_ident(v, f"{w}.values[{j}]") for j, v in enumerate(values)),
            )
        )
    if len({m.id for m in panel}) != len(panel):
        raise FormatError("draw.panel: a member appears twice", code="duplicate_member")
    return Draw(
        _ident(o["process"], "draw.process"),
        _int(beacon["round"], "draw.beacon.round", lo=1),
        b64decode(beacon["signature"], "draw.beacon.signature", size=bls.G1_COMPRESSED_SIZE),
        _int(o["attempt"], "draw.attempt", hi=MAX_ATTEMPTS - 1),
        tuple(panel),
    )


def _answer(o: dict[str, Any]) -> Answer:
    _fields(
        o, "answer", {"v", "kind", "sig", "process", "about", "status", "text", "answered"},
        frozenset({"cost"}),
    )  # fmt: skip
    status = o["status"]
    if status not in ANSWER_STATUSES:
        raise FormatError(f"answer.status: expected one of {ANSWER_STATUSES}, found {status!r}")
    about = o["about"]
    return Answer(
        _ident(o["process"], "answer.process"),
        None if about is None else _ident(about, "answer.about"),
        status,
        _text(o["text"], "answer.text"),
        _int(o["cost"], "answer.cost") if "cost" in o else None,
        _time(o["answered"], "answer.answered"),
    )


def _delegate(o: dict[str, Any]) -> Delegate:
    _fields(o, "delegate", {"v", "kind", "sig", "process", "pseudonym", "credential", "name"})
    return Delegate(
        _ident(o["process"], "delegate.process"),
        b64decode(o["pseudonym"], "delegate.pseudonym", size=32),
        b64decode(o["credential"], "delegate.credential", size=bls.G1_COMPRESSED_SIZE),
        _str(o["name"], "delegate.name", max_len=200),
    )


def _delegation(o: dict[str, Any]) -> Delegation:
    _fields(
        o, "delegation", {"v", "kind", "sig", "process", "pseudonym", "credential", "seq", "to"}
    )
    to = o["to"]
    return Delegation(
        _ident(o["process"], "delegation.process"),
        b64decode(o["pseudonym"], "delegation.pseudonym", size=32),
        b64decode(o["credential"], "delegation.credential", size=bls.G1_COMPRESSED_SIZE),
        _int(o["seq"], "delegation.seq"),
        None if to is None else b64decode(to, "delegation.to", size=32),
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], Body]] = {
    "institution": _registration,
    "reservation": _reservation,
    "process": _process,
    "ballot": _ballot,
    "paper": _paper,
    "close": _close,
    "result": _result,
    "deal": _deal,
    "complaint": _complaint,
    "check": _check,
    "election-key": _election_key,
    "decryption": _decryption,
    "issuer-deal": _deal,
    "issuer-complaint": _complaint,
    "issuer-check": _check,
    "issuer-key": _election_key,
    "draw": _draw,
    "answer": _answer,
    "delegate": _delegate,
    "delegation": _delegation,
}


def parse_entry(obj: dict[str, Any]) -> Entry:
    """Check an entry object's schema and return it typed (signature not checked)."""
    if obj.get("v") != 1:
        raise FormatError(f"entry version: expected 1, found {obj.get('v')!r}", code="bad_version")
    kind = obj.get("kind")
    if kind not in _PARSERS:
        raise FormatError(f"entry kind: expected one of {KINDS}, found {kind!r}", code="bad_kind")
    assert isinstance(kind, str)
    body = _PARSERS[kind](obj)
    return Entry(kind, obj, b64decode(obj["sig"], f"{kind}.sig", size=64), body)


def decode_entry(data: bytes) -> Entry:
    """Parse a leaf: canonical JSON, known kind, every field valid."""
    return parse_entry(parse_canonical(data))


# -- signatures -------------------------------------------------------------------------


def signing_bytes(obj: dict[str, Any]) -> bytes:
    """``"urne/v1/" + kind + "\\n" + JCS(entry without "sig")``."""
    kind = obj.get("kind")
    if kind not in KINDS:
        raise FormatError(f"entry kind: expected one of {KINDS}, found {kind!r}", code="bad_kind")
    assert isinstance(kind, str)
    body = {k: v for k, v in obj.items() if k != "sig"}
    return DOMAIN + kind.encode() + b"\n" + canonical(body)


def verify_entry_signature(entry: Entry, key: bytes) -> None:
    """Check the author signature with ``key``; raises SignatureError."""
    try:
        nacl.signing.VerifyKey(key).verify(signing_bytes(entry.obj), entry.sig)
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise SignatureError(
            f"the {entry.kind} entry's signature does not verify with the expected key",
            code="bad_entry_signature",
        ) from exc
