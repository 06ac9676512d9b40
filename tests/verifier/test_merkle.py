"""The ledger's tree arithmetic against the recursive RFC 9162 reference and the
accumulated subtree vectors of draft-ietf-plants-merkle-tree-certs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import reference as R
from tests.support.paths import load_vector
from urne.verifier.tlog import merkle
from urne.verifier.tlog.rfc9162 import hash_leaf


def _store(entries: list[bytes]) -> tuple[merkle.CompactRange, dict[merkle.Node, bytes]]:
    nodes: dict[merkle.Node, bytes] = {}
    cr = merkle.CompactRange()
    for e in entries:
        cr.append(hash_leaf(e), lambda lv, ix, h: nodes.__setitem__((lv, ix), h))
    return cr, nodes


def _hash(nodes: dict[merkle.Node, bytes], ranges: list[tuple[int, int]]) -> list[bytes]:
    return merkle.hash_ranges(merkle.nodes_for_ranges(ranges), nodes)


def test_compact_range_emits_every_complete_subtree_once() -> None:
    seen: list[merkle.Node] = []
    cr = merkle.CompactRange()
    for i in range(37):
        cr.append(hash_leaf(bytes([i])), lambda lv, ix, _h: seen.append((lv, ix)))
    assert len(seen) == len(set(seen))
    # Every complete subtree of 37 leaves: 37 + 18 + 9 + 4 + 2 + 1.
    assert sorted(seen) == sorted((lv, ix) for lv in range(6) for ix in range(37 >> lv))
    assert cr.size == 37 and len(cr.hashes) == (37).bit_count()


def test_compact_range_refuses_inconsistent_border() -> None:
    with pytest.raises(ValueError, match="size 4 needs 1 hashes, got 2"):
        merkle.CompactRange(4, [b"x" * 32, b"y" * 32])


@given(
    st.integers(min_value=0, max_value=200).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.binary(max_size=8), min_size=n, max_size=n))
    )
)
def test_roots_match_reference(case: tuple[int, list[bytes]]) -> None:
    n, entries = case
    cr, nodes = _store(entries)
    assert cr.root() == R.mth(entries)
    assert _hash(nodes, [(0, n)])[0] == R.mth(entries)


@given(st.data())
def test_proofs_match_reference(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=300))
    entries = [i.to_bytes(4, "big") for i in range(n)]
    _, nodes = _store(entries)
    m = data.draw(st.integers(min_value=0, max_value=n - 1))
    assert _hash(nodes, merkle.inclusion_ranges(m, n)) == R.path(m, entries)
    m1 = data.draw(st.integers(min_value=1, max_value=n))
    assert _hash(nodes, merkle.consistency_ranges(m1, n)) == R.proof(m1, entries)


def _valid_subtree(start: int, end: int) -> bool:
    if start == 0 or start == end:
        return True
    return start % (1 << (end - start - 1).bit_length()) == 0


def test_mtc_accumulated_subtree_vectors() -> None:
    """Subtree hashes and subtree inclusion proofs for every valid subtree of a
    130-leaf tree, folded into one rolling SHA-256 (transparency-dev/merkle
    testonly/vectors_test.go): they check root and audit-path generation from
    stored nodes for every size and every offset."""
    v = load_vector("rfc9162/mtc_subtree_accumulated_vectors.json")
    n = v["max_size"]
    _, nodes = _store([bytes([i]) for i in range(n)])

    acc = hashlib.sha256()
    for end in range(n + 1):
        for start in range(end + 1):
            if _valid_subtree(start, end):
                h = _hash(nodes, [(start, end)])[0]
                acc.update(b"[%d, %d) %s\n" % (start, end, h.hex().encode()))
    assert acc.hexdigest() == v["vectors"]["subtree_hash"]["want"]

    acc = hashlib.sha256()
    for end in range(1, n + 1):
        for start in range(end):
            if not _valid_subtree(start, end):
                continue
            for index in range(start, end):
                proof = _hash(nodes, merkle.inclusion_ranges(index, end, start=start))
                line = f"{index} [{start}, {end})" + "".join(f" {h.hex()}" for h in proof)
                acc.update(line.encode() + b"\n")
    assert acc.hexdigest() == v["vectors"]["subtree_inclusion"]["want"]


def test_range_nodes_cover_exactly() -> None:
    for begin in range(0, 40):
        for end in range(begin, 70):
            covered: list[int] = []
            for lv, ix in merkle.range_nodes(begin, end):
                covered.extend(range(ix << lv, (ix + 1) << lv))
            assert covered == list(range(begin, end))


@given(st.lists(st.integers(min_value=1, max_value=70), min_size=1, max_size=8))
def test_extend_equals_append_at_stored_levels(batches: list[int]) -> None:
    """The sequencer's batch path emits exactly the nodes append emits at the
    stored levels, and leaves the same border."""
    a, b = merkle.CompactRange(), merkle.CompactRange()
    seen: list[tuple[int, int, bytes]] = []
    emitted: list[tuple[int, int, bytes]] = []
    n = 0
    for k in batches:
        leaves = [hash_leaf(n.to_bytes(4, "big") + bytes([i])) for i in range(k)]
        for lh in leaves:
            a.append(lh, lambda lv, ix, h: seen.append((lv, ix, h)))
        emitted += b.extend(leaves, 4)
        n += k
    assert emitted == [x for x in seen if x[0] > 0 and x[0] % 4 == 0]
    assert (a.size, a.hashes) == (b.size, b.hashes)


def test_appended_nodes_prove_every_appended_leaf_as_the_reference() -> None:
    """Every (size before, batch length) up to 40 + 40: the proofs made from the
    border and the batch alone equal the RFC's PATH, and a leaf from before the
    batch cannot be proved from them (its proof needs nodes the batch lacks)."""
    leaves = [b"leaf %d" % i for i in range(80)]
    for first in range(41):
        border, _ = _store(leaves[:first])
        for n in range(1, 41):
            size = first + n
            nodes = merkle.appended_nodes(border, [hash_leaf(e) for e in leaves[first:size]])
            for i in range(first, size):
                want = R.path(i, leaves[:size])
                assert merkle.inclusion_proof_from_nodes(i, size, nodes) == want, (first, n, i)
            if first >= 2:
                with pytest.raises(KeyError):
                    merkle.inclusion_proof_from_nodes(0, size, nodes)


def test_appended_nodes_leave_the_border_alone() -> None:
    border, _ = _store([b"a", b"b", b"c"])
    before = (border.size, list(border.hashes))
    merkle.appended_nodes(border, [hash_leaf(b"d")])
    assert (border.size, border.hashes) == before
