"""Anonymous per-process credentials: blind BLS signatures on BLS12-381 (DESIGN §5).

A citizen takes part in a process under a pseudonym -- an Ed25519 key of their
own, fresh for the process. The credential is the issuer's BLS signature on::

    m = b"urne/v1/credential\\n" || UTF-8(process_id) || 0x00 || pseudonym_pubkey

hashed to G2 with RFC 9380 ``BLS12381G2_XMD:SHA-256_SSWU_RO_`` under the tag
:data:`CREDENTIAL_DST`, and it verifies as ``e(G1, S) == e(PK, H(m))`` with
the process's issuer key ``PK`` (G1, 48 bytes; ``S`` is G2, 96 bytes).

Issuance, without the issuer ever seeing ``m`` (Boldyreva's blind BLS)::

    citizen                                   issuer (checks eligibility, records it)
    H = H(m); r random in [1, r-1]
    B = r*H                      --- B --->
                                 <-- S' --    S' = sk*B   (B subgroup-checked first)
    S = r^-1 * S'  (= sk*H)
    check e(G1, S) == e(PK, H)

What blinding hides: for any ``H``, ``r*H`` with ``r`` uniform in ``[1, r-1]``
is a uniformly random point of G2 other than the identity. ``B`` is therefore
independent of ``m``: the issuer, even with unbounded computing power and
everything published later, cannot tell which credential, pseudonym or process
message came from which request (the unlinkability is information-theoretic).
What it does learn: who asked, when, and for which process key.

Why ``r`` is fresh for every issuance, from the OS CSPRNG: the hiding argument
needs ``r`` uniform and independent of everything else. Reused across two
requests, ``B1 = r*H1`` and ``B2 = r*H2`` are related, and linking them to the
published ``H1, H2`` becomes a decisional Diffie-Hellman question in G2 --
hard today, but no longer impossible, and solved at once for every request
that shared ``r`` if ``r`` ever leaks (a backup, a bug). Derived from ``m``
(say ``r = hash(m)``), the issuer could recompute ``r*H`` for every pseudonym
in the log and match. The citizen's :class:`BlindingState` is discarded after
unblinding.

Why a fresh issuer key per process: the issuer signs ``B`` blind, so it cannot
see which process ``m`` names. Only the key binds a credential to a process:
with one key for two processes, an eligible person could ask "for process A"
and receive a credential valid for B. One key per process (announced in the
process manifest) makes the issuer's eligibility check mean what it says.

Threshold issuance: :func:`split_key` cuts the process key into Shamir shares
``f(1), ..., f(n)`` of a random polynomial of degree ``t - 1`` with
``f(0) = sk``. Each issuer signs the same ``B`` with its share; any ``t``
answers combine by Lagrange interpolation at zero (:func:`combine_shares`)
into ``sk*B`` -- before or after unblinding, the maps being linear -- so no
fewer than ``t`` issuers can mint a credential. Each share's public key
``f(i)*G1`` lets the citizen check every answer (:func:`verify_blind_share`).
A dealer (the caller of :func:`split_key`) knows ``sk``; a distributed key
generation, where nobody does, comes later.

The verification functions (:func:`verify_credential`,
:func:`verify_credentials_batch`) return ``False`` on anything malformed or
wrong; :func:`check_credential` raises the typed error instead
(:class:`~urne.verifier.errors.FormatError` for what cannot be checked,
:class:`CredentialError` for a credential that does not verify).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence

import nacl.signing
import nacl.utils

from urne.verifier.credentials import bls
from urne.verifier.errors import FormatError, VerificationError

__all__ = [
    "CREDENTIAL_DST",
    "CREDENTIAL_PREFIX",
    "CREDENTIAL_SIZE",
    "ISSUER_KEY_SIZE",
    "ISSUER_PUBLIC_KEY_SIZE",
    "PSEUDONYM_SIZE",
    "BlindingState",
    "CredentialError",
    "IssuerKey",
    "Pseudonym",
    "blind",
    "check_credential",
    "combine_shares",
    "credential_message",
    "invalid_credentials",
    "split_key",
    "unblind",
    "verify_blind_share",
    "verify_credential",
    "verify_credentials_batch",
]

#: Domain separation tag for hashing credential messages to G2 (RFC 9380 §3.1).
CREDENTIAL_DST = b"URNE-V01-CS01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
#: First bytes of every credential message.
CREDENTIAL_PREFIX = b"urne/v1/credential\n"
#: A credential: a compressed point of G2.
CREDENTIAL_SIZE = bls.G2_COMPRESSED_SIZE
#: An issuer (or share) public key: a compressed point of G1.
ISSUER_PUBLIC_KEY_SIZE = bls.G1_COMPRESSED_SIZE
#: An issuer secret key or share: I2OSP(sk, 32), 0 < sk < r.
ISSUER_KEY_SIZE = bls.SCALAR_SIZE
#: A pseudonym: an Ed25519 public key.
PSEUDONYM_SIZE = 32


class CredentialError(VerificationError):
    """A well-formed credential, or blind signature, that does not verify."""

    code = "bad_credential"


def _backend(backend: bls.AnyBackend | None) -> bls.AnyBackend:
    return backend if backend is not None else bls.current_backend()


# --------------------------------------------------------------------------
# The message
# --------------------------------------------------------------------------


def credential_message(process_id: str, pseudonym_pubkey: bytes) -> bytes:
    """``b"urne/v1/credential\\n" || UTF-8(process_id) || 0x00 || pseudonym_pubkey``.

    The NUL byte ends the process id, so it must not occur in it (nor may the
    id be empty); the pseudonym is exactly 32 bytes. Together these make the
    encoding injective: no two (process, pseudonym) pairs share a message. The
    id's UTF-8 bytes are taken as they are, without Unicode normalisation.
    """
    if not process_id:
        raise FormatError("process id is empty", code="bad_process_id")
    if "\x00" in process_id:
        raise FormatError("process id contains a NUL character", code="bad_process_id")
    try:
        encoded = process_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FormatError("process id is not encodable as UTF-8", code="bad_process_id") from exc
    if len(pseudonym_pubkey) != PSEUDONYM_SIZE:
        raise FormatError(
            f"pseudonym is {len(pseudonym_pubkey)} bytes, want {PSEUDONYM_SIZE}",
            code="bad_pseudonym",
        )
    return CREDENTIAL_PREFIX + encoded + b"\x00" + bytes(pseudonym_pubkey)


# --------------------------------------------------------------------------
# The pseudonym
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Citizen side: blinding and unblinding
# --------------------------------------------------------------------------


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

    def __repr__(self) -> str:
        return f"BlindingState(message={self.message!r}, blinded={self.blinded.hex()})"


def blind(message: bytes, *, backend: bls.AnyBackend | None = None) -> tuple[BlindingState, bytes]:
    """Blind ``message``: ``(state, B)`` with ``B = r * H(message)`` for a fresh random ``r``.

    Send ``B`` (96 bytes) to the issuer with the proof of eligibility; keep
    ``state`` private.
    """
    be = _backend(backend)
    r = bls.random_scalar()
    blinded = be.g2_compress(be.g2_mul(be.hash_to_g2(message, CREDENTIAL_DST), r))
    return BlindingState(message, r, blinded), blinded


def unblind(
    state: BlindingState,
    blind_signature: bytes,
    public_key: bytes,
    *,
    backend: bls.AnyBackend | None = None,
) -> bytes:
    """``S = r^-1 * S'``, returned only if ``e(G1, S) == e(public_key, H(message))``.

    ``public_key`` is the process's issuer key, or one issuer's share key when
    unblinding a share before :func:`combine_shares`. Raises
    :class:`~urne.verifier.errors.FormatError` for an undecodable key or answer and
    :class:`CredentialError` for an answer that is not the key's signature.
    """
    be = _backend(backend)
    pk = be.g1_decompress(public_key)
    if pk is None:
        raise FormatError("issuer public key is not a valid G1 point", code="bad_public_key")
    answer = be.g2_decompress(blind_signature)
    if answer is None:
        raise FormatError(
            "blind signature is not a point of G2's prime-order subgroup", code="bad_point"
        )
    signature = be.g2_mul(answer, bls.scalar_inverse(state._r))
    if not be.core_verify(pk, be.hash_to_g2(state.message, CREDENTIAL_DST), signature):
        raise CredentialError(
            "the issuer's blind signature does not verify under its public key",
            code="bad_blind_signature",
        )
    return be.g2_compress(signature)


# --------------------------------------------------------------------------
# Issuer side
# --------------------------------------------------------------------------


class IssuerKey:
    """An issuer's BLS secret key for one process, or one Shamir share of it.

    Never reuse a key across processes (see the module docstring).
    """

    __slots__ = ("_sk", "public_key")

    def __init__(self, sk: int) -> None:
        if not 0 < sk < bls.CURVE_ORDER:
            raise ValueError("an issuer key is a scalar 0 < sk < r")
        self._sk = sk
        #: ``sk * G1``, 48 bytes compressed: what the process manifest publishes.
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
        """``S' = sk * B`` for a blinded message ``B`` (96 bytes), after checking ``B``.

        ``B`` must decode to a point of G2's order-r subgroup other than the
        identity: multiplying a point with a small-order component would hand
        the requester ``sk`` modulo the small primes of G2's cofactor.

        The scalar multiplications of both libraries take time that depends on
        the scalar, and ``B`` is chosen by the requester. So the key is split
        afresh on every call, ``sk = a + (sk - a)`` with ``a`` uniform, and
        ``S' = a*B + (sk - a)*B``: each part is uniform on its own, so the
        average duration no longer depends on ``sk``.
        """
        be = _backend(backend)
        point = be.g2_decompress(blinded)
        if point is None:
            raise FormatError(
                "blinded message is not a point of G2's prime-order subgroup",
                code="bad_blinded_message",
            )
        mask = bls.random_scalar()
        signed = be.g2_add(be.g2_mul(point, mask), be.g2_mul(point, self._sk - mask))
        return be.g2_compress(signed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IssuerKey):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"IssuerKey(public_key={self.public_key.hex()})"


# --------------------------------------------------------------------------
# t-of-n issuers: Shamir shares and Lagrange combination
# --------------------------------------------------------------------------


def split_key(key: IssuerKey, t: int, n: int) -> dict[int, IssuerKey]:
    """Shamir-share ``key`` among ``n`` issuers so that any ``t`` of them can sign.

    Returns ``{i: share_i}`` for ``i = 1..n``, with ``share_i = f(i)`` for a
    random polynomial ``f`` of degree ``t - 1`` over the scalars with
    ``f(0) = sk``. Any ``t - 1`` shares are uniformly random and say nothing
    about ``sk``. Each share's ``public_key`` is ``f(i) * G1``.
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
    be = _backend(backend)
    points = []
    for i in indices:
        point = be.g2_decompress(shares[i])
        if point is None:
            raise FormatError(
                f"signature share {i} is not a point of G2's prime-order subgroup",
                code="bad_share",
            )
        points.append(point)
    return be.g2_compress(be.g2_msm(points, _lagrange_at_zero(indices)))


