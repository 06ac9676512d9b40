"""BLS12-381 for Urne's credentials: the one door to the pairing libraries.

Every pairing, hash-to-curve and point decoding in Urne goes through this
module (as all BLS goes through one module in the Ethereum consensus specs).
Two backends implement the same :class:`Backend` interface:

* ``py_ecc`` -- the Ethereum Foundation's pure-Python implementation, the
  *reference*: slow (~0.1 s per hash to G2, ~0.4 s per pairing) but short
  enough to audit;
* ``arkworks`` -- ``py_arkworks_bls12381``, Rust bindings to arkworks, the
  *fast* one (~1000x faster).

Both give byte-identical results; the tests compare them on fixed inputs and
against the RFC 9380 vectors. The fastest available backend is the module
default; :func:`use_py_ecc`, :func:`use_arkworks` and :func:`use_fastest`
switch it, and :func:`get_backend` hands out one backend without touching the
default (what tests use to run both side by side).

Conventions (the "minimal-signature-size" variant of draft-irtf-cfrg-bls-signature-05
§2.1): signatures and hashed messages are points of G1, 48 bytes compressed;
public keys are points of G2, 96 bytes compressed; messages are hashed with
RFC 9380 ``hash_to_curve`` for the suite ``BLS12381G1_XMD:SHA-256_SSWU_RO_``
(§8.8.1) under a caller-chosen domain separation tag. Hashing to G1 and
decoding a G1 point cost about half their G2 counterparts, and every ballot
pays both: credentials live in G1, the one issuer key per process in G2.
Hashing to G2 (§8.8.2) is kept as a primitive, checked on the RFC's vectors.

Point encoding (ZCash compressed serialisation, draft-irtf-cfrg-pairing-friendly-curves-11
Appendix C, as used by draft-irtf-cfrg-bls-signature-05): the x coordinate,
big-endian (for G2: the imaginary part ``x.c1`` then the real part ``x.c0``),
with three flags in the top bits of the first byte -- ``0x80`` compressed,
``0x40`` point at infinity, ``0x20`` the sign of y (set when y is the
lexicographically larger root). Decoding is strict, and identical for both
backends because the byte-level checks are ours, made before any library sees
the bytes:

1. exact length (48 or 96);
2. the compression flag set and the infinity flag clear: the point at infinity
   is refused everywhere -- it is neither a valid public key (KeyValidate,
   draft-irtf-cfrg-bls-signature-05 §2.5), nor a signature, nor a blinded
   message (the libraries also accept non-canonical infinity encodings, which
   this check keeps out);
3. every coordinate below the field modulus p, so that each point has exactly
   one encoding;
4. then the library solves for y -- refusing an x with no point above it (an
   encoding "not on the curve") -- and checks that the point lies in the
   order-r subgroup (a point of the full curve group would let a signer leak
   ``sk mod`` small cofactor primes and would break batch verification).

Scalars are plain Python ints modulo :data:`CURVE_ORDER`: exact, shared by both
backends, converted only at the multiplication boundary.

Crypto-level functions here never raise on bad input: decoding returns ``None``
and verification returns ``False`` (malformed, not on the curve, not in the
subgroup, pairing mismatch). Turning that into typed errors is the job of the
layer above (:mod:`urne.verifier.credentials.credential`).

Timing: arkworks and py_ecc scalar multiplications are variable-time. Public
operations (verification) do not care; the one secret-key operation that faces
attacker-chosen input, the issuer's blind signature, splits its key afresh on
every call (see :meth:`urne.verifier.credentials.credential.IssuerKey.sign_blinded`).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeAlias, TypeVar

try:
    import py_arkworks_bls12381 as ark
except ImportError:  # pragma: no cover - exercised only where no wheel exists
    ark = None  # type: ignore[assignment]

try:  # blst's hash to G1, four times arkworks' (see _ArkworksBackend)
    import pyblst
except ImportError:  # pragma: no cover - exercised only where no wheel exists
    pyblst = None

if TYPE_CHECKING:
    from py_ecc.fields import optimized_bls12_381_FQ as _FQ
    from py_ecc.fields import optimized_bls12_381_FQ2 as _FQ2
    from py_ecc.typing import Optimized_Point3D

    _PyEccG1: TypeAlias = Optimized_Point3D[_FQ]
    _PyEccG2: TypeAlias = Optimized_Point3D[_FQ2]

__all__ = [
    "BATCH_WEIGHT_BITS",
    "CURVE_ORDER",
    "FIELD_MODULUS",
    "G1_COMPRESSED_SIZE",
    "G2_COMPRESSED_SIZE",
    "SCALAR_SIZE",
    "AnyBackend",
    "Backend",
    "BackendName",
    "arkworks_without_blst",
    "available_backends",
    "current_backend",
    "get_backend",
    "keygen",
    "random_scalar",
    "random_weight",
    "resolve",
    "scalar_from_bytes",
    "scalar_inverse",
    "scalar_to_bytes",
    "use_arkworks",
    "use_fastest",
    "use_py_ecc",
]

#: p, the modulus of the base field Fp (draft-irtf-cfrg-pairing-friendly-curves-11 §4.2.1).
FIELD_MODULUS: Final = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf"
    "6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)
#: r, the prime order of G1, G2 and GT; scalars live modulo r.
CURVE_ORDER: Final = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001

G1_COMPRESSED_SIZE: Final = 48
G2_COMPRESSED_SIZE: Final = 96
#: A scalar (secret key, share) serialised big-endian, as I2OSP(sk, 32).
SCALAR_SIZE: Final = 32
#: Size of the random weights of batch verification: a batch containing an
#: invalid signature is accepted with probability at most 2**-128.
BATCH_WEIGHT_BITS: Final = 128

_FLAG_COMPRESSED: Final = 0x80
_FLAG_INFINITY: Final = 0x40
_COORDINATE_SIZE: Final = 48
_COORDINATE_MASK: Final = (1 << 381) - 1
_KEYGEN_SALT: Final = b"BLS-SIG-KEYGEN-SALT-"
_KEYGEN_L: Final = 48  # ceil(3 * ceil(log2(r)) / 16)

BackendName: TypeAlias = Literal["py_ecc", "arkworks"]

G1T = TypeVar("G1T")
G2T = TypeVar("G2T")


# --------------------------------------------------------------------------
# Scalars (the field of integers modulo r), shared by every backend
# --------------------------------------------------------------------------


def random_scalar() -> int:
    """A uniformly random non-zero scalar, from the OS CSPRNG (``secrets``)."""
    return secrets.randbelow(CURVE_ORDER - 1) + 1


def random_weight() -> int:
    """A uniformly random non-zero :data:`BATCH_WEIGHT_BITS`-bit batch weight."""
    return secrets.randbelow((1 << BATCH_WEIGHT_BITS) - 1) + 1


def scalar_inverse(k: int) -> int:
    """``k**-1 mod r``; ``ValueError`` for a multiple of r (it has no inverse)."""
    if k % CURVE_ORDER == 0:
        raise ValueError("zero has no inverse modulo r")
    return pow(k, -1, CURVE_ORDER)


def scalar_to_bytes(k: int) -> bytes:
    """I2OSP(k, 32) of a scalar ``0 <= k < r``."""
    if not 0 <= k < CURVE_ORDER:
        raise ValueError("scalar out of range")
    return k.to_bytes(SCALAR_SIZE, "big")


def scalar_from_bytes(data: bytes) -> int | None:
    """OS2IP of exactly 32 bytes, or ``None`` unless ``0 < k < r`` (a usable key)."""
    if len(data) != SCALAR_SIZE:
        return None
    k = int.from_bytes(data, "big")
    return k if 0 < k < CURVE_ORDER else None


def keygen(ikm: bytes, key_info: bytes = b"") -> int:
    """Derive a secret key from at least 32 bytes of secret keying material.

    draft-irtf-cfrg-bls-signature-05 §2.3 ``KeyGen`` with SHA-256 and the salt
    ``SHA-256("BLS-SIG-KEYGEN-SALT-")`` -- that is, draft-04's KeyGen, the one
    py_ecc, EIP-2333 (``derive_master_SK``) and Ethereum clients implement::

        salt = "BLS-SIG-KEYGEN-SALT-"; SK = 0
        while SK == 0:
            salt = H(salt)
            PRK = HKDF-Extract(salt, IKM || I2OSP(0, 1))
            OKM = HKDF-Expand(PRK, key_info || I2OSP(L, 2), L)
            SK = OS2IP(OKM) mod r
    """
    if len(ikm) < 32:
        raise ValueError("KeyGen needs at least 32 bytes of keying material")
    salt = _KEYGEN_SALT
    sk = 0
    while sk == 0:
        salt = hashlib.sha256(salt).digest()
        prk = hmac.digest(salt, ikm + b"\x00", "sha256")  # HKDF-Extract
        info = key_info + _KEYGEN_L.to_bytes(2, "big")
        okm, block = b"", b""
        for counter in range(1, -(-_KEYGEN_L // 32) + 1):  # HKDF-Expand
            block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
            okm += block
        sk = int.from_bytes(okm[:_KEYGEN_L], "big") % CURVE_ORDER
    return sk


# --------------------------------------------------------------------------
# Strict point encodings (checked before any library sees the bytes)
# --------------------------------------------------------------------------


def _is_canonical_finite(data: bytes, size: int) -> bool:
    """Steps 1-3 of the module docstring: length, flags, coordinates below p."""
    if len(data) != size:
        return False
    if not data[0] & _FLAG_COMPRESSED or data[0] & _FLAG_INFINITY:
        return False
    for offset in range(0, size, _COORDINATE_SIZE):
        coordinate = int.from_bytes(data[offset : offset + _COORDINATE_SIZE], "big")
        if offset == 0:
            coordinate &= _COORDINATE_MASK  # strip the flags; later words have none
        if coordinate >= FIELD_MODULUS:
            return False
    return True


# --------------------------------------------------------------------------
# The backend interface
# --------------------------------------------------------------------------


class Backend(ABC, Generic[G1T, G2T]):
    """BLS12-381 operations on one library's opaque point types.

    Subclasses supply the primitives (group law, encodings, hashing, pairing
    product); everything built from them -- decoding policy, signing,
    verification, batch verification -- is written once, here, so both
    backends make the same decisions. Points from one backend must never be
    passed to another.
    """

    #: ``"py_ecc"`` or ``"arkworks"``.
    name: BackendName

    # -- primitives ---------------------------------------------------------

    @abstractmethod
    def g1_generator(self) -> G1T:
        """The standard generator of G1."""

    @abstractmethod
    def g2_generator(self) -> G2T:
        """The standard generator of G2."""

    @abstractmethod
    def _hash_to_g1(self, message: bytes, dst: bytes) -> G1T: ...

    @abstractmethod
    def _hash_to_g2(self, message: bytes, dst: bytes) -> G2T: ...

    @abstractmethod
    def g1_compress(self, point: G1T) -> bytes:
        """The 48-byte compressed encoding of a point of G1."""

    @abstractmethod
    def g2_compress(self, point: G2T) -> bytes:
        """The 96-byte compressed encoding of a point of G2."""

    @abstractmethod
    def _g1_decode(self, data: bytes) -> G1T | None:
        """Solve for y and subgroup-check; ``data`` already passed the byte checks."""

    @abstractmethod
    def _g2_decode(self, data: bytes) -> G2T | None:
        """Solve for y and subgroup-check; ``data`` already passed the byte checks."""

    @abstractmethod
    def g1_mul(self, point: G1T, scalar: int) -> G1T:
        """``scalar * point`` (the scalar is reduced modulo r)."""

    @abstractmethod
    def g2_mul(self, point: G2T, scalar: int) -> G2T:
        """``scalar * point`` (the scalar is reduced modulo r)."""

    @abstractmethod
    def g1_add(self, a: G1T, b: G1T) -> G1T:
        """``a + b`` in G1."""

    @abstractmethod
    def g2_add(self, a: G2T, b: G2T) -> G2T:
        """``a + b`` in G2."""

    @abstractmethod
    def g1_neg(self, point: G1T) -> G1T:
        """``-point`` in G1."""

    @abstractmethod
    def g2_neg(self, point: G2T) -> G2T:
        """``-point`` in G2."""

    @abstractmethod
    def _g1_msm(self, points: Sequence[G1T], scalars: Sequence[int]) -> G1T: ...

    @abstractmethod
    def _g2_msm(self, points: Sequence[G2T], scalars: Sequence[int]) -> G2T: ...

    @abstractmethod
    def pairing_product_is_one(self, pairs: Sequence[tuple[G1T, G2T]]) -> bool:
        """Whether ``prod e(P_i, Q_i) == 1`` in GT (one final exponentiation)."""

    # -- built on the primitives, shared by every backend -------------------

    def hash_to_g1(self, message: bytes, dst: bytes) -> G1T:
        """RFC 9380 ``hash_to_curve`` with ``BLS12381G1_XMD:SHA-256_SSWU_RO_`` (§8.8.1).

        ``dst`` is the domain separation tag, 1 to 255 bytes (RFC 9380 §3.1).
        """
        if not 0 < len(dst) <= 255:
            raise ValueError("a domain separation tag has 1 to 255 bytes")
        return self._hash_to_g1(message, dst)

    def hash_to_g2(self, message: bytes, dst: bytes) -> G2T:
        """RFC 9380 ``hash_to_curve`` with ``BLS12381G2_XMD:SHA-256_SSWU_RO_`` (§8.8.2).

        ``dst`` is the domain separation tag, 1 to 255 bytes (RFC 9380 §3.1).
        """
        if not 0 < len(dst) <= 255:
            raise ValueError("a domain separation tag has 1 to 255 bytes")
        return self._hash_to_g2(message, dst)

    def g1_decompress(self, data: bytes) -> G1T | None:
        """Decode a signature or blinded message: a finite point of G1's subgroup, or ``None``."""
        if not _is_canonical_finite(data, G1_COMPRESSED_SIZE):
            return None
        return self._g1_decode(data)

    def g2_decompress(self, data: bytes) -> G2T | None:
        """Decode a public key: a finite point of the order-r subgroup of G2, or ``None``."""
        if not _is_canonical_finite(data, G2_COMPRESSED_SIZE):
            return None
        return self._g2_decode(data)

    def g1_msm(self, points: Sequence[G1T], scalars: Sequence[int]) -> G1T:
        """Multi-scalar multiplication ``sum k_i * P_i`` in G1."""
        if len(points) != len(scalars) or not points:
            raise ValueError("a multi-scalar multiplication needs as many scalars as points")
        return self._g1_msm(points, scalars)

    def g2_msm(self, points: Sequence[G2T], scalars: Sequence[int]) -> G2T:
        """Multi-scalar multiplication ``sum k_i * P_i`` in G2."""
        if len(points) != len(scalars) or not points:
            raise ValueError("a multi-scalar multiplication needs as many scalars as points")
        return self._g2_msm(points, scalars)

    def sk_to_pk(self, sk: int) -> bytes:
        """``SkToPk`` (draft-irtf-cfrg-bls-signature-05 §2.4): ``sk * G2``, compressed."""
        if not 0 < sk < CURVE_ORDER:
            raise ValueError("a secret key is an integer 0 < sk < r")
        return self.g2_compress(self.g2_mul(self.g2_generator(), sk))

    def sign(self, sk: int, message: bytes, dst: bytes) -> bytes:
        """``CoreSign`` (§2.6): ``sk * hash_to_g1(message)``, compressed."""
        if not 0 < sk < CURVE_ORDER:
            raise ValueError("a secret key is an integer 0 < sk < r")
        return self.g1_compress(self.g1_mul(self.hash_to_g1(message, dst), sk))

    def core_verify(self, public_key: G2T, hashed: G1T, signature: G1T) -> bool:
        """``e(signature, G2) == e(hashed, public_key)``, on decoded points.

        Checked as ``e(signature, -G2) * e(hashed, public_key) == 1``: two Miller
        loops and one final exponentiation.
        """
        minus_g2 = self.g2_neg(self.g2_generator())
        return self.pairing_product_is_one([(signature, minus_g2), (hashed, public_key)])

    def verify(self, public_key: bytes, message: bytes, signature: bytes, dst: bytes) -> bool:
        """``CoreVerify`` (§2.7) on encodings: ``False`` for anything malformed or wrong."""
        pk = self.g2_decompress(public_key)
        if pk is None:
            return False
        sig = self.g1_decompress(signature)
        if sig is None:
            return False
        return self.core_verify(pk, self.hash_to_g1(message, dst), sig)

    def batch_verify(self, items: Sequence[tuple[bytes, bytes, bytes]], dst: bytes) -> bool:
        """Verify many ``(public_key, message, signature)`` at once.

        Accepts exactly when every item would pass :meth:`verify`, except with
        probability at most ``2**-128`` per call. With fresh random weights
        ``rho_i`` of 128 bits (from the OS CSPRNG, drawn after the items are
        fixed), it checks::

            e(sum rho_i * S_i, G2) == prod_k e(sum_{i: PK_i = PK_k} rho_i * H_i, PK_k)

        as one product of pairings: one MSM over all signatures, one MSM per
        distinct public key, and ``1 + #keys`` Miller loops with a single final
        exponentiation -- two pairings for a whole process, which has one key:
        one pairing per key, and one for the signatures.

        Why it is sound: every point is decoded and subgroup-checked, so each
        ``delta_i = e(S_i, G2) / e(H_i, PK_i)`` lies in the order-r group GT.
        The check is ``prod delta_i**rho_i == 1``. If some ``delta_j != 1``,
        then for any fixed other weights at most one value of ``rho_j`` modulo
        r satisfies it, and ``rho_j`` is uniform over ``2**128 - 1`` values
        that are distinct modulo r. The weights must be unpredictable to
        whoever produced the signatures; without them, two forgeries
        ``S_1 + D`` and ``S_2 - D`` would cancel out.

        An empty batch holds no claim and is accepted.
        """
        return self.batch_verify_weighted(items, dst, [random_weight() for _ in items])

    def batch_verify_weighted(
        self, items: Sequence[tuple[bytes, bytes, bytes]], dst: bytes, weights: Sequence[int]
    ) -> bool:
        """:meth:`batch_verify` with the caller's weights.

        Sound only when the weights are random and drawn after the items are
        fixed, as :meth:`batch_verify` draws them: callers use that. Public so
        that tests can show why (fixed weights let two errors cancel out)."""
        if len(weights) != len(items):
            raise ValueError("one weight per item")
        if not items:
            return True
        keys: dict[bytes, G2T] = {}
        by_key: dict[bytes, tuple[list[G1T], list[int]]] = {}
        signatures: list[G1T] = []
        for (public_key, message, signature), weight in zip(items, weights, strict=True):
            if public_key not in keys:
                pk = self.g2_decompress(public_key)
                if pk is None:
                    return False
                keys[public_key] = pk
            sig = self.g1_decompress(signature)
            if sig is None:
                return False
            signatures.append(sig)
            hashed, key_weights = by_key.setdefault(public_key, ([], []))
            hashed.append(self.hash_to_g1(message, dst))
            key_weights.append(weight)
        pairs = [(self.g1_msm(signatures, weights), self.g2_neg(self.g2_generator()))]
        for public_key, (hashed, key_weights) in by_key.items():
            pairs.append((self.g1_msm(hashed, key_weights), keys[public_key]))
        return self.pairing_product_is_one(pairs)


