"""The prime-order groups of the key generations: ristretto255 and BLS12-381.

Ballots are encrypted in **ristretto255** (RFC 9496): a group of prime order
``L = 2^252 + 27742317777372353535851937790883648493`` whose 32-byte encodings are
canonical, so a point has exactly one encoding and every decoded point is in the
group (no cofactor, no small-order points to reject by hand). The arithmetic is
libsodium's (``crypto_core_ristretto255_*``, ``crypto_scalarmult_ristretto255*``),
reached through pysodium's handle on the system's libsodium (>= 1.0.18).
docs/guides/dependencies.md says why, and what to watch for:

- libsodium refuses a scalar multiplication whose result is the identity (it
  returns -1). In a group of prime order that happens exactly when the scalar is 0
  mod L or the point is the identity, so :meth:`Ristretto255.mul` answers those
  two cases itself and never asks libsodium. Encrypting a 0 needs ``g^0``.
- ``crypto_scalarmult_ristretto255`` clears the scalar's top bit: scalars are
  always reduced mod L (< 2^253) before they are passed.
- ``crypto_core_ristretto255_is_valid_point`` accepts the identity: callers say
  whether the identity is allowed where they decode (a public key may not be it).
  In libsodium 1.0.18 it also ignores the top bit of the last byte, which RFC 9496
  requires to be 0: :meth:`Ristretto255.decode` checks that bit itself.

Scalars are Python integers mod the group order; points are their canonical
encodings (``bytes``), so equality of points is equality of bytes.

The same distributed key generation (``urne.verifier.secret.dkg``) runs in
BLS12-381 G2 for credential issuers, whose public keys are points of G2:
:class:`BlsG2` gives that group the same face, on top of
``urne.verifier.credentials.bls`` (compressed 96-byte points, subgroup-checked
on decoding); :class:`BlsG1` does the same for G1.
"""

from __future__ import annotations

import ctypes
import hashlib
import secrets
from collections.abc import Sequence
from typing import Final, Protocol

from urne.verifier.errors import FetchError, FormatError

__all__ = [
    "BlsG1",
    "BlsG2",
    "Group",
    "L",
    "Ristretto255",
    "bls12_381_g2",
    "group_named",
    "hash_to_scalar",
    "ristretto255",
]

L: Final = 2**252 + 27742317777372353535851937790883648493


class Group(Protocol):
    """What the key generation and the proofs need of a prime-order group."""

    @property
    def name(self) -> str: ...

    @property
    def order(self) -> int: ...

    @property
    def element_size(self) -> int: ...

    @property
    def identity(self) -> bytes: ...

    @property
    def generator(self) -> bytes: ...

    def decode(self, data: bytes, what: str, *, allow_identity: bool = False) -> bytes:
        """Check an encoding; raises FormatError (code ``bad_point``)."""
        ...

    def base(self, k: int) -> bytes:
        """``g^k`` for the group's generator."""
        ...

    def mul(self, k: int, point: bytes) -> bytes:
        """``point^k``."""
        ...

    def add(self, a: bytes, b: bytes) -> bytes:
        """The group operation."""
        ...

    def sub(self, a: bytes, b: bytes) -> bytes:
        """``a / b``."""
        ...

    def msm(self, points: Sequence[bytes], scalars: Sequence[int]) -> bytes:
        """``prod points[i]^scalars[i]``."""
        ...


def _sodium() -> ctypes.CDLL:
    try:
        import pysodium
    except (ImportError, ValueError, OSError) as exc:  # no libsodium on the system
        raise FetchError(
            "secret ballots need libsodium >= 1.0.18 (Debian and Ubuntu: "
            "apt-get install libsodium23; macOS: brew install libsodium)",
            code="no_libsodium",
        ) from exc
    lib: ctypes.CDLL = pysodium.sodium
    if not hasattr(lib, "crypto_core_ristretto255_add"):
        raise FetchError(
            "secret ballots need libsodium >= 1.0.18 (ristretto255)", code="no_libsodium"
        )
    return lib


