"""Tree arithmetic for a log stored as complete subtrees (the ledger stores, the auditor rebuilds).

A *node* ``(level, index)`` is the complete subtree of ``2**level`` leaves that
starts at leaf ``index << level``. The log stores the hash of every node once it
is complete (the leaf hashes are the level-0 nodes), which makes:

- an append O(log n): :class:`CompactRange` keeps the right border of the tree
  in memory and hands each newly completed node to a callback that stores it
  (as transparency-dev/merkle ``compact/range.go``);
- any proof O(log n) reads: an RFC 9162 proof is a list of hashes of ranges
  ``[begin, end)`` of leaves (RFC 9162 §2.1.3.1, §2.1.4.1), each range is covered
  by at most ~log n complete nodes (:func:`range_nodes`), and the range's hash is
  those nodes folded from the right. The tree is never rebuilt.

All functions are pure; the storage layer decides how nodes are fetched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from urne.verifier.tlog.rfc9162 import NODE_PREFIX, empty_root, hash_children

__all__ = [
    "CompactRange",
    "Node",
    "appended_nodes",
    "consistency_ranges",
    "fold_range",
    "hash_ranges",
    "inclusion_proof_from_nodes",
    "inclusion_ranges",
    "nodes_for_ranges",
    "range_nodes",
]

Node = tuple[int, int]
"""``(level, index)`` of a complete subtree."""

Range = tuple[int, int]
"""``[begin, end)`` of leaf indices."""


def _largest_power_of_two_below(n: int) -> int:
    """The ``k`` of RFC 9162 §2.1.1: largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(begin: int, end: int) -> list[Node]:
    """The complete subtrees that exactly cover ``[begin, end)``, left to right.

    Each step takes the largest subtree that is aligned at ``begin`` and fits.
    For a range that starts at 0, or at a multiple of the next power of two
    above its length (every range an RFC 9162 proof uses), the nodes shrink from
    left to right and the range's Merkle hash is their right fold.
    """
    if not 0 <= begin <= end:
        raise ValueError(f"bad range [{begin}, {end})")
    nodes: list[Node] = []
    while begin < end:
        fit = (end - begin).bit_length() - 1
        level = fit if begin == 0 else min(fit, (begin & -begin).bit_length() - 1)
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """Merkle hash of a range from its covering node hashes (left to right)."""
    if not hashes:
        return empty_root()
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hash_children(h, acc)
    return acc


def inclusion_ranges(index: int, size: int, *, start: int = 0) -> list[Range]:
    """The leaf ranges whose hashes form the inclusion proof of ``index`` in a
    tree of ``size`` (RFC 9162 §2.1.3.1 ``PATH(m, D[n])``), nearest first.

    With ``start``, the tree is the subtree ``[start, size)`` (``start`` a
    multiple of the power of two at or above its length), as in the subtree
    inclusion proofs of draft-ietf-plants-merkle-tree-certs.
    """
    if not start <= index < size:
        raise ValueError(f"index {index} is not in [{start}, {size})")
    out: list[Range] = []
    begin, end = start, size
    while end - begin > 1:
        k = _largest_power_of_two_below(end - begin)
        if index < begin + k:
            out.append((begin + k, end))
            end = begin + k
        else:
            out.append((begin, begin + k))
            begin += k
    out.reverse()
    return out


