"""The issuer's secret: a BLS12-381 key for one process, or a Shamir share of
it, and the blind signature ``S' = sk * B``.

The protocol: ``urne.verifier.credentials.credential`` and docs/spec/credentials.md.
This module is server-side on purpose: the secret-key code is not in what
observers run to check the log. It imports nothing but the verifier's BLS door,
so it loads without a database driver.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

import nacl.utils

from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import ISSUER_KEY_SIZE
from urne.verifier.errors import FormatError

__all__ = ["IssuerKey", "split_key"]


class IssuerKey:
    """An issuer's BLS secret key for one process, or one Shamir share of it.

    Never reuse a key across processes (see the module docstring).
    """

    __slots__ = ("_sk", "public_key")

    def __init__(self, sk: int) -> None:
        if not 0 < sk < bls.CURVE_ORDER:
            raise ValueError("an issuer key is a scalar 0 < sk < r")
        self._sk = sk
        #: ``sk * G2``, 96 bytes compressed: what the process manifest publishes.
        self.public_key = bls.current_backend().sk_to_pk(sk)

    @classmethod
    def generate(cls) -> IssuerKey:
        """A fresh key: KeyGen (draft-irtf-cfrg-bls-signature-05 §2.3) of 32 random bytes."""
        return cls(bls.keygen(nacl.utils.random(32)))

    @classmethod
    def from_bytes(cls, data: bytes) -> IssuerKey:
        """The key serialised by :meth:`to_bytes`."""
        sk = bls.scalar_from_bytes(data)
        if sk is None:
            raise FormatError(
                f"an issuer key is {ISSUER_KEY_SIZE} big-endian bytes of a scalar 0 < sk < r",
                code="bad_issuer_key",
            )
        return cls(sk)

    def to_bytes(self) -> bytes:
        """I2OSP(sk, 32). Secret."""
        return bls.scalar_to_bytes(self._sk)

    def sign_blinded(self, blinded: bytes, *, backend: bls.AnyBackend | None = None) -> bytes:
        """``S' = sk * B`` for a blinded message ``B`` (48 bytes), after checking ``B``.

        ``B`` must decode to a point of G1's order-r subgroup other than the
        identity: multiplying a point with a small-order component would hand
        the requester ``sk`` modulo the small primes of G1's cofactor.

        The scalar multiplications of both libraries take time that depends on
        the scalar, and ``B`` is chosen by the requester. So the key is split
        afresh on every call, ``sk = a + (sk - a)`` with ``a`` uniform, and
        ``S' = a*B + (sk - a)*B``: each part is uniform on its own, so the
        average duration no longer depends on ``sk``.
        """
        be = bls.resolve(backend)
        point = be.g1_decompress(blinded)
        if point is None:
            raise FormatError(
                "blinded message is not a point of G1's prime-order subgroup",
                code="bad_blinded_message",
            )
        mask = bls.random_scalar()
        signed = be.g1_add(be.g1_mul(point, mask), be.g1_mul(point, self._sk - mask))
        return be.g1_compress(signed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IssuerKey):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"IssuerKey(public_key={self.public_key.hex()})"


def split_key(key: IssuerKey, t: int, n: int) -> dict[int, IssuerKey]:
    """Shamir-share ``key`` among ``n`` issuers so that any ``t`` of them can sign.

    Returns ``{i: share_i}`` for ``i = 1..n``, with ``share_i = f(i)`` for a
    random polynomial ``f`` of degree ``t - 1`` over the scalars with
    ``f(0) = sk``. Any ``t - 1`` shares are uniformly random and say nothing
    about ``sk``. Each share's ``public_key`` is ``f(i) * G2``.
    """
    if not 1 <= t <= n:
        raise ValueError("a t-of-n sharing needs 1 <= t <= n")
    while True:
        coefficients = [key._sk] + [bls.random_scalar() for _ in range(t - 1)]
        shares = {i: _evaluate(coefficients, i) for i in range(1, n + 1)}
        if all(shares.values()):  # a zero share has probability n/r; draw again
            return {i: IssuerKey(s) for i, s in shares.items()}


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    result = 0
    for c in reversed(coefficients):  # Horner
        result = (result * x + c) % bls.CURVE_ORDER
    return result
