"""A secret ballot: one ciphertext per option, each proven 0 or 1, and the number
of selections proven within the manifest's bounds.

The ``encrypted`` field of a ballot entry (docs/secret-ballot.md §5)::

    {"ciphertexts": [b64(alpha || beta), ...],   one per proposal, manifest order
     "proofs":      [b64(range proof over [0, 1]), ...],
     "count":       b64(range proof over [min .. max] for the product),
     "spend":       {"ceiling": bound, "floor": bound}}   a capped budget only

A capped budget's ballot also proves that the chosen projects' costs total at
most the budget (and, with a minimum share, at least that share): ``spend``
(:class:`Spend`, :class:`SpendProof`). Each bound encrypts the slack (the
budget less the cost, or the cost less the floor) bit by bit, proves every bit
0 or 1, and proves with equal logarithms that the costs' ciphertext and the
slack's together encrypt the bound: the bit-decomposition range proof, so that
the slack is between 0 and ``2^B - 1`` (docs/secret-ballot.md §5).

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
from urne.verifier.secret.proofs import (
    Ciphertext,
    Context,
    DleqProof,
    Nonce,
    RangeProof,
    encrypt,
)

__all__ = [
    "BoundProof",
    "EncryptedBallot",
    "Opening",
    "Spend",
    "SpendProof",
    "ballot_context",
    "budget_shape",
    "encrypt_ballot",
    "open_challenge",
    "option_label",
]

COUNT_LABEL = b"count"
CEILING = "ceiling"
FLOOR = "floor"


def option_label(k: int) -> bytes:
    return b"option" + k.to_bytes(4, "big")


def bit_label(bound: str, i: int) -> bytes:
    """The label of bit ``i``'s proof in a spending bound: ``bound-bit || i32(i)``."""
    return f"{bound}-bit".encode() + i.to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class Spend:
    """What a capped budget's ballot proves about its cost: the chosen projects'
    ``costs`` (manifest order) total at most ``ceiling`` and at least ``floor``
    (0: no floor). Each slack is written in :attr:`bits` bits."""

    costs: tuple[int, ...]
    ceiling: int
    floor: int = 0

    def __post_init__(self) -> None:
        # Sound only while no sum wraps around the group's order: the costs and
        # the bounds are below 2^53 (docs/spec/entries.md), so every sum of
        # 64 costs and one slack is far below L (about 2^252).
        if not 0 <= self.floor <= self.ceiling < 2**53 or not all(
            0 <= c < 2**53 for c in self.costs
        ):
            raise ValueError("costs and bounds are integers in [0, 2^53), floor <= ceiling")

    @property
    def bits(self) -> int:
        """``B``: the slack of either bound is below ``2^B``, ``B`` the bit length
        of the ceiling (at least 1)."""
        return max(1, self.ceiling.bit_length())

    def spent(self, selected: Sequence[int]) -> int:
        return sum(self.costs[k] for k in set(selected))