def consistency_ranges(size1: int, size2: int) -> list[Range]:
    """The leaf ranges whose hashes form the consistency proof from ``size1`` to
    ``size2`` (RFC 9162 §2.1.4.1 ``PROOF(m, D[n])``), in proof order."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from {size1} to {size2}")
    out: list[Range] = []
    begin, end, whole = 0, size2, True
    while size1 != end:
        k = _largest_power_of_two_below(end - begin)
        if size1 - begin <= k:
            out.append((begin + k, end))
            end = begin + k
        else:
            out.append((begin, begin + k))
            begin += k
            whole = False
    if not whole:
        out.append((begin, end))
    out.reverse()
    return out


def nodes_for_ranges(ranges: Iterable[Range]) -> list[list[Node]]:
    """The covering nodes of each range, for one batched read of all of them."""
    return [range_nodes(b, e) for b, e in ranges]


def hash_ranges(covers: Sequence[Sequence[Node]], lookup: Mapping[Node, bytes]) -> list[bytes]:
    """Hashes of ranges given their covering nodes and the fetched node hashes."""
    return [fold_range([lookup[n] for n in cover]) for cover in covers]


class CompactRange:
    """The right border of a tree: the hashes of :func:`range_nodes` ``(0, size)``.

    ``append`` costs O(1) amortised hashing and O(log n) worst case, never
    touches storage, and reports each completed node to ``emit`` (the leaf
    itself first, as the level-0 node).
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a compact range of size {size} needs {size.bit_count()} hashes, got {len(hashes)}"
            )
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf_hash: bytes, emit: Callable[[int, int, bytes], None]) -> None:
        index = self.size
        h = leaf_hash
        emit(0, index, h)
        level = 0
        hashes = self.hashes
        while index & 1:
            h = hash_children(hashes.pop(), h)
            level += 1
            index >>= 1
            emit(level, index, h)
        hashes.append(h)
        self.size += 1

    def extend(self, leaf_hashes: Sequence[bytes], stride: int) -> list[tuple[int, int, bytes]]:
        """Append many leaves; returns the completed nodes ``(level, index, hash)``
        whose level is a positive multiple of ``stride`` (what the log stores).

        The same arithmetic as :meth:`append`, without a call per node: this is
        the sequencer's hot loop.
        """
        out: list[tuple[int, int, bytes]] = []
        hashes, size = self.hashes, self.size
        sha256, prefix = hashlib.sha256, NODE_PREFIX  # hash_children, inlined
        for h in leaf_hashes:
            index, level = size, 0
            while index & 1:
                h = sha256(prefix + hashes.pop() + h).digest()
                level += 1
                index >>= 1
                if level % stride == 0:
                    out.append((level, index, h))
            hashes.append(h)
            size += 1
        self.size = size
        return out

    def root(self) -> bytes:
        return fold_range(self.hashes)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.hashes)


def appended_nodes(border: CompactRange, leaf_hashes: Sequence[bytes]) -> dict[Node, bytes]:
    """The nodes that prove the leaves just appended to a tree, without storage.

    ``border`` is the tree's right border before the append (size ``first``);
    ``leaf_hashes`` are the appended leaves. Returns the border's nodes and
    every complete node of the new tree (size ``first + len(leaf_hashes)``)
    that holds an appended leaf: about ``2 * len(leaf_hashes)`` hashes, made
    with one hash per new node. That is every node an inclusion proof of an
    appended leaf in the new tree can name (:func:`inclusion_proof_from_nodes`):

    - a node right of the leaf lies after ``first``: it holds appended leaves;
    - a node left of the leaf that holds no appended leaf is a whole subtree of
      ``[0, first)`` whose parent (on the leaf's path) does hold one, so it is
      one of the maximal subtrees of ``[0, first)``: a node of ``border``.

    The sequencer uses it to answer each submission with its receipt from what
    it has just committed, with no read.
    """
    first = border.size
    size = first + len(leaf_hashes)
    nodes: dict[Node, bytes] = dict(zip(range_nodes(0, first), border.hashes, strict=True))
    nodes.update(((0, first + i), h) for i, h in enumerate(leaf_hashes))
    sha256, prefix = hashlib.sha256, NODE_PREFIX  # hash_children, inlined
    level = 1
    while (size >> level) > (first >> level):
        below = level - 1
        for j in range(first >> level, size >> level):
            left, right = nodes[(below, 2 * j)], nodes[(below, 2 * j + 1)]
            nodes[(level, j)] = sha256(prefix + left + right).digest()
        level += 1
    return nodes


def inclusion_proof_from_nodes(index: int, size: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof of ``index`` in the tree of ``size``,
    from node hashes at hand (for example :func:`appended_nodes`); a missing
    node raises ``KeyError``."""
    return [
        fold_range([nodes[n] for n in range_nodes(b, e)]) for b, e in inclusion_ranges(index, size)
    ]
