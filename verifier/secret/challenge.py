"""Challenge files: a secret ballot opened instead of cast (Benaloh's
cast-or-audit, docs/secret-ballot.md §5).

A device that encrypts a citizen's choice could encrypt another one: nothing
in a cast ballot shows what it holds. So the citizen may ask for a ballot and,
instead of casting it, have the device reveal it: the choice it was made for
and each proposal's randomness. Anyone then re-encrypts the choice with that
randomness and compares: a device that cannot tell which ballots will be
opened cannot cheat on the cast ones without being caught on the opened ones.
A ballot opened so is never cast (its randomness shows its content).

The file (``urne-challenge/1``, the browser's ``challengeFile`` writes the same)::

    {"format": "urne-challenge/1", "process": id,
     "pseudonym": b64, "fingerprint": b64(F), "key": b64(h),
     "encrypted": {"ciphertexts": [...], "proofs": [...], "count": ...},
     "choice": [proposal ids, in the manifest's order],
     "randomness": [b64 of each proposal's 32-byte little-endian scalar]}

Reading (:func:`read_challenge`) checks the file alone: its size, its JSON, its
fields, every encoding. Checking (:func:`check_challenge`) needs the process's
proposals, in order, and its rule: the ballot's proofs for the file's
pseudonym, fingerprint and key, then each ciphertext re-encrypted.
:func:`check_published` compares the file with what the process publishes
(:class:`Election`). Each refusal is a :class:`~urne.verifier.errors.UrneError`
with a stable code (docs/guides/citizens.md, "Checking a challenge file").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from urne.verifier.civic.entries import (
    IDENTIFIER,
    PetitionRule,
    Process,
    SortitionRule,
    VoteRule,
    b64decode,
    b64encode,
    decode_entry,
)
from urne.verifier.civic.secret import manifest_fingerprint
from urne.verifier.errors import FormatError, VerificationError
from urne.verifier.secret.ballot import (
    EncryptedBallot,
    Opening,
    Spend,
    ballot_context,
    budget_shape,
    open_challenge,
)
from urne.verifier.secret.group import Ristretto255, ristretto255

__all__ = [
    "FORMAT",
    "MAX_CHALLENGE_BYTES",
    "Challenge",
    "ChallengeError",
    "Election",
    "check_challenge",
    "check_published",
    "encode_challenge",
    "make_challenge",
    "read_challenge",
    "title_of",
]

#: The ``format`` of a challenge file.
FORMAT = "urne-challenge/1"
#: The fields of a challenge file, in the order they are written.
FIELDS = (
    "format",
    "process",
    "pseudonym",
    "fingerprint",
    "key",
    "encrypted",
    "choice",
    "randomness",
)
#: A secret vote has at most 64 proposals (docs/secret-ballot.md §8, ``too_many_options``).
MAX_OPTIONS = 64
#: The most bytes read of a challenge file. At 64 proposals a file holds 64
#: ciphertexts (88 characters of base64 each), 64 proofs (172), a count proof
#: over at most 65 values (5,548), 64 scalars (44): under 25 KB.
MAX_CHALLENGE_BYTES = 256 << 10


class ChallengeError(FormatError):
    """A challenge file that cannot be read as one (a field missing or of
    the wrong kind, a choice that names no proposal)."""

    code = "bad_challenge"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge file, read: the byte strings decoded, ``encrypted`` still
    the ballot's object (its shape depends on the process, checked by
    :func:`check_challenge`)."""

    process: str
    pseudonym: bytes
    fingerprint: bytes
    key: bytes
    encrypted: dict[str, Any]
    #: the proposal ids the ballot was made for, in the manifest's order
    choice: tuple[str, ...]
    #: each proposal's randomness, in the manifest's order
    randomness: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "process": self.process,
            "pseudonym": b64encode(self.pseudonym),
            "fingerprint": b64encode(self.fingerprint),
            "key": b64encode(self.key),
            "encrypted": self.encrypted,
            "choice": list(self.choice),
            "randomness": [b64encode(Ristretto255.scalar_bytes(r)) for r in self.randomness],
        }


