"""drand's public randomness beacon, as a sortition uses it (docs/spec/sortition.md §3).

A drand network's nodes jointly hold a threshold BLS key and sign each round
number when its time comes; nobody, not even a node alone, knows a round's
signature before a threshold of them release it. Urne accepts the *quicknet*
network (``bls-unchained-g1-rfc9380``): a round is released every
:data:`QUICKNET.period` seconds from :data:`QUICKNET.genesis`, its signature is
a BLS signature on G1 (the minimal-signature-size variant, as Urne's
credentials) of ``SHA-256(round as 8 bytes, big-endian)`` under the network's
G2 public key with the domain separation tag of RFC 9380's G1 suite, and its
randomness is ``SHA-256(signature)``.

Verification goes through :mod:`urne.verifier.credentials.bls`, the one door
to the pairing libraries: the signature is decoded strictly (compressed,
canonical, in the subgroup) before the pairing check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from urne.verifier.credentials import bls

__all__ = ["NETWORKS", "QUICKNET", "Network", "randomness", "round_message", "verify_round"]


@dataclass(frozen=True, slots=True)
class Network:
    """A drand network, as its ``/info`` document publishes it."""

    name: str
    chain_hash: str
    public_key: bytes
    genesis: int
    period: int
    scheme: str
    dst: bytes

    def round_time(self, round_: int) -> int:
        """The POSIX time at which ``round_`` is released (round 1 at genesis)."""
        return self.genesis + (round_ - 1) * self.period

    def round_at(self, posix: int) -> int:
        """The last round released at or before ``posix`` (0 before genesis)."""
        if posix < self.genesis:
            return 0
        return (posix - self.genesis) // self.period + 1

    def round_iso(self, round_: int) -> str:
        """:meth:`round_time` as ``YYYY-MM-DDTHH:MM:SSZ``."""
        t = datetime.fromtimestamp(self.round_time(round_), UTC)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")


#: drand's quicknet, run by the League of Entropy since 2023-08-23
#: (https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/info).
QUICKNET: Final = Network(
    name="quicknet",
    chain_hash="52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    public_key=bytes.fromhex(
        "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
        "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
        "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
    ),
    genesis=1692803367,
    period=3,
    scheme="bls-unchained-g1-rfc9380",
    dst=b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_",
)

#: The networks a sortition may name, by chain hash.
NETWORKS: Final = {QUICKNET.chain_hash: QUICKNET}


def round_message(round_: int) -> bytes:
    """What an unchained network signs for a round: SHA-256 of its number as
    8 bytes, big-endian."""
    return hashlib.sha256(round_.to_bytes(8, "big")).digest()


def randomness(signature: bytes) -> bytes:
    """A round's randomness: SHA-256 of its signature."""
    return hashlib.sha256(signature).digest()


def verify_round(network: Network, round_: int, signature: bytes) -> bool:
    """Whether ``signature`` is ``network``'s signature of ``round_``; never
    raises on malformed input."""
    if not 1 <= round_ < 2**64 or len(signature) != bls.G1_COMPRESSED_SIZE:
        return False
    return bls.current_backend().verify(
        network.public_key, round_message(round_), signature, network.dst
    )
