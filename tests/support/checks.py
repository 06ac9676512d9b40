"""Whole-log invariants shared by the crash and PostgreSQL tests."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from urne.ledger.log import Log
from urne.ledger.log.models import NODE_STRIDE, LogCheckpoint, LogEntry, LogNode
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.proof import verify_consistency


def assert_go_literals(log: Log, v: dict[str, Any]) -> None:
    """The log, holding transparency-dev/merkle's eight test leaves, *generates*
    the roots, subtree hashes and proofs of its Go test tables."""
    for size, root in v["roots_by_tree_size"].items():
        assert log.root(int(size)).hex() == root
    for level, hashes in enumerate(v["node_hashes_by_level"]):
        for idx, h in enumerate(hashes):
            assert log.range_hashes([(idx << level, (idx + 1) << level)])[0].hex() == h
    for p in v["inclusion_probes"]:
        got = log.inclusion_proof(p["leaf_index"], p["tree_size"])
        assert [h.hex() for h in got] == p["proof"]
    for p in v["consistency_probes"]:
        got = log.consistency_proof(p["size1"], p["size2"])
        assert [h.hex() for h in got] == p["proof"]


def assert_log_intact(log: Log, acknowledged: dict[int, bytes], *, since: int = 0) -> int:
    """Every acknowledged entry is at its index; entries are gapless and exactly
    as many as the latest checkpoint says; the stored nodes reproduce the root of
    every signed checkpoint of size >= ``since``, and each is consistent with the
    latest. Returns the size."""
    latest = open_checkpoint(log.checkpoint().text, log.verifier).checkpoint
    size = latest.size
    with log.engine.connect() as conn:
        n, lo, hi = conn.execute(
            sa.select(sa.func.count(), sa.func.min(LogEntry.idx), sa.func.max(LogEntry.idx))
        ).one()
        nodes = conn.execute(sa.select(sa.func.count()).select_from(LogNode)).scalar_one()
        sizes = conn.execute(
            sa.select(LogCheckpoint.size)
            .where(LogCheckpoint.size >= since)
            .order_by(LogCheckpoint.size)
        ).all()
    assert n == size, f"{n} entries stored, checkpoint says {size}"
    if size:
        assert (lo, hi) == (0, size - 1)
    # One row per complete subtree at every stored level, none beyond the checkpoint.
    stored_levels = range(NODE_STRIDE, size.bit_length(), NODE_STRIDE)
    assert nodes == sum(size >> lv for lv in stored_levels)
    stored = log.entries(0, size) if size else []
    for idx, entry in acknowledged.items():
        assert idx < size, f"acknowledged index {idx} lost (size {size})"
        assert stored[idx] == entry, f"entry {idx} altered"
    assert log.root(size) == latest.root
    for (s,) in sizes:
        cp = open_checkpoint(log.checkpoint_at(s).text, log.verifier).checkpoint
        assert log.root(s) == cp.root, f"stored tree disagrees with checkpoint {s}"
        if 0 < s < size:
            verify_consistency(s, size, log.consistency_proof(s, size), cp.root, latest.root)
    return size