def budget_shape(
    costs: Sequence[int],
    budget: int,
    min_projects: int,
    max_projects: int | None,
    min_share_percent: int,
    capped: bool,
) -> tuple[tuple[int, int], Spend | None]:
    """What a budget's rule asks a secret ballot to prove: the number of
    projects within ``min_projects..max_projects`` (every project without a
    maximum) and, for capped ballots, the cost at most ``budget`` and at least
    its ``min_share_percent`` (rounded up: a cost is a whole number)."""
    bounds = (min_projects, len(costs) if max_projects is None else max_projects)
    if not capped:
        return bounds, None
    floor = -(-budget * min_share_percent // 100)
    return bounds, Spend(tuple(costs), budget, floor)


def weighted(group: Group, cts: Sequence[Ciphertext], weights: Sequence[int]) -> Ciphertext:
    """``prod ct_k^{w_k}``: the encryption of ``sum w_k m_k``."""
    return Ciphertext(
        group.msm([c.alpha for c in cts], weights), group.msm([c.beta for c in cts], weights)
    )


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
class BoundProof:
    """One spending bound: the slack's bits, each proven 0 or 1, and the proof
    that the costs' ciphertext with the slack's encrypts the bound."""

    bits: tuple[Ciphertext, ...]
    proofs: tuple[RangeProof, ...]
    sum: DleqProof

    def to_json(self) -> dict[str, Any]:
        return {
            "bits": [_b64(c.to_bytes()) for c in self.bits],
            "proofs": [_b64(p.to_bytes()) for p in self.proofs],
            "sum": _b64(self.sum.to_bytes()),
        }

    @classmethod
    def decode(cls, group: Group, obj: object, bits: int, what: str) -> BoundProof:
        if not isinstance(obj, dict) or set(obj) != {"bits", "proofs", "sum"}:
            raise FormatError(
                f"{what}: expected an object with bits, proofs and sum",
                code="bad_encrypted_ballot",
            )
        cts, prs = obj["bits"], obj["proofs"]
        if not isinstance(cts, list) or not isinstance(prs, list):
            raise FormatError(f"{what}: bits and proofs are lists", code="bad_encrypted_ballot")
        if len(cts) != bits or len(prs) != bits:
            raise FormatError(
                f"{what}: {bits} bits and {bits} proofs; found {len(cts)} and {len(prs)}",
                code="bad_encrypted_ballot",
            )
        return cls(
            tuple(
                Ciphertext.decode(group, _unb64(c, f"{what}.bits[{i}]"), f"{what}.bits[{i}]")
                for i, c in enumerate(cts)
            ),
            tuple(
                RangeProof.decode(group, _unb64(p, f"{what}.proofs[{i}]"), 2, f"{what}.proofs[{i}]")
                for i, p in enumerate(prs)
            ),
            DleqProof.decode(group, _unb64(obj["sum"], f"{what}.sum"), f"{what}.sum"),
        )

    def slack(self, group: Group) -> Ciphertext:
        """The encryption of the slack: ``prod bit_i^{2^i}``, by Horner's rule
        (a doubling and an addition per bit, no multiplication)."""
        alpha, beta = group.identity, group.identity
        for ct in reversed(self.bits):
            alpha = group.add(group.add(alpha, alpha), ct.alpha)
            beta = group.add(group.add(beta, beta), ct.beta)
        return Ciphertext(alpha, beta)

    def verify(self, ctx: Context, key: bytes, name: str, spent: Ciphertext, bound: int) -> None:
        g = ctx.group
        for i, (ct, proof) in enumerate(zip(self.bits, self.proofs, strict=True)):
            try:
                proof.verify(ctx, bit_label(name, i), key, ct, (0, 1))
            except ProofError as exc:
                raise ProofError(
                    f"the proof that bit {i} of the {name}'s slack is 0 or 1 does not verify",
                    code="bad_ballot_proof",
                ) from exc
        x = self.slack(g)
        if name == CEILING:  # spent + slack = ceiling
            a, b = g.add(spent.alpha, x.alpha), g.add(spent.beta, x.beta)
        else:  # spent - slack = floor
            a, b = g.sub(spent.alpha, x.alpha), g.sub(spent.beta, x.beta)
        try:
            self.sum.verify(ctx, name.encode(), a, key, g.sub(b, g.base(bound)))
        except ProofError as exc:
            raise ProofError(
                f"the proof that the chosen projects cost "
                f"{'at most' if name == CEILING else 'at least'} {bound} does not verify",
                code="bad_ballot_proof",
            ) from exc

    @classmethod
    def prove(
        cls,
        ctx: Context,
        key: bytes,
        name: str,
        slack: int,
        bits: int,
        spent_randomness: int,
        randomness: Sequence[int],
        *extra: Nonce,
    ) -> BoundProof:
        g = ctx.group
        if not 0 <= slack < 1 << bits:
            raise ValueError(f"the {name}'s slack {slack} is not within {bits} bits")
        cts, proofs = [], []
        for i in range(bits):
            ct = encrypt(g, key, (slack >> i) & 1, randomness[i])
            cts.append(ct)
            proofs.append(
                RangeProof.prove(
                    ctx,
                    bit_label(name, i),
                    key,
                    ct,
                    (0, 1),
                    (slack >> i) & 1,
                    randomness[i],
                    *extra,
                )
            )
        x = sum(r << i for i, r in enumerate(randomness))
        witness = spent_randomness + x if name == CEILING else spent_randomness - x
        return cls(
            tuple(cts),
            tuple(proofs),
            DleqProof.prove(ctx, name.encode(), witness % g.order, key, *extra),
        )


@dataclass(frozen=True, slots=True)
class SpendProof:
    ceiling: BoundProof
    floor: BoundProof | None

    def to_json(self) -> dict[str, Any]:
        out = {CEILING: self.ceiling.to_json()}
        if self.floor is not None:
            out[FLOOR] = self.floor.to_json()
        return out

    @classmethod
    def decode(cls, group: Group, obj: object, spend: Spend) -> SpendProof:
        what = "ballot.encrypted.spend"
        want = {CEILING, FLOOR} if spend.floor else {CEILING}
        if not isinstance(obj, dict) or set(obj) != want:
            raise FormatError(
                f"{what}: expected an object with {' and '.join(sorted(want))}",
                code="bad_encrypted_ballot",
            )
        return cls(
            BoundProof.decode(group, obj[CEILING], spend.bits, f"{what}.{CEILING}"),
            BoundProof.decode(group, obj[FLOOR], spend.bits, f"{what}.{FLOOR}")
            if spend.floor
            else None,
        )


@dataclass(frozen=True, slots=True)
class EncryptedBallot:
    ciphertexts: tuple[Ciphertext, ...]
    proofs: tuple[RangeProof, ...]
    count: RangeProof
    #: a capped budget's proof that the ballot's cost is within its bounds
    spend: SpendProof | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ciphertexts": [_b64(c.to_bytes()) for c in self.ciphertexts],
            "proofs": [_b64(p.to_bytes()) for p in self.proofs],
            "count": _b64(self.count.to_bytes()),
        }
        if self.spend is not None:
            out["spend"] = self.spend.to_json()
        return out

    @classmethod
    def decode(
        cls,
        group: Group,
        obj: object,
        options: int,
        bounds: tuple[int, int],
        spend: Spend | None = None,
    ) -> EncryptedBallot:
        """Parse and check the shapes (points in the group, scalars canonical);
        the proofs are checked by :meth:`verify`. ``spend``: a capped budget's
        bounds on the ballot's cost, whose proof the ballot then carries."""
        what = "ballot.encrypted"
        fields = {"ciphertexts", "proofs", "count"} | ({"spend"} if spend else set())
        if not isinstance(obj, dict) or set(obj) != fields:
            raise FormatError(
                f"{what}: expected an object with {', '.join(sorted(fields))}",
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
            None if spend is None else SpendProof.decode(group, obj["spend"], spend),
        )

    def total(self, group: Group) -> Ciphertext:
        acc = Ciphertext(group.identity, group.identity)
        for c in self.ciphertexts:
            acc = acc.add(group, c)
        return acc

    def verify(
        self, ctx: Context, key: bytes, bounds: tuple[int, int], spend: Spend | None = None
    ) -> None:
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
        if (spend is None) != (self.spend is None):
            raise ProofError(
                "a capped budget's ballot proves its cost, and only such a ballot does",
                code="bad_ballot_proof",
            )
        if spend is not None and self.spend is not None:
            if len(spend.costs) != len(self.ciphertexts):
                raise ValueError("one cost per proposal")
            spent = weighted(ctx.group, self.ciphertexts, spend.costs)
            self.spend.ceiling.verify(ctx, key, CEILING, spent, spend.ceiling)
            if self.spend.floor is not None:
                self.spend.floor.verify(ctx, key, FLOOR, spent, spend.floor)