def verify_blind_share(
    share_public_key: bytes,
    blinded: bytes,
    blind_share: bytes,
    *,
    backend: bls.AnyBackend | None = None,
) -> bool:
    """Whether ``e(G1, S'_i) == e(PK_i, B)``: issuer ``i`` signed ``B`` with its share."""
    be = _backend(backend)
    pk = be.g1_decompress(share_public_key)
    point = be.g2_decompress(blinded)
    answer = be.g2_decompress(blind_share)
    if pk is None or point is None or answer is None:
        return False
    return be.core_verify(pk, point, answer)


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def verify_credential(
    public_key: bytes,
    process_id: str,
    pseudonym: bytes,
    credential: bytes,
    *,
    backend: bls.AnyBackend | None = None,
) -> bool:
    """Whether ``credential`` is the issuer's signature for this process and pseudonym.

    ``False`` for anything malformed: the issuer key, the process id, the
    pseudonym or the credential encoding (wrong length, not a canonical
    compressed point, not in the subgroup, the identity).
    """
    try:
        message = credential_message(process_id, pseudonym)
    except FormatError:
        return False
    return _backend(backend).verify(public_key, message, credential, CREDENTIAL_DST)


def check_credential(
    public_key: bytes,
    process_id: str,
    pseudonym: bytes,
    credential: bytes,
    *,
    backend: bls.AnyBackend | None = None,
) -> None:
    """:func:`verify_credential`, raising the reason instead of returning ``False``.

    :class:`~urne.verifier.errors.FormatError` when something cannot be checked (bad
    process id, pseudonym, key or credential encoding), :class:`CredentialError`
    when the credential is well-formed but not valid for this process and
    pseudonym under this key.
    """
    message = credential_message(process_id, pseudonym)
    be = _backend(backend)
    pk = be.g1_decompress(public_key)
    if pk is None:
        raise FormatError(
            "issuer public key is not a compressed point of G1's prime-order subgroup",
            code="bad_public_key",
        )
    if len(credential) != CREDENTIAL_SIZE:
        raise FormatError(
            f"credential is {len(credential)} bytes, want {CREDENTIAL_SIZE}",
            code="bad_credential_length",
        )
    signature = be.g2_decompress(credential)
    if signature is None:
        raise FormatError(
            "credential is not a compressed point of G2's prime-order subgroup",
            code="bad_credential_encoding",
        )
    if not be.core_verify(pk, be.hash_to_g2(message, CREDENTIAL_DST), signature):
        raise CredentialError(
            f"credential does not verify for process {process_id!r} and pseudonym "
            f"{bytes(pseudonym).hex()} under issuer key {bytes(public_key).hex()}"
        )