class Ristretto255:
    """ristretto255 (RFC 9496) through libsodium; see the module's notes."""

    name: Final = "ristretto255"
    order: Final = L
    element_size: Final = 32
    identity: Final = bytes(32)
    #: RFC 9496's generator (the encoding of edwards25519's base point).
    generator: Final = bytes.fromhex(
        "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
    )

    def __init__(self) -> None:
        self._lib = _sodium()

    # -- encodings -------------------------------------------------------------------

    def decode(self, data: bytes, what: str, *, allow_identity: bool = False) -> bytes:
        if not isinstance(data, bytes) or len(data) != 32:
            raise FormatError(f"{what}: expected a 32-byte ristretto255 point", code="bad_point")
        if data[31] & 0x80:
            # RFC 9496 §4.3.1: a canonical encoding has its top bit clear. libsodium
            # 1.0.18 (Debian 12's) ignores that bit; later releases refuse it.
            raise FormatError(
                f"{what}: not the canonical encoding of a ristretto255 point", code="bad_point"
            )
        if data == self.identity:
            if allow_identity:
                return data
            raise FormatError(f"{what}: the identity is not allowed here", code="bad_point")
        if self._lib.crypto_core_ristretto255_is_valid_point(data) != 1:
            raise FormatError(
                f"{what}: not the canonical encoding of a ristretto255 point", code="bad_point"
            )
        return data

    @staticmethod
    def scalar_bytes(k: int) -> bytes:
        return (k % L).to_bytes(32, "little")

    @staticmethod
    def decode_scalar(data: bytes, what: str) -> int:
        """A canonical 32-byte little-endian scalar (< L)."""
        if not isinstance(data, bytes) or len(data) != 32:
            raise FormatError(f"{what}: expected a 32-byte scalar", code="bad_scalar")
        k = int.from_bytes(data, "little")
        if k >= L:
            raise FormatError(f"{what}: a scalar must be below the group order", code="bad_scalar")
        return k

    # -- arithmetic ------------------------------------------------------------------

    def base(self, k: int) -> bytes:
        k %= L
        if k == 0:
            return self.identity
        out = ctypes.create_string_buffer(32)
        if self._lib.crypto_scalarmult_ristretto255_base(out, k.to_bytes(32, "little")) != 0:
            raise ValueError("ristretto255: base multiplication failed")  # pragma: no cover
        return out.raw

    def mul(self, k: int, point: bytes) -> bytes:
        k %= L
        if k == 0 or point == self.identity:
            return self.identity
        out = ctypes.create_string_buffer(32)
        if self._lib.crypto_scalarmult_ristretto255(out, k.to_bytes(32, "little"), point) != 0:
            raise ValueError("ristretto255: not a valid point")
        return out.raw

    def add(self, a: bytes, b: bytes) -> bytes:
        if a == self.identity:
            return b
        if b == self.identity:
            return a
        out = ctypes.create_string_buffer(32)
        if self._lib.crypto_core_ristretto255_add(out, a, b) != 0:
            raise ValueError("ristretto255: not a valid point")
        return out.raw

    def sub(self, a: bytes, b: bytes) -> bytes:
        if b == self.identity:
            return a
        out = ctypes.create_string_buffer(32)
        if self._lib.crypto_core_ristretto255_sub(out, a, b) != 0:
            raise ValueError("ristretto255: not a valid point")
        return out.raw

    def msm(self, points: Sequence[bytes], scalars: Sequence[int]) -> bytes:
        acc = self.identity
        for p, k in zip(points, scalars, strict=True):
            acc = self.add(acc, self.mul(k, p))
        return acc

    def from_hash(self, digest: bytes) -> bytes:
        """RFC 9496's one-way map from 64 bytes to a point."""
        if len(digest) != 64:
            raise ValueError("from_hash takes 64 bytes")
        out = ctypes.create_string_buffer(32)
        self._lib.crypto_core_ristretto255_from_hash(out, digest)
        return out.raw