AnyBackend: TypeAlias = Backend[Any, Any]


# --------------------------------------------------------------------------
# py_ecc: the reference
# --------------------------------------------------------------------------


class _PyEccBackend(Backend["_PyEccG1", "_PyEccG2"]):
    """py_ecc's optimized BLS12-381 (Jacobian points over its FQ/FQ2 classes).

    py_ecc takes ~1.6 s to import (it precomputes pairing tables), so it is
    imported inside each method: only programs that use this backend pay.
    """

    name: BackendName = "py_ecc"

    def __init__(self) -> None:
        import py_ecc.optimized_bls12_381  # noqa: F401 -- fail now, not on first use

    def g1_generator(self) -> _PyEccG1:
        from py_ecc.optimized_bls12_381.optimized_curve import G1

        return G1

    def g2_generator(self) -> _PyEccG2:
        from py_ecc.optimized_bls12_381.optimized_curve import G2

        return G2

    def _hash_to_g1(self, message: bytes, dst: bytes) -> _PyEccG1:
        from py_ecc.bls.hash_to_curve import hash_to_G1

        # py_ecc annotates the hash as a hash object; it calls what it is given.
        return hash_to_G1(message, dst, hashlib.sha256)  # type: ignore[arg-type]

    def _hash_to_g2(self, message: bytes, dst: bytes) -> _PyEccG2:
        from py_ecc.bls.hash_to_curve import hash_to_G2

        # py_ecc annotates the hash as a hash object; it calls what it is given.
        return hash_to_G2(message, dst, hashlib.sha256)  # type: ignore[arg-type]

    def g1_compress(self, point: _PyEccG1) -> bytes:
        from py_ecc.bls.g2_primitives import G1_to_pubkey

        return bytes(G1_to_pubkey(point))

    def g2_compress(self, point: _PyEccG2) -> bytes:
        from py_ecc.bls.g2_primitives import G2_to_signature

        return bytes(G2_to_signature(point))

    def _g1_decode(self, data: bytes) -> _PyEccG1 | None:
        from py_ecc.bls.g2_primitives import subgroup_check
        from py_ecc.bls.point_compression import decompress_G1
        from py_ecc.bls.typing import G1Compressed

        try:
            point = decompress_G1(G1Compressed(int.from_bytes(data, "big")))
        except ValueError:  # x with no point above it, or bad flags
            return None
        return point if subgroup_check(point) else None

    def _g2_decode(self, data: bytes) -> _PyEccG2 | None:
        from py_ecc.bls.g2_primitives import subgroup_check
        from py_ecc.bls.point_compression import decompress_G2
        from py_ecc.bls.typing import G2Compressed

        half = _COORDINATE_SIZE
        z = (int.from_bytes(data[:half], "big"), int.from_bytes(data[half:], "big"))
        try:
            point = decompress_G2(G2Compressed(z))
        except ValueError:
            return None
        return point if subgroup_check(point) else None

    def g1_mul(self, point: _PyEccG1, scalar: int) -> _PyEccG1:
        from py_ecc.optimized_bls12_381.optimized_curve import multiply

        return multiply(point, scalar % CURVE_ORDER)

    def g2_mul(self, point: _PyEccG2, scalar: int) -> _PyEccG2:
        from py_ecc.optimized_bls12_381.optimized_curve import multiply

        return multiply(point, scalar % CURVE_ORDER)

    def g1_add(self, a: _PyEccG1, b: _PyEccG1) -> _PyEccG1:
        from py_ecc.optimized_bls12_381.optimized_curve import add

        return add(a, b)

    def g2_add(self, a: _PyEccG2, b: _PyEccG2) -> _PyEccG2:
        from py_ecc.optimized_bls12_381.optimized_curve import add

        return add(a, b)

    def g1_neg(self, point: _PyEccG1) -> _PyEccG1:
        from py_ecc.optimized_bls12_381.optimized_curve import neg

        return neg(point)

    def g2_neg(self, point: _PyEccG2) -> _PyEccG2:
        from py_ecc.optimized_bls12_381.optimized_curve import neg

        return neg(point)

    def _g1_msm(self, points: Sequence[_PyEccG1], scalars: Sequence[int]) -> _PyEccG1:
        from py_ecc.optimized_bls12_381.optimized_curve import Z1, add, multiply

        total = Z1
        for point, k in zip(points, scalars, strict=True):
            total = add(total, multiply(point, k % CURVE_ORDER))
        return total

    def _g2_msm(self, points: Sequence[_PyEccG2], scalars: Sequence[int]) -> _PyEccG2:
        from py_ecc.optimized_bls12_381.optimized_curve import Z2, add, multiply

        total = Z2
        for point, k in zip(points, scalars, strict=True):
            total = add(total, multiply(point, k % CURVE_ORDER))
        return total

    def pairing_product_is_one(self, pairs: Sequence[tuple[_PyEccG1, _PyEccG2]]) -> bool:
        from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
        from py_ecc.optimized_bls12_381.optimized_pairing import final_exponentiate, pairing

        product = FQ12.one()
        for p, q in pairs:
            product = product * pairing(q, p, final_exponentiate=False)
        return bool(final_exponentiate(product) == FQ12.one())


