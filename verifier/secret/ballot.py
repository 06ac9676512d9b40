"""A secret ballot: one ciphertext per option, each proven 0 or 1, and the number
of selections proven within the manifest's bounds.

The ``encrypted`` field of a ballot entry (docs/secret-ballot.md §5)::

    {"ciphertexts": [b64(alpha || beta), ...],   one per proposal, manifest order
     "proofs":      [b64(range proof over [0, 1]), ...],
     "count":       b64(range proof over [min .. max] for the product)}

Every proof's context is the group, the manifest's fingerprint, the election key
and the ballot's pseudonym, so a ballot copied under another pseudonym fails its
proofs; its label is ``b"option" || k`` (4-byte big-endian) or ``b"count"``.

A **challenge** (Benaloh's cast-or-audit) reveals the randomness of a ballot that
is then discarded: :func:`open_challenge` checks that each ciphertext encrypts
the choice shown, with the randomness revealed.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from urne.verifier.errors import FormatError, ProofError
from urne.verifier.secret.group import Group
from urne.verifier.secret.proofs import Ciphertext, Context, Nonce, RangeProof, encrypt

__all__ = [
    "EncryptedBallot",
    "Opening",
    "ballot_context",
    "encrypt_ballot",
    "open_challenge",
    "option_label",
]

COUNT_LABEL = b"count"


def option_label(k: int) -> bytes:
    return b"option" + k.to_bytes(4, "big")


def ballot_context(group: Group, fingerprint: bytes, key: bytes, pseudonym: bytes) -> Context:
    return Context(group, (fingerprint, key, pseudonym))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str) or len(value) > 1_000_000:
        raise FormatError(f"{what}: expected base64", code="bad_base64")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{what}: not base64", code="bad_base64") from exc
    if _b64(raw) != value:
        raise FormatError(f"{what}: non-canonical base64", code="bad_base64")
    return raw


@dataclass(frozen=True, slots=True)
class EncryptedBallot:
    ciphertexts: tuple[Ciphertext, ...]
    proofs: tuple[RangeProof, ...]
    count: RangeProof

    def to_json(self) -> dict[str, Any]:
        return {
            "ciphertexts": [_b64(c.to_bytes()) for c in self.ciphertexts],
            "proofs": [_b64(p.to_bytes()) for p in self.proofs],
            "count": _b64(self.count.to_bytes()),
        }

    @classmethod
    def decode(
        cls, group: Group, obj: object, options: int, bounds: tuple[int, int]
    ) -> EncryptedBallot:
        """Parse and check the shapes (points in the group, scalars canonical);
        the proofs are checked by :meth:`verify`."""
        what = "ballot.encrypted"
        if not isinstance(obj, dict) or set(obj) != {"ciphertexts", "proofs", "count"}:
            raise FormatError(
                f"{what}: expected an object with ciphertexts, proofs and count",
                code="bad_encrypted_ballot",
            )
        cts, prs = obj["ciphertexts"], obj["proofs"]
        if not isinstance(cts, list) or not isinstance(prs, list):
            raise FormatError(
                f"{what}: ciphertexts and proofs are lists", code="bad_encrypted_ballot"
            )
        if len(cts) != options or len(prs) != options:
            raise FormatError(
                f"{what}: {options} ciphertexts and {options} proofs, one per proposal; "
                f"found {len(cts)} and {len(prs)}",
                code="bad_encrypted_ballot",
            )
        lo, hi = bounds
        return cls(
            tuple(
                Ciphertext.decode(
                    group, _unb64(c, f"{what}.ciphertexts[{k}]"), f"{what}.ciphertexts[{k}]"
                )
                for k, c in enumerate(cts)
            ),
            tuple(
                RangeProof.decode(group, _unb64(p, f"{what}.proofs[{k}]"), 2, f"{what}.proofs[{k}]")
                for k, p in enumerate(prs)
            ),
            RangeProof.decode(
                group, _unb64(obj["count"], f"{what}.count"), hi - lo + 1, f"{what}.count"
            ),
        )

    def total(self, group: Group) -> Ciphertext:
        acc = Ciphertext(group.identity, group.identity)
        for c in self.ciphertexts:
            acc = acc.add(group, c)
        return acc

    def verify(self, ctx: Context, key: bytes, bounds: tuple[int, int]) -> None:
        """Raise :class:`ProofError` unless every proof holds."""
        for k, (ct, proof) in enumerate(zip(self.ciphertexts, self.proofs, strict=True)):
            try:
                proof.verify(ctx, option_label(k), key, ct, (0, 1))
            except ProofError as exc:
                raise ProofError(
                    f"the proof that option {k} is 0 or 1 does not verify", code="bad_ballot_proof"
                ) from exc
        lo, hi = bounds
        try:
            self.count.verify(ctx, COUNT_LABEL, key, self.total(ctx.group), range(lo, hi + 1))
        except ProofError as exc:
            raise ProofError(
                f"the proof that {lo} to {hi} options are selected does not verify",
                code="bad_ballot_proof",
            ) from exc


def encrypt_ballot(
    ctx: Context,
    key: bytes,
    options: int,
    selected: Sequence[int],
    bounds: tuple[int, int],
    *,
    randomness: Sequence[int] | None = None,
    nonce: Nonce | None = None,
) -> tuple[EncryptedBallot, list[int]]:
    """Encrypt a choice (the indices of the selected proposals) and prove it; the
    randomness is returned for a challenge and must be forgotten otherwise."""
    g = ctx.group
    lo, hi = bounds
    chosen = set(selected)
    if not lo <= len(chosen) <= hi or any(not 0 <= k < options for k in chosen):
        raise ValueError("the choice does not respect the bounds")
    if randomness is not None and len(randomness) != options:
        raise ValueError("one randomness per option")
    rs = (
        list(randomness)
        if randomness is not None
        else [secrets.randbelow(g.order - 1) + 1 for _ in range(options)]
    )
    extra = () if nonce is None else (nonce,)
    cts, proofs = [], []
    for k in range(options):
        m = 1 if k in chosen else 0
        ct = encrypt(g, key, m, rs[k])
        cts.append(ct)
        proofs.append(RangeProof.prove(ctx, option_label(k), key, ct, (0, 1), m, rs[k], *extra))
    acc = Ciphertext(g.identity, g.identity)
    for c in cts:
        acc = acc.add(g, c)
    count = RangeProof.prove(
        ctx, COUNT_LABEL, key, acc, range(lo, hi + 1), len(chosen), sum(rs) % g.order, *extra
    )
    return EncryptedBallot(tuple(cts), tuple(proofs), count), rs


@dataclass(frozen=True, slots=True)
class Opening:
    """What a challenged ballot reveals: the choice and each option's randomness."""

    selected: tuple[int, ...]
    randomness: tuple[int, ...]


def open_challenge(group: Group, key: bytes, ballot: EncryptedBallot, opening: Opening) -> None:
    """Raise :class:`ProofError` (``challenge_mismatch``) unless each ciphertext
    is the encryption of the choice shown with the randomness revealed."""
    if len(opening.randomness) != len(ballot.ciphertexts):
        raise ProofError("one randomness per option", code="challenge_mismatch")
    n = len(ballot.ciphertexts)
    if any(not 0 <= k < n for k in opening.selected) or len(set(opening.selected)) != len(
        opening.selected
    ):
        raise ProofError(
            "the choice shown names an option twice or one the ballot does not have",
            code="challenge_mismatch",
        )
    if any(not 0 <= r < group.order for r in opening.randomness):
        raise ProofError("a randomness is not below the group order", code="challenge_mismatch")
    chosen = set(opening.selected)
    for k, (ct, r) in enumerate(zip(ballot.ciphertexts, opening.randomness, strict=True)):
        if encrypt(group, key, 1 if k in chosen else 0, r) != ct:
            raise ProofError(
                f"option {k}: the ciphertext is not the encryption of the choice shown",
                code="challenge_mismatch",
            )