def make_challenge(
    process: str,
    pseudonym: bytes,
    fingerprint: bytes,
    key: bytes,
    ballot: EncryptedBallot,
    proposal_ids: Sequence[str],
    selected: Sequence[int],
    randomness: Sequence[int],
) -> Challenge:
    """The challenge of ``ballot``, made for the proposals ``selected``
    (indices into ``proposal_ids``, the manifest's ids in order) with
    ``randomness``, as :func:`~urne.verifier.secret.ballot.encrypt_ballot`
    returned them. The ballot must then never be cast."""
    n = len(ballot.ciphertexts)
    if len(proposal_ids) != n or len(randomness) != n:
        raise ValueError("one proposal id and one randomness per ciphertext")
    chosen = set(selected)
    if any(not 0 <= k < n for k in chosen):
        raise ValueError("the choice names a proposal the ballot does not have")
    return Challenge(
        process=process,
        pseudonym=pseudonym,
        fingerprint=fingerprint,
        key=key,
        encrypted=ballot.to_json(),
        choice=tuple(pid for k, pid in enumerate(proposal_ids) if k in chosen),
        randomness=tuple(randomness),
    )


def encode_challenge(challenge: Challenge) -> bytes:
    """The file's bytes: UTF-8 JSON, one field a line."""
    return (json.dumps(challenge.to_json(), indent=1) + "\n").encode("utf-8")


# -- reading --------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the name {k!r} appears twice in an object")
        out[k] = v
    return out


def _bytes32(obj: dict[str, Any], name: str) -> bytes:
    value = obj[name]
    if not isinstance(value, str):
        raise FormatError(f"{name}: expected base64 text", code="bad_base64")
    return b64decode(value, name, size=32)


def read_challenge(data: bytes) -> Challenge:
    """Read a challenge file's bytes. Raises :class:`FormatError` with the
    code of what is wrong: ``challenge_too_large``, ``bad_challenge_json``,
    ``bad_challenge_format``, ``bad_challenge``, ``bad_base64``,
    ``bad_length``, ``bad_point``, ``bad_scalar``."""
    if len(data) > MAX_CHALLENGE_BYTES:
        raise FormatError(
            f"{len(data):,} bytes; a challenge file holds at most {MAX_CHALLENGE_BYTES:,}",
            code="challenge_too_large",
        )
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"not UTF-8 JSON ({exc})", code="bad_challenge_json") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise FormatError(
            f"not a challenge file: its format is {found!r}, not {FORMAT!r}",
            code="bad_challenge_format",
        )
    missing, unknown = set(FIELDS) - obj.keys(), obj.keys() - set(FIELDS)
    if missing or unknown:
        raise ChallengeError(
            f"fields: missing {sorted(missing)}, unknown {sorted(unknown)}; "
            f"expected {', '.join(FIELDS)}"
        )
    process = obj["process"]
    if not isinstance(process, str) or not IDENTIFIER.fullmatch(process):
        raise ChallengeError("process: expected a process id")
    g = ristretto255()
    pseudonym, fingerprint = _bytes32(obj, "pseudonym"), _bytes32(obj, "fingerprint")
    key = g.decode(_bytes32(obj, "key"), "key")
    if not isinstance(obj["encrypted"], dict):
        raise FormatError(
            "encrypted: expected the ballot's object (ciphertexts, proofs, count)",
            code="bad_encrypted_ballot",
        )
    choice, randomness = obj["choice"], obj["randomness"]
    if not isinstance(choice, list) or not all(
        isinstance(c, str) and IDENTIFIER.fullmatch(c) for c in choice
    ):
        raise ChallengeError("choice: expected a list of proposal ids")
    if len(set(choice)) != len(choice):
        raise ChallengeError("choice: a proposal id appears twice")
    if not isinstance(randomness, list) or not 1 <= len(randomness) <= MAX_OPTIONS:
        raise ChallengeError(
            f"randomness: expected a list of 1 to {MAX_OPTIONS} scalars, one per proposal"
        )
    if len(choice) > len(randomness):
        raise ChallengeError("choice: more proposals than the ballot has")
    scalars = []
    for k, r in enumerate(randomness):
        if not isinstance(r, str):
            raise FormatError(f"randomness[{k}]: expected base64 text", code="bad_base64")
        raw = b64decode(r, f"randomness[{k}]")
        scalars.append(Ristretto255.decode_scalar(raw, f"randomness[{k}]"))
    return Challenge(
        process=process,
        pseudonym=pseudonym,
        fingerprint=fingerprint,
        key=key,
        encrypted=obj["encrypted"],
        choice=tuple(choice),
        randomness=tuple(scalars),
    )