# --------------------------------------------------------------------------
# arkworks: the fast one
# --------------------------------------------------------------------------


def _ark_scalar(k: int) -> ark.Scalar:
    # from_le_bytes is ~60x faster than Scalar(int), which goes through a string.
    return ark.Scalar.from_le_bytes((k % CURVE_ORDER).to_bytes(SCALAR_SIZE, "little"))


class _ArkworksBackend(Backend["ark.G1Point", "ark.G2Point"]):
    """py_arkworks_bls12381 (ark-bls12-381 through PyO3).

    Its ``from_compressed_bytes`` checks that the point is on the curve and in
    the subgroup (arkworks ``Validate::Yes``); its ``hash_to_curve`` is the
    RFC 9380 suite (checked against the RFC's vectors in the tests).

    Hashing to G1, the largest cost of checking a credential, is done by blst
    (``pyblst``) where it is installed, with ``blst_hash`` (the default):
    about a third of arkworks' time (docs/spec/credentials.md §5). blst's
    ``hash_to_group`` is the same RFC 9380 suite, cofactor cleared, so its
    point is in the subgroup and is taken into arkworks without the check;
    the tests hold both paths to the RFC's vectors and to py_ecc on random
    messages and tags.
    """

    name: BackendName = "arkworks"

    def __init__(self, *, blst_hash: bool = True) -> None:
        if ark is None:
            raise ImportError(
                "the arkworks backend needs py_arkworks_bls12381: "
                "pip install 'py_arkworks_bls12381>=0.5,<0.6'"
            )
        self._g1 = ark.G1Point()
        self._g2 = ark.G2Point()
        #: who hashes to G1: "blst" or "arkworks"
        self.g1_hasher = "blst" if blst_hash and pyblst is not None else "arkworks"

    def g1_generator(self) -> ark.G1Point:
        return self._g1

    def g2_generator(self) -> ark.G2Point:
        return self._g2

    def _hash_to_g1(self, message: bytes, dst: bytes) -> ark.G1Point:
        if self.g1_hasher == "blst":
            point = pyblst.BlstP1Element().hash_to_group(message, dst)
            return ark.G1Point.from_compressed_bytes_unchecked(point.compress())
        return ark.G1Point.hash_to_curve(message, dst)

    def _hash_to_g2(self, message: bytes, dst: bytes) -> ark.G2Point:
        return ark.G2Point.hash_to_curve(message, dst)

    def g1_compress(self, point: ark.G1Point) -> bytes:
        return bytes(point.to_compressed_bytes())

    def g2_compress(self, point: ark.G2Point) -> bytes:
        return bytes(point.to_compressed_bytes())

    def _g1_decode(self, data: bytes) -> ark.G1Point | None:
        try:
            return ark.G1Point.from_compressed_bytes(data)
        except ValueError:
            return None

    def _g2_decode(self, data: bytes) -> ark.G2Point | None:
        try:
            return ark.G2Point.from_compressed_bytes(data)
        except ValueError:
            return None

    def g1_mul(self, point: ark.G1Point, scalar: int) -> ark.G1Point:
        return point * _ark_scalar(scalar)

    def g2_mul(self, point: ark.G2Point, scalar: int) -> ark.G2Point:
        return point * _ark_scalar(scalar)

    def g1_add(self, a: ark.G1Point, b: ark.G1Point) -> ark.G1Point:
        return a + b

    def g2_add(self, a: ark.G2Point, b: ark.G2Point) -> ark.G2Point:
        return a + b

    def g1_neg(self, point: ark.G1Point) -> ark.G1Point:
        return -point

    def g2_neg(self, point: ark.G2Point) -> ark.G2Point:
        return -point

    def _g1_msm(self, points: Sequence[ark.G1Point], scalars: Sequence[int]) -> ark.G1Point:
        return ark.G1Point.multiexp_unchecked(list(points), [_ark_scalar(k) for k in scalars])

    def _g2_msm(self, points: Sequence[ark.G2Point], scalars: Sequence[int]) -> ark.G2Point:
        return ark.G2Point.multiexp_unchecked(list(points), [_ark_scalar(k) for k in scalars])

    def pairing_product_is_one(self, pairs: Sequence[tuple[ark.G1Point, ark.G2Point]]) -> bool:
        return ark.GT.pairing_check([p for p, _ in pairs], [q for _, q in pairs])


