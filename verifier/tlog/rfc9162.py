"""RFC 9162 §2.1.1 Merkle tree hashing over SHA-256.

The two one-byte prefixes keep a leaf from ever hashing like an interior node
(second-preimage resistance, RFC 9162 §2.1.1). Everything else in Urne takes
these three functions; nothing else hashes tree nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = [
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "empty_root",
    "hash_children",
    "hash_leaf",
    "hash_leaves",
]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

_EMPTY_ROOT = hashlib.sha256(b"").digest()


def hash_leaf(entry: bytes) -> bytes:
    """``MTH({d}) = SHA-256(0x00 || d)``."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def hash_leaves(entries: Iterable[bytes]) -> list[bytes]:
    """``hash_leaf`` of each entry (one call for a batch: the sequencer's hot path)."""
    sha256 = hashlib.sha256
    return [sha256(LEAF_PREFIX + e).digest() for e in entries]


def hash_children(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def empty_root() -> bytes:
    """``MTH({}) = SHA-256()``, the root of the empty tree."""
    return _EMPTY_ROOT