# -- checking -------------------------------------------------------------------------------


def check_challenge(
    challenge: Challenge,
    proposal_ids: Sequence[str],
    bounds: tuple[int, int],
    spend: Spend | None = None,
) -> tuple[int, ...]:
    """Check ``challenge`` for a process whose proposals are ``proposal_ids``
    (in the manifest's order) and whose rule takes ``bounds`` = (min, max)
    selections (and, for a capped budget, ``spend``): the indices of the
    proposals the ballot encrypts.

    1. the choice names proposals of the process (``bad_challenge``);
    2. the ballot has one ciphertext and one proof per proposal, every
       encoding canonical (``bad_encrypted_ballot``, ``bad_point``, ...);
    3. its proofs verify for the file's pseudonym, fingerprint and key, as the
       service and every auditor check a cast ballot's (``bad_ballot_proof``);
    4. each ciphertext is the encryption of the choice shown with the
       randomness revealed (``challenge_mismatch``).

    Whether the fingerprint and the key are the process's is
    :func:`check_published`'s."""
    index = {pid: k for k, pid in enumerate(proposal_ids)}
    unknown = [c for c in challenge.choice if c not in index]
    if unknown:
        raise ChallengeError(
            f"choice: {', '.join(unknown)} is not a proposal of {challenge.process} "
            f"(its proposals: {', '.join(proposal_ids)})"
        )
    selected = tuple(sorted(index[c] for c in challenge.choice))
    g = ristretto255()
    ballot = EncryptedBallot.decode(g, challenge.encrypted, len(proposal_ids), bounds, spend)
    ctx = ballot_context(g, challenge.fingerprint, challenge.key, challenge.pseudonym)
    ballot.verify(ctx, challenge.key, bounds, spend)
    open_challenge(g, challenge.key, ballot, Opening(selected, challenge.randomness))
    return selected


def title_of(title: str | dict[str, str], language: str = "en") -> str:
    """A proposal's title in ``language`` if it has that translation, else its first."""
    if isinstance(title, str):
        return title
    return title.get(language) or next(iter(title.values()), "")


