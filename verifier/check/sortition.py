"""Replaying a sortition from its process's open data and its pool file
(docs/spec/sortition.md §6): the check ``urne-verify sortition`` runs, and
the computation the institution's ``urne process draw`` makes before it signs.

The export (``entries.jsonl``, checked in full by
:func:`urne.verifier.check.opendata.check_export`) gives the manifest, the
log's root just after it (from the manifest's inclusion proof) and, once
drawn, the draw entry; the pool file must hash to the manifest's commitment.
The seed then follows from the beacon's signature, and the panel from the
seed: a draw entry that names another panel, or the same panel from another
attempt, is refused with the entry and its inclusion proof as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from urne.verifier.check.opendata import ExportReport
from urne.verifier.civic.beacon import NETWORKS, randomness, verify_round
from urne.verifier.civic.entries import Draw, Member, Process, SortitionRule
from urne.verifier.civic.process import EntryRefused
from urne.verifier.civic.sortition import (
    Outcome,
    SortitionImpossible,
    draw,
    parse_pool,
    seed,
)
from urne.verifier.errors import VerificationError

__all__ = ["Replay", "SortitionMismatch", "compute_draw", "replay"]


class SortitionMismatch(EntryRefused):
    """A draw entry whose panel is not the one the pool and the seed give."""

    code = "wrong_panel"

    def __init__(self, message: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        #: the draw entry, its inclusion proof, the signed checkpoint, what was computed
        self.evidence = evidence or {}


@dataclass(frozen=True)
class Replay:
    """A draw computed from the log and the pool."""

    process: Process
    rule: SortitionRule
    #: the log's size and root just after the manifest
    size: int
    root: bytes
    randomness: bytes
    seed: bytes
    outcome: Outcome
    panel: tuple[Member, ...]


def _sortition(report: ExportReport) -> tuple[Process, SortitionRule, int, bytes]:
    st = report.state
    if st is None or report.at_manifest is None:  # check_export sets both
        raise VerificationError("the export was not checked", code="no_export_checked")
    p = st.process
    if not isinstance(p.rule, SortitionRule):
        raise EntryRefused(f"process {p.id!r} is a {p.type}, not a sortition", code="not_sortition")
    size, root = report.at_manifest
    return p, p.rule, size, root


def compute_draw(report: ExportReport, pool_data: bytes, signature: bytes) -> Replay:
    """The panel the pool and the beacon's ``signature`` (of the manifest's
    round) give; raises ``bad_beacon``, ``pool_mismatch``, ``bad_pool`` or
    ``sortition_impossible``."""
    p, rule, size, root = _sortition(report)
    network = NETWORKS[rule.chain]
    if not verify_round(network, rule.round, signature):
        raise EntryRefused(
            f"this is not drand {network.name}'s signature of round {rule.round}",
            code="bad_beacon",
        )
    pool = parse_pool(pool_data, rule)
    r = randomness(signature)
    s = seed(p.id, rule.round, r, size, root)
    outcome = draw(pool, rule, s)
    return Replay(p, rule, size, root, r, s, outcome, outcome.members(pool, rule))


def replay(report: ExportReport, pool_data: bytes) -> Replay:
    """Replay the draw on the log: the panel the draw entry names must be
    the one computed (:class:`SortitionMismatch` otherwise, whose evidence is
    the draw entry, its inclusion proof and the signed checkpoint)."""
    st = report.state
    p, _, _, _ = _sortition(report)
    found: tuple[int, Draw] | None = None if st is None else st.draw
    if found is None:
        raise EntryRefused(f"process {p.id!r} has not been drawn yet", code="not_drawn")
    index, d = found
    evidence = {
        "entry": (report.draw_line or {}).get("entry"),
        "inclusion_proof": (report.draw_line or {}).get("inclusion_proof"),
        "checkpoint": report.checkpoint.signed,
        "index": index,
    }
    try:
        got = compute_draw(report, pool_data, d.signature)
    except SortitionImpossible as exc:  # no panel at all: the one on the log is not it
        raise SortitionMismatch(
            f"the draw at index {index} names a panel, but the pool and the seed give none: {exc}",
            evidence,
        ) from exc
    if got.panel != d.panel or got.outcome.attempt != d.attempt:
        first = next(
            (k for k, (a, b) in enumerate(zip(got.panel, d.panel, strict=False)) if a != b),
            min(len(got.panel), len(d.panel)),
        )
        raise SortitionMismatch(
            f"the draw at index {index} names another panel than the pool and the seed give "
            f"(first difference at seat {first + 1}; attempt {d.attempt} named, "
            f"{got.outcome.attempt} computed)",
            {
                **evidence,
                "seed": got.seed.hex(),
                "computed_attempt": got.outcome.attempt,
                "computed_panel": [m.id for m in got.panel],
            },
        )
    return got
