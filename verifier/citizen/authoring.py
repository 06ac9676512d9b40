"""Building and signing entries, for the people who author them.

Citizens run this on their own device (with ``urne.verifier.credentials.credential`` for the
pseudonym and the blind credential); institutions and officials use it to sign
manifests, paper batches, closes and results. Every function returns the leaf
bytes exactly as the log stores them, already checked by ``decode_entry``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from urne.verifier.citizen.signing import EntrySigner, sign_entry
from urne.verifier.civic.canonical import fingerprint
from urne.verifier.civic.entries import b64encode

__all__ = [
    "answer",
    "ballot",
    "check",
    "close",
    "complaint",
    "deal",
    "decryption",
    "delegate",
    "delegation",
    "draw",
    "election_key",
    "graded_ballot",
    "paper_batch",
    "proposal",
    "registration",
    "reservation",
    "result",
    "secret_ballot",
    "signature",
    "trustee_public",
]

Text = str | Mapping[str, str]


def proposal(pid: str, title: Text, body: Text, *, cost: int | None = None) -> dict[str, Any]:
    """A manifest's proposal with its fingerprint (docs/spec/entries.md §2): texts are
    strings or translations, ``cost`` for budgets only."""
    t = title if isinstance(title, str) else dict(title)
    b = body if isinstance(body, str) else dict(body)
    p: dict[str, Any] = {
        "id": pid,
        "title": t,
        "body": b,
        "fingerprint": fingerprint({"title": t, "body": b}),
    }
    if cost is not None:
        p["cost"] = cost
    return p


def _cast(
    process_id: str,
    pseudonym: EntrySigner,
    credential: bytes,
    seq: int,
    choice: Sequence[str] | None,
    encrypted: Mapping[str, Any] | None = None,
) -> bytes:
    obj: dict[str, Any] = {
        "v": 1,
        "kind": "ballot",
        "process": process_id,
        "pseudonym": b64encode(pseudonym.public_key),
        "credential": b64encode(credential),
        "seq": seq,
    }
    if choice is not None:
        obj["choice"] = list(choice)
    if encrypted is not None:
        obj["encrypted"] = dict(encrypted)
    return sign_entry(obj, pseudonym)


def ballot(
    process_id: str,
    pseudonym: EntrySigner,
    credential: bytes,
    choice: Sequence[str],
    *,
    seq: int = 0,
) -> bytes:
    """A vote or budget ballot. ``seq`` must grow with each revote."""
    return _cast(process_id, pseudonym, credential, seq, choice)


def delegate(process_id: str, pseudonym: EntrySigner, credential: bytes, name: str) -> bytes:
    """The pseudonym stands as a delegate in a vote, under a public name
    (docs/spec/delegation.md §2)."""
    return sign_entry(
        {
            "v": 1,
            "kind": "delegate",
            "process": process_id,
            "pseudonym": b64encode(pseudonym.public_key),
            "credential": b64encode(credential),
            "name": name,
        },
        pseudonym,
    )


def delegation(
    process_id: str,
    pseudonym: EntrySigner,
    credential: bytes,
    to: bytes | None,
    *,
    seq: int = 0,
) -> bytes:
    """The pseudonym delegates its vote to the delegate ``to`` (a pseudonym's
    public key), or revokes its delegation (``to`` None); the highest
    ``seq`` counts."""
    return sign_entry(
        {
            "v": 1,
            "kind": "delegation",
            "process": process_id,
            "pseudonym": b64encode(pseudonym.public_key),
            "credential": b64encode(credential),
            "seq": seq,
            "to": None if to is None else b64encode(to),
        },
        pseudonym,
    )


def graded_ballot(
    process_id: str,
    pseudonym: EntrySigner,
    credential: bytes,
    grades: Sequence[str],
    *,
    seq: int = 0,
) -> bytes:
    """A majority judgment's ballot: a grade id per proposal, in the
    manifest's order (docs/spec/counting-ranked.md §1)."""
    return sign_entry(
        {
            "v": 1,
            "kind": "ballot",
            "process": process_id,
            "pseudonym": b64encode(pseudonym.public_key),
            "credential": b64encode(credential),
            "seq": seq,
            "grades": list(grades),
        },
        pseudonym,
    )


