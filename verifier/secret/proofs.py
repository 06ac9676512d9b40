"""Exponential ElGamal and the zero-knowledge proofs of the secret ballot.

All proofs are non-interactive by the **strong** Fiat-Shamir transform: the
challenge hashes a domain tag, the context (the group, the process, the
election key, the pseudonym: :class:`Context`), a label naming the statement's
place in the ballot, the whole statement, and every commitment. Bernhard,
Pereira and Warinschi (Asiacrypt 2012) showed how Helios's weak form, which
hashed the commitments alone, let a ballot prove a false statement; every
challenge here is computed by :func:`~urne.verifier.secret.group.hash_to_scalar`
over all of it.

- :func:`encrypt`: ``(alpha, beta) = (g^r, h^r g^m)``.
- :class:`RangeProof`: ``(alpha, beta)`` encrypts one of a list of values
  (the disjunctive Chaum-Pedersen proof of Cramer, Damgard and Schoenmakers,
  CRYPTO 1994): 0 or 1 for an option, ``min..max`` for the number selected.
- :class:`DleqProof`: ``log_g X = log_Y Z`` (Chaum-Pedersen, CRYPTO 1992): a
  decryption share is ``alpha^x`` for the trustee's share ``x`` of the key; a
  complaint's revealed key is ``R^e`` for the complainer's key ``e``.
- :class:`SchnorrProof`: knowledge of ``a`` with ``A = g^a`` (a trustee's key,
  a dealt constant term).

docs/secret-ballot.md specifies every byte; this module is its reference code.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from urne.verifier.errors import FormatError, ProofError
from urne.verifier.secret.group import Group, hash_to_scalar

__all__ = [
    "Ciphertext",
    "Context",
    "DleqProof",
    "Nonce",
    "RangeProof",
    "SchnorrProof",
    "encrypt",
]

TAG_RANGE = b"urne/secret/v1/range"
TAG_DLEQ = b"urne/secret/v1/dleq"
TAG_SCHNORR = b"urne/secret/v1/schnorr"


@dataclass(frozen=True, slots=True)
class Context:
    """What every challenge of one ballot (or one trustee's message) hashes first.

    ``parts`` are, in this order, the group's name, then what the statement
    belongs to: for a ballot, the manifest's fingerprint, the election key and
    the pseudonym; for the ceremony, the manifest's fingerprint and the trustee's
    index. A proof made in one context fails in every other.
    """

    group: Group
    parts: tuple[bytes, ...]

    def challenge(self, tag: bytes, label: bytes, *statement: bytes) -> int:
        return hash_to_scalar(
            self.group, tag, self.group.name.encode(), *self.parts, label, *statement
        )


@dataclass(frozen=True, slots=True)
class Ciphertext:
    alpha: bytes
    beta: bytes

    def to_bytes(self) -> bytes:
        return self.alpha + self.beta

    @classmethod
    def decode(cls, group: Group, data: bytes, what: str) -> Ciphertext:
        n = group.element_size
        if not isinstance(data, bytes) or len(data) != 2 * n:
            raise FormatError(f"{what}: expected {2 * n} bytes (alpha || beta)", code="bad_point")
        return cls(
            group.decode(data[:n], f"{what}.alpha", allow_identity=True),
            group.decode(data[n:], f"{what}.beta", allow_identity=True),
        )

    def add(self, group: Group, other: Ciphertext) -> Ciphertext:
        return Ciphertext(group.add(self.alpha, other.alpha), group.add(self.beta, other.beta))


def encrypt(group: Group, key: bytes, m: int, r: int) -> Ciphertext:
    """``(g^r, h^r g^m)``: exponential ElGamal of ``m`` under ``key`` with randomness ``r``."""
    return Ciphertext(group.base(r), group.add(group.mul(r, key), group.base(m)))


def _nonce(group: Group) -> int:
    return secrets.randbelow(group.order)


#: Where a prover's nonces come from: the system's CSPRNG, except in the
#: published vectors, which fix them so that a second implementation can
#: reproduce every byte.
Nonce = Callable[[Group], int]


def _scalars(group: Group, data: bytes, count: int, what: str) -> list[int]:
    if not isinstance(data, bytes) or len(data) != 32 * count:
        raise FormatError(f"{what}: expected {32 * count} bytes", code="bad_proof")
    out = []
    for i in range(count):
        k = int.from_bytes(data[32 * i : 32 * i + 32], "little")
        if k >= group.order:
            raise FormatError(f"{what}: a scalar is not below the group order", code="bad_proof")
        out.append(k)
    return out


def _pack(scalars: Sequence[int]) -> bytes:
    return b"".join(k.to_bytes(32, "little") for k in scalars)


def _values_bytes(values: Sequence[int]) -> bytes:
    return b"".join(v.to_bytes(4, "big") for v in values)


@dataclass(frozen=True, slots=True)
class RangeProof:
    """``(alpha, beta)`` encrypts one of ``values`` under ``key``.

    For each value ``v_i``, a challenge ``c_i`` and a response ``s_i``; the
    commitments are recomputed as ``A_i = g^{s_i} / alpha^{c_i}`` and
    ``B_i = key^{s_i} / (beta / g^{v_i})^{c_i}``, and the proof holds when
    ``sum c_i = H(context, label, values, alpha, beta, A_0, B_0, ...)``.
    Encoded as ``c_0 || s_0 || c_1 || s_1 || ...`` (32-byte little-endian scalars).
    """

    challenges: tuple[int, ...]
    responses: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return b"".join(
            c.to_bytes(32, "little") + s.to_bytes(32, "little")
            for c, s in zip(self.challenges, self.responses, strict=True)
        )

    @classmethod
    def decode(cls, group: Group, data: bytes, count: int, what: str) -> RangeProof:
        k = _scalars(group, data, 2 * count, what)
        return cls(tuple(k[0::2]), tuple(k[1::2]))

    @classmethod
    def prove(
        cls,
        ctx: Context,
        label: bytes,
        key: bytes,
        ct: Ciphertext,
        values: Sequence[int],
        m: int,
        r: int,
        nonce: Nonce = _nonce,
    ) -> RangeProof:
        g = ctx.group
        if m not in values:
            raise ValueError("the plaintext is not one of the values")
        real = values.index(m)
        cs: list[int] = [0] * len(values)
        ss: list[int] = [0] * len(values)
        commitments: list[bytes] = []
        w = nonce(g)
        for i, v in enumerate(values):
            if i == real:
                commitments += [g.base(w), g.mul(w, key)]
                continue
            cs[i], ss[i] = nonce(g), nonce(g)
            a = g.sub(g.base(ss[i]), g.mul(cs[i], ct.alpha))
            b = g.sub(g.mul(ss[i], key), g.mul(cs[i], g.sub(ct.beta, g.base(v))))
            commitments += [a, b]
        c = ctx.challenge(
            TAG_RANGE, label, key, _values_bytes(values), ct.alpha, ct.beta, *commitments
        )
        cs[real] = (c - sum(cs)) % g.order
        ss[real] = (w + cs[real] * r) % g.order
        return cls(tuple(cs), tuple(ss))

    def commitments(
        self, ctx: Context, key: bytes, ct: Ciphertext, values: Sequence[int]
    ) -> list[bytes]:
        g = ctx.group
        out: list[bytes] = []
        for c, s, v in zip(self.challenges, self.responses, values, strict=True):
            out.append(g.sub(g.base(s), g.mul(c, ct.alpha)))
            out.append(g.sub(g.mul(s, key), g.mul(c, g.sub(ct.beta, g.base(v)))))
        return out

    def verify(
        self, ctx: Context, label: bytes, key: bytes, ct: Ciphertext, values: Sequence[int]
    ) -> None:
        """Raise :class:`ProofError` (code ``bad_range_proof``) unless the proof holds."""
        if len(self.challenges) != len(values):
            raise ProofError(
                "the range proof has the wrong number of branches", code="bad_range_proof"
            )
        commitments = self.commitments(ctx, key, ct, values)
        c = ctx.challenge(
            TAG_RANGE, label, key, _values_bytes(values), ct.alpha, ct.beta, *commitments
        )
        if sum(self.challenges) % ctx.group.order != c:
            raise ProofError(
                f"the proof for {label.decode(errors='replace')} does not verify",
                code="bad_range_proof",
            )


@dataclass(frozen=True, slots=True)
class DleqProof:
    """``log_g X = log_Y Z``: ``(c, s)`` with ``A = g^s / X^c``, ``B = Y^s / Z^c`` and
    ``c = H(context, label, X, Y, Z, A, B)``. Encoded as ``c || s``."""

    c: int
    s: int

    def to_bytes(self) -> bytes:
        return _pack((self.c, self.s))

    @classmethod
    def decode(cls, group: Group, data: bytes, what: str) -> DleqProof:
        c, s = _scalars(group, data, 2, what)
        return cls(c, s)

    @classmethod
    def prove(
        cls, ctx: Context, label: bytes, x: int, y_base: bytes, nonce: Nonce = _nonce
    ) -> DleqProof:
        g = ctx.group
        big_x, z = g.base(x), g.mul(x, y_base)
        w = nonce(g)
        c = ctx.challenge(TAG_DLEQ, label, big_x, y_base, z, g.base(w), g.mul(w, y_base))
        return cls(c, (w + c * x) % g.order)

    def verify(self, ctx: Context, label: bytes, big_x: bytes, y_base: bytes, z: bytes) -> None:
        g = ctx.group
        a = g.sub(g.base(self.s), g.mul(self.c, big_x))
        b = g.sub(g.mul(self.s, y_base), g.mul(self.c, z))
        if ctx.challenge(TAG_DLEQ, label, big_x, y_base, z, a, b) != self.c:
            raise ProofError(
                f"the proof of equal logarithms for {label.decode(errors='replace')} "
                "does not verify",
                code="bad_dleq_proof",
            )


@dataclass(frozen=True, slots=True)
class SchnorrProof:
    """Knowledge of ``a`` with ``A = g^a``: ``(c, s)``, ``T = g^s / A^c``,
    ``c = H(context, label, A, T)``. Encoded as ``c || s``."""

    c: int
    s: int

    def to_bytes(self) -> bytes:
        return _pack((self.c, self.s))

    @classmethod
    def decode(cls, group: Group, data: bytes, what: str) -> SchnorrProof:
        c, s = _scalars(group, data, 2, what)
        return cls(c, s)

    @classmethod
    def prove(cls, ctx: Context, label: bytes, a: int, nonce: Nonce = _nonce) -> SchnorrProof:
        g = ctx.group
        w = nonce(g)
        c = ctx.challenge(TAG_SCHNORR, label, g.base(a), g.base(w))
        return cls(c, (w + c * a) % g.order)

    def verify(self, ctx: Context, label: bytes, big_a: bytes) -> None:
        g = ctx.group
        t = g.sub(g.base(self.s), g.mul(self.c, big_a))
        if ctx.challenge(TAG_SCHNORR, label, big_a, t) != self.c:
            raise ProofError(
                f"the proof of knowledge for {label.decode(errors='replace')} does not verify",
                code="bad_knowledge_proof",
            )
