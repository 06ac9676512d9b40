"""Verification of RFC 9162 inclusion and consistency proofs.

Pure functions, written after transparency-dev/merkle ``proof/verify.go``. Each
checks its preconditions before hashing anything -- every hash exactly 32 bytes,
``index < size``, a proof exactly as long as the sizes imply -- and raises a
:class:`~urne.verifier.errors.ProofError` (or :class:`~urne.verifier.errors.FormatError`
for a hash of the wrong length) that says what it got and what it wanted.

Policy (as transparency-dev/merkle today): a consistency proof *from* size 0 is
refused, even to size 0. The empty tree is consistent with everything, so such a
"proof" proves nothing and accepting it only invites mistakes in callers.

References: RFC 9162 §2.1.3.2 (verifying an inclusion proof) and §2.1.4.2
(verifying a consistency proof). The bit-level decomposition below yields the
same accept/reject decisions as the RFC's step-by-step algorithms.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from urne.verifier.errors import FormatError, ProofError
from urne.verifier.tlog.rfc9162 import HASH_SIZE, hash_children

__all__ = [
    "consistency_proof_length",
    "inclusion_proof_length",
    "prefix_root",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise FormatError(f"{what} is {len(value)} bytes, want {HASH_SIZE}", code="bad_hash_length")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _check_hash(f"proof[{i}]", h)


def _decompose_inclusion(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof into its inner part and its right border.

    ``inner`` hashes sit below the point where the paths to ``index`` and to
    ``size - 1`` meet; ``border`` hashes are left siblings above it (one per set
    bit of ``index`` above the inner levels).
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes an inclusion proof for ``index`` in a tree of ``size`` has."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below tree size {size}", code="bad_index")
    inner, border = _decompose_inclusion(index, size)
    return inner + border


def consistency_proof_length(size1: int, size2: int) -> int:
    """How many hashes a consistency proof from ``size1`` to ``size2`` has."""
    _check_consistency_sizes(size1, size2)
    if size1 == size2:
        return 0
    inner, border = _decompose_inclusion(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    start = 0 if size1 == 1 << shift else 1
    return start + inner + border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = hash_children(seed, h) if (index >> i) & 1 == 0 else hash_children(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = hash_children(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = hash_children(h, seed)
    return seed


def _expect_root(what: str, computed: bytes, expected: bytes) -> None:
    if not hmac.compare_digest(computed, expected):
        raise ProofError(
            f"{what} mismatch: proof yields {computed.hex()}, expected {expected.hex()}",
            code="root_mismatch",
        )


def _inner_length(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> int:
    """Check an inclusion proof's shape (index below size, 32-byte hashes, the
    length RFC 9162 gives); how many of its hashes lie inside the perfect
    subtree that holds the leaf (the rest are the right border's)."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below tree size {size}", code="bad_index")
    _check_hash("leaf hash", leaf_hash)
    _check_proof_hashes(proof)
    inner, border = _decompose_inclusion(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof for index {index} in size {size} has {len(proof)} hashes, "
            f"want {inner + border}",
            code="bad_proof_length",
        )
    return inner


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root implied by ``proof`` that the leaf at ``index`` is in a tree of ``size``."""
    inner = _inner_length(leaf_hash, index, size, proof)
    res = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def prefix_root(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root of the tree of the first ``index + 1`` leaves, read from an
    inclusion proof of the leaf at ``index`` in a tree of ``size`` (check the
    proof first, with :func:`verify_inclusion`).

    Every left sibling on a leaf's path is a perfect subtree of the leaves
    before it, and together they are exactly the maximal perfect subtrees
    that tile ``[0, index)``: the same nodes whatever the tree's size. In the
    tree of size ``index + 1`` the leaf is the last one, so its path holds
    those left siblings alone, and hashing them in over the leaf gives the
    root."""
    inner = _inner_length(leaf_hash, index, size, proof)
    lefts = [h for k, h in enumerate(proof[:inner]) if (index >> k) & 1]
    return _chain_border_right(leaf_hash, [*lefts, *proof[inner:]])


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that the leaf with ``leaf_hash`` is at ``index`` in the tree of ``size``
    with ``root`` (RFC 9162 §2.1.3.2). Returns nothing; raises on failure."""
    _check_hash("root", root)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    _expect_root("root", computed, root)


def _check_consistency_sizes(size1: int, size2: int) -> None:
    if size1 < 0 or size2 < 0:
        raise ProofError(f"tree sizes must not be negative, got {size1} and {size2}")
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) is smaller than size1 ({size1})", code="bad_size")
    if size1 == 0:
        raise ProofError(
            "a consistency proof from size 0 proves nothing and is refused", code="bad_size"
        )


def _check_equal_sizes(size: int, proof: Sequence[bytes]) -> None:
    if proof:
        raise ProofError(
            f"sizes are equal ({size}) but the proof has {len(proof)} hashes, want 0",
            code="bad_proof_length",
        )


def root_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> bytes:
    """The root of size ``size2`` implied by ``proof``, after checking that the
    same proof reproduces ``root1`` for ``size1`` (RFC 9162 §2.1.4.2)."""
    _check_consistency_sizes(size1, size2)
    if size1 == size2:
        _check_equal_sizes(size1, proof)
        return root1
    _check_hash("root1", root1)
    _check_proof_hashes(proof)
    if not proof:
        raise ProofError(
            f"empty consistency proof from size {size1} to {size2}", code="bad_proof_length"
        )

    inner, border = _decompose_inclusion(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros of size1
    inner -= shift
    # The proof starts with the hash of the subtree of size 2**shift that ends
    # the old tree, unless the old tree is exactly that subtree.
    if size1 == 1 << shift:
        seed, rest = root1, proof
    else:
        seed, rest = proof[0], proof[1:]
    if len(rest) != inner + border:
        want = len(proof) - len(rest) + inner + border
        raise ProofError(
            f"consistency proof from {size1} to {size2} has {len(proof)} hashes, want {want}",
            code="bad_proof_length",
        )
    mask = (size1 - 1) >> shift
    hash1 = _chain_inner_right(seed, rest[:inner], mask)
    hash1 = _chain_border_right(hash1, rest[inner:])
    _expect_root("root1", hash1, root1)
    hash2 = _chain_inner(seed, rest[:inner], mask)
    return _chain_border_right(hash2, rest[inner:])


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size1`` and ``root1`` is a prefix of the tree of
    ``size2`` and ``root2`` (RFC 9162 §2.1.4.2). Returns nothing; raises on failure."""
    _check_consistency_sizes(size1, size2)
    if size1 == size2:
        # Nothing is hashed: the claim is only that the two roots are the same
        # (transparency-dev/merkle compares them as given, whatever their length).
        _check_equal_sizes(size1, proof)
        _expect_root("root", root1, root2)
        return
    _check_hash("root2", root2)
    computed = root_from_consistency_proof(size1, size2, proof, root1)
    _expect_root("root2", computed, root2)