def signature(process_id: str, pseudonym: EntrySigner, credential: bytes, *, seq: int = 0) -> bytes:
    """A petition signature (a ballot without a choice). One per pseudonym counts."""
    return _cast(process_id, pseudonym, credential, seq, None)


def paper_batch(
    process_id: str,
    official: EntrySigner,
    batch: str,
    sheet_sha256: str,
    *,
    signatures: int | None = None,
    counts: Mapping[str, int] | None = None,
    ballots: Sequence[Sequence[str]] | None = None,
) -> bytes:
    """A batch of paper ballots recorded by an official: exactly one of
    ``signatures`` (petition), ``counts`` (vote) or ``ballots`` (budget)."""
    obj: dict[str, Any] = {
        "v": 1,
        "kind": "paper",
        "process": process_id,
        "official": b64encode(official.public_key),
        "batch": batch,
        "sheet": sheet_sha256,
    }
    if signatures is not None:
        obj["signatures"] = signatures
    if counts is not None:
        obj["counts"] = dict(counts)
    if ballots is not None:
        obj["ballots"] = [list(b) for b in ballots]
    return sign_entry(obj, official)


def close(process_id: str, institution: EntrySigner) -> bytes:
    return sign_entry({"v": 1, "kind": "close", "process": process_id}, institution)


def answer(
    process_id: str,
    institution: EntrySigner,
    about: str | None,
    status: str,
    text: Text,
    answered: str,
    cost: int | None = None,
) -> bytes:
    """The institution's answer (docs/spec/answers.md §2) to the petition
    itself (``about`` None) or to one proposal, dated ``answered`` (UTC,
    ``YYYY-MM-DDTHH:MM:SSZ``)."""
    entry: dict[str, Any] = {
        "v": 1,
        "kind": "answer",
        "process": process_id,
        "about": about,
        "status": status,
        "text": text if isinstance(text, str) else dict(text),
        "answered": answered,
    }
    if cost is not None:
        entry["cost"] = cost
    return sign_entry(entry, institution)


def draw(
    process_id: str,
    institution: EntrySigner,
    round_: int,
    signature: bytes,
    attempt: int,
    panel: Sequence[tuple[str, Sequence[str]]],
) -> bytes:
    """A sortition's draw (docs/spec/sortition.md §4): the beacon's signature
    of the manifest's round and the panel, ``(id, values)`` in the order drawn."""
    return sign_entry(
        {
            "v": 1,
            "kind": "draw",
            "process": process_id,
            "beacon": {"round": round_, "signature": b64encode(signature)},
            "attempt": attempt,
            "panel": [{"id": pid, "values": list(values)} for pid, values in panel],
        },
        institution,
    )


def result(
    process_id: str, institution: EntrySigner, through: int, tally: Mapping[str, Any]
) -> bytes:
    """The institution's published outcome: ``tally`` must equal the recount
    through log index ``through`` (``urne.verifier.civic.process.Registry.tally``)."""
    return sign_entry(
        {"v": 1, "kind": "result", "process": process_id, "through": through, "tally": dict(tally)},
        institution,
    )


def registration(
    name: str, key: bytes, registrar: EntrySigner, *, roles: Sequence[str] = ("open",)
) -> bytes:
    """An ``institution`` entry: ``name`` registered with its Ed25519 ``key`` and
    ``roles`` (``open``, ``register``), signed by ``registrar`` -- the log
    operator's key, or an institution registered with the ``register`` role."""
    return sign_entry(
        {
            "v": 1,
            "kind": "institution",
            "name": name,
            "key": b64encode(key),
            "roles": sorted(set(roles)),
            "registrar": b64encode(registrar.public_key),
        },
        registrar,
    )