@dataclass(frozen=True, slots=True)
class Election:
    """What a secret vote publishes that a challenge is checked against: its
    proposals in order (ids and titles), its rule's bounds, the manifest's
    fingerprint ``F`` and the election key (None until the ceremony ends)."""

    process: str
    proposals: tuple[str, ...]
    titles: tuple[str, ...]
    bounds: tuple[int, int]
    fingerprint: bytes
    key: bytes | None
    #: the manifest's log index
    index: int
    #: whether ``F`` was recomputed from the manifest's bytes (else as published)
    recomputed: bool = False
    #: a capped budget's bounds on a ballot's cost
    spend: Spend | None = None

    @classmethod
    def from_process(cls, obj: object) -> Election:
        """From a process as the service describes it (``GET /processes/{id}``).
        A public process is ``not_secret``; an answer that is not such a
        description is ``bad_process_answer``."""

        def bad(what: str) -> FormatError:
            return FormatError(
                f"the process's description is not the service's: {what}",
                code="bad_process_answer",
            )

        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            raise bad("expected an object with an id")
        pid = obj["id"]
        secret, proposals, rule, index = (
            obj.get("secret"),
            obj.get("proposals"),
            obj.get("rule"),
            obj.get("index"),
        )
        if secret is None and obj.get("type") in ("petition", "vote", "budget"):
            raise VerificationError(
                f"{pid} is not secret: its ballots are public", code="not_secret"
            )
        if not isinstance(secret, dict):
            raise bad("secret: expected an object")
        if not isinstance(proposals, list) or not all(
            isinstance(p, dict) and isinstance(p.get("id"), str) for p in proposals
        ):
            raise bad("proposals: expected a list of proposals with ids")

        def whole(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**53

        if not isinstance(rule, dict):
            raise bad("rule: expected an object")
        spend = None
        if obj.get("type") == "budget":
            costs = [p.get("cost") for p in proposals]
            mp = rule.get("max_projects")
            if not (
                all(whole(c) for c in costs)
                and all(whole(rule.get(k)) for k in ("budget", "min_projects", "min_share_percent"))
                and (mp is None or whole(mp))
                and isinstance(rule.get("capped"), bool)
            ):
                raise bad("rule: expected a budget's rule, and a cost for every project")
            bounds, spend = budget_shape(
                costs,
                rule["budget"],
                rule["min_projects"],
                mp,
                rule["min_share_percent"],
                rule["capped"],
            )
        elif all(whole(rule.get(k)) for k in ("min", "max")):
            bounds = (rule["min"], rule["max"])
        else:
            raise bad("rule: expected a vote's rule with min and max")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise bad("index: expected the manifest's log index")
        titles = []
        for p in proposals:
            t = p.get("title")
            ok = isinstance(t, str) or (
                isinstance(t, dict) and all(isinstance(v, str) for v in t.values())
            )
            titles.append(title_of(t) if ok else p["id"])
        try:
            fingerprint = b64decode(secret.get("fingerprint"), "secret.fingerprint", size=32)
            key = secret.get("election_key")
            h = None if key is None else b64decode(key, "secret.election_key", size=32)
        except FormatError as exc:
            raise bad(str(exc)) from exc
        return cls(
            pid,
            tuple(p["id"] for p in proposals),
            tuple(titles),
            bounds,
            fingerprint,
            h,
            index,
            spend=spend,
        )

    def with_manifest(self, manifest: bytes) -> Election:
        """Checked against the manifest entry's bytes (as the log holds them):
        it must be the process's secret manifest (``bad_manifest``), ``F``
        recomputed must be the fingerprint published (``fingerprint_mismatch``),
        and the proposals and the rule are then the manifest's own."""
        entry = decode_entry(manifest)
        body = entry.body
        if not isinstance(body, Process) or body.id != self.process:
            raise VerificationError(
                f"the entry at index {self.index} is not the manifest of {self.process}",
                code="bad_manifest",
            )
        computed = manifest_fingerprint(entry)
        if computed != self.fingerprint:
            raise VerificationError(
                f"the fingerprint published for {self.process} ({b64encode(self.fingerprint)}) "
                f"is not the SHA-256 of its manifest's bytes ({b64encode(computed)})",
                code="fingerprint_mismatch",
            )
        rule = body.rule
        if body.secret is None or isinstance(rule, PetitionRule | SortitionRule):
            raise VerificationError(
                f"{self.process}'s manifest makes no secret vote or budget", code="bad_manifest"
            )
        if isinstance(rule, VoteRule):
            bounds, spend = (rule.min, rule.max), None
        else:
            bounds, spend = budget_shape(
                [p.cost or 0 for p in body.proposals],
                rule.budget,
                rule.min_projects,
                rule.max_projects,
                rule.min_share_percent,
                rule.capped,
            )
        return replace(
            self,
            proposals=tuple(p.id for p in body.proposals),
            titles=tuple(title_of(p.title) for p in body.proposals),
            bounds=bounds,
            spend=spend,
            recomputed=True,
        )


def check_published(challenge: Challenge, election: Election) -> None:
    """The file is for this process, its manifest and its election key
    (``challenge_other_process``, ``no_election_key``,
    ``challenge_wrong_fingerprint``, ``challenge_wrong_key``)."""
    if challenge.process != election.process:
        raise VerificationError(
            f"the file is a challenge of {challenge.process}, not of {election.process}",
            code="challenge_other_process",
        )
    if election.key is None:
        raise VerificationError(
            f"{election.process} has no election key yet: no ballot of it can have been made",
            code="no_election_key",
        )
    if challenge.fingerprint != election.fingerprint:
        raise VerificationError(
            f"the ballot was made for another manifest (fingerprint "
            f"{b64encode(challenge.fingerprint)}) than {election.process}'s "
            f"({b64encode(election.fingerprint)})",
            code="challenge_wrong_fingerprint",
        )
    if challenge.key != election.key:
        raise VerificationError(
            f"the ballot was encrypted under another key ({b64encode(challenge.key)}) than "
            f"{election.process}'s election key ({b64encode(election.key)}): the trustees "
            "could not count it",
            code="challenge_wrong_key",
        )