class _Bls:
    """A group of BLS12-381 (G1 or G2) with the face of :class:`Group`, on top of
    ``urne.verifier.credentials.bls``: compressed points, subgroup-checked on
    decoding; the identity is the compressed point at infinity (``0xc0`` then
    zeros), accepted only where a caller allows it."""

    name: str
    element_size: int
    _g: str

    def __init__(self) -> None:
        from urne.verifier.credentials import bls

        b = bls.current_backend()
        self._b = b
        self._compress = getattr(b, f"{self._g}_compress")
        self._decompress = getattr(b, f"{self._g}_decompress")
        self._mul = getattr(b, f"{self._g}_mul")
        self._add = getattr(b, f"{self._g}_add")
        self._neg = getattr(b, f"{self._g}_neg")
        self._msm = getattr(b, f"{self._g}_msm")
        self._gen = getattr(b, f"{self._g}_generator")()
        self.order: int = bls.CURVE_ORDER
        self.identity: bytes = bytes([0xC0]) + bytes(self.element_size - 1)
        self.generator: bytes = self._compress(self._gen)
        self._zero = self._mul(self._gen, 0)

    def decode(self, data: bytes, what: str, *, allow_identity: bool = False) -> bytes:
        size, which = self.element_size, self._g.upper()
        if not isinstance(data, bytes) or len(data) != size:
            raise FormatError(f"{what}: expected a {size}-byte {which} point", code="bad_point")
        if data == self.identity and allow_identity:
            return data
        if self._decompress(data) is None:
            raise FormatError(
                f"{what}: not a canonical {which} point of the prime-order subgroup",
                code="bad_point",
            )
        return data

    def _pt(self, data: bytes) -> object:
        p = self._decompress(data)
        if p is None:
            if data == self.identity:
                return self._zero
            raise ValueError(f"BLS12-381 {self._g.upper()}: not a valid point")
        return p

    def base(self, k: int) -> bytes:
        return bytes(self._compress(self._mul(self._gen, k % self.order)))

    def mul(self, k: int, point: bytes) -> bytes:
        return bytes(self._compress(self._mul(self._pt(point), k % self.order)))

    def add(self, a: bytes, b: bytes) -> bytes:
        return bytes(self._compress(self._add(self._pt(a), self._pt(b))))

    def sub(self, a: bytes, b: bytes) -> bytes:
        return bytes(self._compress(self._add(self._pt(a), self._neg(self._pt(b)))))

    def msm(self, points: Sequence[bytes], scalars: Sequence[int]) -> bytes:
        if not points:
            return self.identity
        return bytes(
            self._compress(
                self._msm([self._pt(p) for p in points], [k % self.order for k in scalars])
            )
        )


class BlsG1(_Bls):
    """BLS12-381 G1 (48-byte points)."""

    name = "bls12-381-g1"
    element_size = 48
    _g = "g1"


class BlsG2(_Bls):
    """BLS12-381 G2 (96-byte points): the group of credential issuers' public
    keys (docs/spec/credentials.md), so the group of their key generation."""

    name = "bls12-381-g2"
    element_size = 96
    _g = "g2"


def hash_to_scalar(group: Group, tag: bytes, *parts: bytes) -> int:
    """SHA-512 of a domain tag and length-prefixed parts, reduced mod the order.

    ``SHA-512(len(tag) || tag || len(p1) || p1 || ...)``, each length a 4-byte
    big-endian integer: no two different sequences of parts hash the same bytes.
    The digest is read little-endian, as scalars are; the bias of reducing
    512 bits mod a 253- or 255-bit order is below 2^-250.
    """
    h = hashlib.sha512()
    for p in (tag, *parts):
        h.update(len(p).to_bytes(4, "big"))
        h.update(p)
    return int.from_bytes(h.digest(), "little") % group.order


def random_scalar(group: Group) -> int:
    """A uniform non-zero scalar from the system's CSPRNG."""
    while True:
        k = secrets.randbelow(group.order)
        if k:
            return k


_RISTRETTO: Ristretto255 | None = None


def ristretto255() -> Ristretto255:
    """The process-wide ristretto255 group (libsodium loaded once)."""
    global _RISTRETTO
    if _RISTRETTO is None:
        _RISTRETTO = Ristretto255()
    return _RISTRETTO


_G2: BlsG2 | None = None


def bls12_381_g2() -> BlsG2:
    """The process-wide BLS12-381 G2 group, on the current BLS backend."""
    global _G2
    if _G2 is None:
        _G2 = BlsG2()
    return _G2


def group_named(name: str) -> Ristretto255 | BlsG2:
    """The group a ceremony names: ``ristretto255`` (a secret vote's trustees) or
    ``bls12-381-g2`` (a process's credential issuers)."""
    if name == "ristretto255":
        return ristretto255()
    if name == "bls12-381-g2":
        return bls12_381_g2()
    raise FormatError(f"no group {name!r}", code="bad_group")