def verify_credentials_batch(
    public_key: bytes,
    items: Iterable[tuple[str, bytes, bytes]],
    *,
    backend: bls.AnyBackend | None = None,
) -> bool:
    """Whether every ``(process_id, pseudonym, credential)`` verifies under ``public_key``.

    Accepts exactly the sets that :func:`verify_credential` accepts item by item,
    except with probability at most ``2**-128``: one random linear combination,
    two pairings for the whole batch (:meth:`urne.verifier.credentials.bls.Backend.batch_verify`).
    An empty batch is accepted when the key is valid. When a batch fails,
    :func:`invalid_credentials` finds the culprits.
    """
    be = _backend(backend)
    batch = []
    for process_id, pseudonym, credential in items:
        try:
            message = credential_message(process_id, pseudonym)
        except FormatError:
            return False
        batch.append((public_key, message, credential))
    if not batch:
        return be.g1_decompress(public_key) is not None
    return be.batch_verify(batch, CREDENTIAL_DST)


def invalid_credentials(
    public_key: bytes,
    items: Sequence[tuple[str, bytes, bytes]],
    *,
    backend: bls.AnyBackend | None = None,
) -> list[int]:
    """The indices of the items :func:`verify_credential` rejects, in order.

    Batch-verifies, then halves every failing range: with ``k`` bad items
    among ``n`` it costs about ``2k log2(n/k)`` batches instead of ``n`` single
    verifications, and one batch when all are good.
    """

    def bad(lo: int, hi: int) -> list[int]:
        if verify_credentials_batch(public_key, items[lo:hi], backend=backend):
            return []
        if hi - lo == 1:
            return [lo]
        mid = (lo + hi) // 2
        return bad(lo, mid) + bad(mid, hi)

    return bad(0, len(items)) if items else []