def encrypt_ballot(
    ctx: Context,
    key: bytes,
    options: int,
    selected: Sequence[int],
    bounds: tuple[int, int],
    *,
    randomness: Sequence[int] | None = None,
    nonce: Nonce | None = None,
    spend: Spend | None = None,
    spend_randomness: Sequence[int] | None = None,
) -> tuple[EncryptedBallot, list[int]]:
    """Encrypt a choice (the indices of the selected proposals) and prove it; the
    randomness is returned for a challenge and must be forgotten otherwise.
    ``spend``: a capped budget's bounds, proven too; ``spend_randomness`` (the
    slack bits' randomness, ceiling's then floor's) is for the vectors only."""
    g = ctx.group
    lo, hi = bounds
    chosen = set(selected)
    if not lo <= len(chosen) <= hi or any(not 0 <= k < options for k in chosen):
        raise ValueError("the choice does not respect the bounds")
    if spend is not None and not spend.floor <= spend.spent(list(chosen)) <= spend.ceiling:
        raise ValueError("the choice does not cost within the budget's bounds")
    if randomness is not None and len(randomness) != options:
        raise ValueError("one randomness per option")

    def draw() -> int:
        return secrets.randbelow(g.order - 1) + 1

    rs = list(randomness) if randomness is not None else [draw() for _ in range(options)]
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
    spend_proof = None
    if spend is not None:
        b = spend.bits
        need = 2 * b if spend.floor else b
        ts = (
            list(spend_randomness)
            if spend_randomness is not None
            else [draw() for _ in range(need)]
        )
        if len(ts) != need:
            raise ValueError(f"{need} randomness for the slack bits")
        spent, r_spent = (
            spend.spent(list(chosen)),
            sum(c * r for c, r in zip(spend.costs, rs, strict=True)),
        )
        spend_proof = SpendProof(
            BoundProof.prove(ctx, key, CEILING, spend.ceiling - spent, b, r_spent, ts[:b], *extra),
            BoundProof.prove(ctx, key, FLOOR, spent - spend.floor, b, r_spent, ts[b:], *extra)
            if spend.floor
            else None,
        )
    return EncryptedBallot(tuple(cts), tuple(proofs), count, spend_proof), rs


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