def reservation(
    process_id: str, institution: bytes, issuer: Mapping[str, Any], operator: EntrySigner
) -> bytes:
    """A ``reservation`` entry: ``process_id`` reserved for the institution of
    key ``institution``, with the manifest's ``issuer`` object (public key,
    threshold, shares), signed by the log operator, who runs the issuer."""
    return sign_entry(
        {
            "v": 1,
            "kind": "reservation",
            "process": process_id,
            "institution": b64encode(institution),
            "issuer": dict(issuer),
        },
        operator,
    )


# -- the secret ballot (docs/secret-ballot.md) ---------------------------------------


def secret_ballot(
    process_id: str,
    pseudonym: EntrySigner,
    credential: bytes,
    encrypted: Mapping[str, Any],
    *,
    seq: int = 0,
) -> bytes:
    """A secret vote's ballot: ``encrypted`` is ``EncryptedBallot.to_json()``, made
    for this pseudonym (its proofs name it)."""
    return _cast(process_id, pseudonym, credential, seq, None, encrypted)


def trustee_public(name: str, key: bytes, share_key: bytes, proof: bytes) -> dict[str, Any]:
    """A trustee as the manifest's ``secret.trustees`` names it (§3)."""
    return {
        "name": name,
        "key": b64encode(key),
        "share_key": b64encode(share_key),
        "proof": b64encode(proof),
    }


def deal(
    process_id: str,
    trustee: EntrySigner,
    index: int,
    commitments: Sequence[bytes],
    proof: bytes,
    shares: Sequence[tuple[int, bytes, bytes, bytes]],
    *,
    issuer: bool = False,
) -> bytes:
    """Trustee ``index``'s deal (§4): ``shares`` are ``(to, ephemeral, masked, proof)``.
    ``issuer``: an office's ``issuer-deal`` (docs/spec/issuer-ceremony.md)."""
    return sign_entry(
        {
            "v": 1,
            "kind": "issuer-deal" if issuer else "deal",
            "process": process_id,
            "trustee": index,
            "commitments": [b64encode(a) for a in commitments],
            "proof": b64encode(proof),
            "shares": [
                {"to": to, "ephemeral": b64encode(r), "masked": b64encode(m), "proof": b64encode(p)}
                for to, r, m, p in shares
            ],
        },
        trustee,
    )


def complaint(
    process_id: str,
    trustee: EntrySigner,
    index: int,
    against: int,
    key: bytes,
    proof: bytes,
    *,
    issuer: bool = False,
) -> bytes:
    """Trustee ``index``'s complaint about the share ``against`` dealt it (§4)."""
    return sign_entry(
        {
            "v": 1,
            "kind": "issuer-complaint" if issuer else "complaint",
            "process": process_id,
            "trustee": index,
            "against": against,
            "key": b64encode(key),
            "proof": b64encode(proof),
        },
        trustee,
    )


def check(process_id: str, trustee: EntrySigner, index: int, *, issuer: bool = False) -> bytes:
    """Trustee ``index`` has checked every deal before this entry (§4)."""
    kind = "issuer-check" if issuer else "check"
    return sign_entry({"v": 1, "kind": kind, "process": process_id, "trustee": index}, trustee)


def election_key(
    process_id: str,
    institution: EntrySigner,
    key: bytes,
    qualified: Sequence[int],
    *,
    issuer: bool = False,
) -> bytes:
    """The end of the key ceremony, signed by the institution (§4); with
    ``issuer``, the ``issuer-key`` of the offices' ceremony."""
    return sign_entry(
        {
            "v": 1,
            "kind": "issuer-key" if issuer else "election-key",
            "process": process_id,
            "key": b64encode(key),
            "qualified": list(qualified),
        },
        institution,
    )


def decryption(
    process_id: str,
    trustee: EntrySigner,
    index: int,
    shares: Sequence[bytes],
    proofs: Sequence[bytes],
) -> bytes:
    """Trustee ``index``'s decryption shares of the totals, with their proofs (§6)."""
    return sign_entry(
        {
            "v": 1,
            "kind": "decryption",
            "process": process_id,
            "trustee": index,
            "shares": [b64encode(d) for d in shares],
            "proofs": [b64encode(p) for p in proofs],
        },
        trustee,
    )
