"""A log with a petition, a vote and a budget, many citizens and paper
batches, for the open-data and audit tests."""

from __future__ import annotations

import base64
import json
from concurrent.futures import Future
from dataclasses import dataclass, field

from tests.support.civic import (
    IN_2026,
    Citizen,
    Institution,
    authority_for,
    operator_of,
)
from urne.ledger.civic.opendata import (
    entries_jsonl,
    open_export,
    results_csv_bytes,
)
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.check.opendata import ExportReport, check_export, check_results_csv, parse_header
from urne.verifier.tlog.tiles import TILE_WIDTH

PROCESSES = {"vote": "vote", "pet": "petition", "bud": "budget"}


def assert_proofs_match(log: Log, lines: list[bytes]) -> None:
    size = parse_header(lines[0]).checkpoint.splitlines()[1]
    for line in lines[1:]:
        obj = json.loads(line)
        proof = [base64.b64decode(h) for h in obj["inclusion_proof"]]
        assert proof == log.inclusion_proof(obj["index"], int(size)), obj["index"]


@dataclass
class World:
    """A civic record with the processes of the module docstring, and where
    each of their entries landed."""

    log: Log
    civic: CivicRecord
    inst: Institution
    #: the log indices of each process's entries
    indices: dict[str, list[int]] = field(default_factory=dict)
    citizens: dict[str, list[Citizen]] = field(default_factory=dict)
    pending: list[tuple[str, Future[int]]] = field(default_factory=list)
    others: int = 0
    #: the registration of the institution, once submitted
    registration: Future[int] | None = None

    def submit(self, pid: str | None, leaf: bytes) -> None:
        self.pending.append((pid or "", self.civic.submit(leaf)))

    def open(self, pid: str | None, manifest: bytes) -> None:
        """Submit a manifest with what must precede it: the registration of
        the institution (the first time) and the reservation of the id, which
        count among the process's entries (its export starts with them: the
        registration is in every export of the institution's processes).
        Submitted together, they are decided in that order (by kind)."""
        first = authority_for(
            manifest, operator_of(self.civic), registered=lambda key: self.registration is not None
        )
        if len(first) == 2:
            self.registration = self.civic.submit(first.pop(0))
        assert self.registration is not None
        if pid:
            self.pending.append((pid, self.registration))
        for leaf in [*first, manifest]:
            self.submit(pid, leaf)

    def settle(self) -> None:
        """Wait for what is pending; indices are kept in log order (entries
        submitted together are committed in an order of the log's choosing)."""
        for pid, fut in self.pending:
            index = fut.result()
            if pid:
                self.indices.setdefault(pid, []).append(index)
        for indices in self.indices.values():
            indices.sort()
        self.pending.clear()

    def ballot(self, pid: str, k: int) -> None:
        """A ballot of ``pid``: vote revotes, new petition signers and budget voters."""
        people = self.citizens.setdefault(pid, [])
        if pid == "vote":
            if len(people) < 3:
                people.append(Citizen.enrol(self.inst, pid))
            self.submit(pid, people[k % len(people)].ballot([("a", "b", "c")[k % 3]]))
            return
        citizen = Citizen.enrol(self.inst, pid)
        people.append(citizen)
        if pid == "pet":
            self.submit(pid, citizen.ballot())
        else:
            self.submit(pid, citizen.ballot([("bikes", "bench", "park")[k % 3]]))

    def filler(self, n: int) -> None:
        """``n`` manifests of other processes, between the three's entries."""
        for _ in range(n):
            self.open(None, self.inst.process(f"other-{self.others}", "petition"))
            self.others += 1


def build_world(log: Log, *, fillers: int = 2000, sparse_every: int = 45) -> World:
    """The interleaved log (see the module docstring); ``fillers`` scales it."""
    w = World(log, CivicRecord(log, clock=lambda: IN_2026), Institution())
    for pid, ptype in PROCESSES.items():
        w.open(pid, w.inst.process(pid, ptype))
    w.settle()  # a ballot is checked against its process when submitted
    w.filler(fillers // 7)
    for k in range(40):  # dense: the whole-tile path
        w.ballot(("vote", "vote", "pet", "bud")[k % 4], k)
    for k in range(fillers - fillers // 7):  # sparse: a proof query per entry
        w.filler(1)
        if k % sparse_every == 0:
            w.ballot(("vote", "pet", "bud")[(k // sparse_every) % 3], k)
            # committed before the next fillers are submitted: however fast the
            # submissions, the sequencer's batches do not gather these ballots
            # at the end of a few large batches (entries are decided by kind)
            w.settle()
    w.submit("pet", w.inst.paper("pet", "stand-1", signatures=4))
    w.submit("vote", w.inst.paper("vote", "hall-1", counts={"a": 2, "c": 1}))
    w.submit("bud", w.inst.paper("bud", "hall-1", ballots=[["bikes", "bench"], ["park"]]))
    w.submit("pet", w.inst.close("pet"))
    w.settle()
    # the petition's final result, through its close; the budget stays open
    # (no interim result exists: its results.csv is the provisional recount)
    through = w.indices["pet"][-1]
    w.submit("pet", w.inst.result("pet", through, w.civic.tally("pet", through)))
    w.settle()
    w.filler(3)
    for k in range(30):  # dense again, in the last, partial tile
        w.ballot("vote" if k % 3 else "bud", k)
    w.submit("vote", w.inst.close("vote"))
    w.filler(5)
    w.settle()
    return w


def check_world(w: World) -> dict[str, ExportReport]:
    """Export every process; each export is what the log holds, in order, and
    passes the observer's check; each results.csv is the one the check implies."""
    size = w.log.size
    assert size % TILE_WIDTH != 0 and size > 4 * TILE_WIDTH
    reports = {}
    for pid in PROCESSES:
        export = open_export(w.civic, pid)
        assert export.size == size and export.entries == len(w.indices[pid])
        lines = list(entries_jsonl(export))
        assert [json.loads(x)["index"] for x in lines[1:]] == w.indices[pid]
        assert all(
            json.loads(x)["entry"] == json.loads(w.log.entry(i))
            for x, i in zip(lines[1:], w.indices[pid], strict=True)
        )
        assert_proofs_match(w.log, lines)
        report = check_export(lines, w.log.verifier)
        assert (report.process, report.entries) == (pid, len(w.indices[pid]))
        assert report.tally == w.civic.tally(pid, report.last_index)
        check_results_csv(report, results_csv_bytes(export))
        reports[pid] = report
    return reports
