"""The citizen's side of blind issuance: a fresh pseudonym, blinding the
credential message, unblinding the issuer's answer (and combining the answers
of t-of-n issuers), checked before use.

The protocol and why each step is as it is: ``urne.verifier.credentials.credential``
and docs/spec/credentials.md. This runs on the citizen's own machine; nothing an
observer runs depends on it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence

import nacl.signing

from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import CREDENTIAL_DST, CredentialError, credential_message
from urne.verifier.errors import FormatError

__all__ = [
    "BlindingState",
    "Pseudonym",
    "blind",
    "combine_shares",
    "unblind",
    "verify_blind_share",
]


class Pseudonym:
    """A citizen's Ed25519 key for one process (PyNaCl); the public key is the nullifier.

    Generate a new one for every process: the same pseudonym in two processes
    links the two participations.
    """

    __slots__ = ("_signing_key",)

    def __init__(self, signing_key: nacl.signing.SigningKey) -> None:
        self._signing_key = signing_key

    @classmethod
    def generate(cls) -> Pseudonym:
        """A fresh key from libsodium's CSPRNG."""
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Pseudonym:
        """The key with this 32-byte RFC 8032 seed (what a citizen's device stores)."""
        if len(seed) != 32:
            raise FormatError(f"seed is {len(seed)} bytes, want 32", code="bad_seed")
        return cls(nacl.signing.SigningKey(bytes(seed)))

    @property
    def seed(self) -> bytes:
        """The secret seed: keep it, it is the only way to vote (again) as this pseudonym."""
        return bytes(self._signing_key)

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key, as it appears in credentials and ballots."""
        return bytes(self._signing_key.verify_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature (RFC 8032, deterministic) of ``message``."""
        return bytes(self._signing_key.sign(message).signature)

    def credential_message(self, process_id: str) -> bytes:
        """:func:`credential_message` for this pseudonym."""
        return credential_message(process_id, self.public_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pseudonym):
            return NotImplemented
        return hmac.compare_digest(self.seed, other.seed)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Pseudonym(public_key={self.public_key.hex()})"


class BlindingState:
    """What the citizen keeps between sending ``B`` and receiving ``S'``.

    Secret: ``r`` is what links ``B`` to the message. Use it for one issuance
    and drop it.
    """

    __slots__ = ("_r", "blinded", "message")

    def __init__(self, message: bytes, r: int, blinded: bytes) -> None:
        if not 0 < r < bls.CURVE_ORDER:
            raise ValueError("the blinding factor is a non-zero scalar")
        self.message = message
        self.blinded = blinded
        self._r = r

    @property
    def factor(self) -> int:
        """The secret blinding factor ``r``: what a wallet stores (as a
        secret) to finish an issuance after a restart, then drops."""
        return self._r

    def __repr__(self) -> str:
        return f"BlindingState(message={self.message!r}, blinded={self.blinded.hex()})"


def blind(message: bytes, *, backend: bls.AnyBackend | None = None) -> tuple[BlindingState, bytes]:
    """Blind ``message``: ``(state, B)`` with ``B = r * H(message)`` for a fresh random ``r``.

    Send ``B`` (48 bytes, a point of G1) to the issuer with the proof of eligibility; keep
    ``state`` private.
    """
    be = bls.resolve(backend)
    r = bls.random_scalar()
    blinded = be.g1_compress(be.g1_mul(be.hash_to_g1(message, CREDENTIAL_DST), r))
    return BlindingState(message, r, blinded), blinded


def unblind(
    state: BlindingState,
    blind_signature: bytes,
    public_key: bytes,
    *,
    backend: bls.AnyBackend | None = None,
) -> bytes:
    """``S = r^-1 * S'``, returned only if ``e(S, G2) == e(H(message), public_key)``.

    ``public_key`` is the process's issuer key, or one issuer's share key when
    unblinding a share before :func:`combine_shares`. Raises
    :class:`~urne.verifier.errors.FormatError` for an undecodable key or answer and
    :class:`CredentialError` for an answer that is not the key's signature.
    """
    be = bls.resolve(backend)
    pk = be.g2_decompress(public_key)
    if pk is None:
        raise FormatError("issuer public key is not a valid G2 point", code="bad_public_key")
    answer = be.g1_decompress(blind_signature)
    if answer is None:
        raise FormatError(
            "blind signature is not a point of G1's prime-order subgroup", code="bad_point"
        )
    signature = be.g1_mul(answer, bls.scalar_inverse(state._r))
    if not be.core_verify(pk, be.hash_to_g1(state.message, CREDENTIAL_DST), signature):
        raise CredentialError(
            "the issuer's blind signature does not verify under its public key",
            code="bad_blind_signature",
        )
    return be.g1_compress(signature)


def _lagrange_at_zero(indices: Sequence[int]) -> list[int]:
    """``lambda_i = prod_{j != i} j / (j - i)`` modulo r, so ``f(0) = sum lambda_i f(i)``."""
    coefficients = []
    for i in indices:
        numerator, denominator = 1, 1
        for j in indices:
            if j != i:
                numerator = numerator * j % bls.CURVE_ORDER
                denominator = denominator * (j - i) % bls.CURVE_ORDER
        coefficients.append(numerator * bls.scalar_inverse(denominator) % bls.CURVE_ORDER)
    return coefficients


def combine_shares(shares: Mapping[int, bytes], *, backend: bls.AnyBackend | None = None) -> bytes:
    """Combine signature shares ``{i: f(i) * X}`` into ``f(0) * X = sk * X``.

    Works on blinded answers (``X = B``, then :func:`unblind` under the group
    key) and on unblinded ones (``X = H``, a finished credential) alike. With
    at least ``t`` correct shares the result is the group's signature; with
    fewer it is some other point, which fails verification.
    """
    if not shares:
        raise FormatError("no signature shares to combine", code="bad_share")
    indices = list(shares)
    if any(not 0 < i < bls.CURVE_ORDER for i in indices):
        raise FormatError("share indices are integers 0 < i < r", code="bad_share")
    be = bls.resolve(backend)
    points = []
    for i in indices:
        point = be.g1_decompress(shares[i])
        if point is None:
            raise FormatError(
                f"signature share {i} is not a point of G1's prime-order subgroup",
                code="bad_share",
            )
        points.append(point)
    return be.g1_compress(be.g1_msm(points, _lagrange_at_zero(indices)))


def verify_blind_share(
    share_public_key: bytes,
    blinded: bytes,
    blind_share: bytes,
    *,
    backend: bls.AnyBackend | None = None,
) -> bool:
    """Whether ``e(S'_i, G2) == e(B, PK_i)``: issuer ``i`` signed ``B`` with its share."""
    be = bls.resolve(backend)
    pk = be.g2_decompress(share_public_key)
    point = be.g1_decompress(blinded)
    answer = be.g1_decompress(blind_share)
    if pk is None or point is None or answer is None:
        return False
    return be.core_verify(pk, point, answer)