# --------------------------------------------------------------------------
# Choosing a backend
# --------------------------------------------------------------------------

_FACTORIES: Final[dict[BackendName, type[AnyBackend]]] = {
    "py_ecc": _PyEccBackend,
    "arkworks": _ArkworksBackend,
}
_instances: dict[BackendName, AnyBackend] = {}


def get_backend(name: BackendName) -> AnyBackend:
    """The backend called ``name`` (created once), without changing the default.

    ``ImportError`` (with the install hint) when its library is missing.
    """
    if name not in _FACTORIES:
        raise ValueError(f"unknown BLS backend {name!r}; known: {', '.join(_FACTORIES)}")
    if name not in _instances:
        _instances[name] = _FACTORIES[name]()
    return _instances[name]


def arkworks_without_blst() -> AnyBackend:
    """An arkworks backend that hashes to G1 with arkworks itself, as where
    pyblst has no wheel (not the default: for tests and comparisons)."""
    return _ArkworksBackend(blst_hash=False)


def available_backends() -> tuple[BackendName, ...]:
    """The backends whose library is installed, fastest first (nothing is imported)."""
    names: list[BackendName] = []
    if ark is not None:
        names.append("arkworks")
    if importlib.util.find_spec("py_ecc") is not None:
        names.append("py_ecc")
    return tuple(names)


_current: AnyBackend | None = None


def current_backend() -> AnyBackend:
    """The default backend: the fastest available unless a ``use_*`` chose another."""
    global _current
    if _current is None:
        use_fastest()
        assert _current is not None
    return _current


def resolve(backend: AnyBackend | None) -> AnyBackend:
    """``backend``, or the current one where the caller named none."""
    return backend if backend is not None else current_backend()


def use_py_ecc() -> None:
    """Make the pure-Python reference the default."""
    global _current
    _current = get_backend("py_ecc")


def use_arkworks() -> None:
    """Make arkworks the default (``ImportError`` if it is not installed)."""
    global _current
    _current = get_backend("arkworks")


def use_fastest() -> None:
    """Make the fastest installed backend the default (arkworks, else py_ecc)."""
    global _current
    installed = available_backends()
    if not installed:
        raise ImportError(
            "no BLS12-381 library installed: pip install 'py_arkworks_bls12381>=0.5,<0.6' "
            "(fast) or 'py_ecc>=8,<9' (reference)"
        )
    _current = get_backend(installed[0])
