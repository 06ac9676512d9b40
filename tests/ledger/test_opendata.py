"""A process as open data (``urne.ledger.civic.opendata``): ``entries.jsonl`` and
``results.csv`` of petitions, votes and budgets, on SQLite and PostgreSQL.

The log holds a few thousand entries: three processes whose entries are
interleaved with each other and with many other processes' manifests, so a
process spans several tiles, some holding many of its entries (proofs
computed from the tile's leaves) and some only a few (one proof query per
entry), and the checkpoint's size is not a multiple of 256. Every line's proof
is compared with ``Log.inclusion_proof``, and every export is checked end to
end by ``urne.verifier.check.opendata.check_export``, as an observer would.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.world import PROCESSES, World, build_world, check_world
from urne.ledger.civic.opendata import (
    entries_jsonl,
    export_process,
    open_export,
    process_outcome,
    results_csv_bytes,
    tile_lines,
)
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.check.opendata import check_export, check_results_csv, parse_header
from urne.verifier.civic.process import EntryRefused
from urne.verifier.tlog.tiles import TILE_WIDTH

IN_2026 = datetime(2026, 6, 1, tzinfo=UTC)


def lines_of(log: Log, pid: str) -> list[bytes]:
    return list(entries_jsonl(open_export(log.admission, pid)))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("opendata")
    with Log.open(
        f"sqlite:///{tmp / 'log.db'}",
        key_dir=tmp / "keys",
        origin="opendata.example/log",
        batch_wait=0.01,
    ) as log:
        yield build_world(log)


def test_the_processes_span_several_tiles_dense_and_sparse(world: World) -> None:
    for pid in PROCESSES:
        tiles = [i // TILE_WIDTH for i in world.indices[pid]]
        per_tile = [tiles.count(t) for t in sorted(set(tiles))]
        assert len(per_tile) >= 5, pid
        assert max(per_tile) >= 8 and min(per_tile) < 8, (pid, per_tile)
    last_tile = world.log.size // TILE_WIDTH
    assert sum(i // TILE_WIDTH == last_tile for i in world.indices["vote"]) >= 8


def test_exports_are_complete_proven_and_checked(world: World) -> None:
    reports = check_world(world)
    pet, vote, bud = reports["pet"], reports["vote"], reports["bud"]
    assert pet.outcome is not None and pet.outcome.status == "published"
    assert pet.results == [(world.indices["pet"][-1], world.indices["pet"][-2])]
    assert pet.credentials_checked == len(world.citizens["pet"])
    assert vote.outcome is not None and vote.outcome.status == "provisional"
    assert vote.outcome.through == world.indices["vote"][-1] == vote.last_index
    assert vote.credentials_checked == sum(
        json.loads(world.log.entry(i))["kind"] == "ballot" for i in world.indices["vote"]
    )
    # still open, so no result yet: the CSV is the recount so far
    assert bud.outcome is not None and bud.outcome.status == "provisional"
    assert bud.outcome.through == bud.last_index and bud.results == []


def test_tile_batched_proofs_equal_the_log_proofs_for_every_index(world: World) -> None:
    """Every index of the log, in whole tiles (the leaves' path) and alone
    (the per-entry path), against ``Log.inclusion_proof``."""
    log, size = world.log, world.log.size
    for begin in range(0, size, TILE_WIDTH):
        whole = list(range(begin, min(begin + TILE_WIDTH, size)))
        lines = list(tile_lines(log, size, whole))
        assert [json.loads(x)["index"] for x in lines] == whole
        for line in lines:
            obj = json.loads(line)
            proof = [base64.b64decode(h) for h in obj["inclusion_proof"]]
            assert proof == log.inclusion_proof(obj["index"], size), obj["index"]
    # smaller trees too: sizes inside a tile and on its boundary
    for small in (1, 2, 255, 256, 257, 700):
        every = list(range(small - min(small, 40), small))
        for line in tile_lines(log, small, [i for i in every if i // 256 == every[-1] // 256]):
            obj = json.loads(line)
            proof = [base64.b64decode(h) for h in obj["inclusion_proof"]]
            assert proof == log.inclusion_proof(obj["index"], small), (small, obj["index"])


def test_files_of_a_directory_and_their_pinning(world: World, tmp_path: Path) -> None:
    out = export_process(world.civic, "pet", tmp_path / "pet")
    assert out.entries_path.name == "entries.jsonl" and out.results_path.name == "results.csv"
    assert out.size == world.log.size and out.entries == len(world.indices["pet"])
    assert out.status == "published"
    assert out.entries_path.read_bytes() == b"".join(lines_of(world.log, "pet"))
    with out.entries_path.open("rb") as fh:
        report = check_export(fh, world.log.verifier)
    check_results_csv(report, out.results_path.read_bytes())
    assert sorted(p.name for p in (tmp_path / "pet").iterdir()) == ["entries.jsonl", "results.csv"]
    with pytest.raises(EntryRefused) as exc:
        export_process(world.civic, "nope", tmp_path / "nope")
    assert exc.value.code == "unknown_process"


def test_an_export_is_pinned_while_the_log_grows(tmp_path: Path) -> None:
    """Ballots accepted while an export streams lie beyond its checkpoint: the
    export is exactly what it was when opened, and still checks."""
    with Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", batch_wait=0.01) as log:
        w = build_world(log, fillers=300, sparse_every=20)
        export = open_export(w.civic, "bud")
        before = list(entries_jsonl(export))
        stream = entries_jsonl(open_export(w.civic, "bud"))
        head = [next(stream), next(stream)]  # streaming has begun
        w.ballot("bud", 1)
        w.ballot("bud", 2)
        w.settle()
        assert w.civic.process("bud").ballot_indices[-1] > export.size
        assert head + list(stream) == before
        report = check_export(before, log.verifier)
        assert report.entries == export.entries == len(w.indices["bud"]) - 2
        check_results_csv(report, results_csv_bytes(export))  # pinned too
        assert process_outcome(export) == report.outcome


def test_pinned_to_an_older_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The civic record may be ahead of the checkpoint read (entries committed
    in between): what lies beyond its size is left out, and a process
    published after it is unknown to it."""
    with Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", batch_wait=0.01) as log:
        w = build_world(log, fillers=300, sparse_every=20)
        old = log.checkpoint()
        w.ballot("bud", 1)
        w.submit("bud", w.inst.paper("bud", "hall-2", ballots=[["bench"]]))
        w.open("late", w.inst.process("late", "petition"))
        w.settle()
        monkeypatch.setattr(log, "checkpoint", lambda: old)
        export = open_export(w.civic, "bud")
        assert (export.size, export.entries) == (old.size, len(w.indices["bud"]) - 2)
        lines = list(entries_jsonl(export))
        assert parse_header(lines[0]).checkpoint == old.text
        assert [json.loads(x)["index"] for x in lines[1:]] == w.indices["bud"][:-2]
        report = check_export(lines, log.verifier)
        check_results_csv(report, results_csv_bytes(export))
        with pytest.raises(EntryRefused) as exc:
            open_export(w.civic, "late")
        assert exc.value.code == "unknown_process"


def test_streaming_holds_no_lock_on_the_civic_record(tmp_path: Path) -> None:
    """Between two lines of the stream, another thread takes the civic
    record's lock at once (ballots keep being accepted)."""
    with Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", batch_wait=0.01) as log:
        w = build_world(log, fillers=200, sparse_every=10)
        stream = entries_jsonl(open_export(w.civic, "bud"))
        next(stream)
        next(stream)
        took: list[bool] = []

        def other() -> None:
            with w.civic.still():
                took.append(True)

        t = threading.Thread(target=other)
        t.start()
        t.join(10)
        assert took == [True]
        assert len(list(stream)) == len(w.indices["bud"]) - 1


@pytest.mark.postgres
def test_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    with Log.open(
        pg_url, key_dir=tmp_path / "keys", origin="pg.example/log", batch_wait=0.01
    ) as log:
        w = build_world(log, fillers=1000, sparse_every=30)
        reports = check_world(w)
        assert reports["pet"].outcome is not None
        assert reports["pet"].outcome.status == "published"
        out = export_process(w.civic, "vote", tmp_path / "vote")
        with out.entries_path.open("rb") as fh:
            check_results_csv(check_export(fh, log.verifier), out.results_path.read_bytes())


def _demo_world(tmp: Path) -> tuple[Log, CivicRecord, dict[str, Any]]:
    from urne.ledger.demo import populate_demo

    url = f"sqlite:///{tmp / 'demo.db'}"
    log = Log.open(url, key_dir=tmp / "keys", origin="demo.example/log")
    civic = CivicRecord(log)
    counts = populate_demo(civic, tmp / "keys", url, citizens=12)
    return log, civic, counts


def test_the_demo_processes_as_open_data(tmp_path: Path) -> None:
    log, civic, counts = _demo_world(tmp_path)
    try:
        for pid, n in counts.items():
            export = open_export(civic, pid)
            lines = list(entries_jsonl(export))
            report = check_export(lines, log.verifier)
            paper = 1 if pid == "demo-petition" else 0
            # the town hall's registration, the id's reservation, the manifest
            assert report.entries == 3 + n + paper
            assert report.credentials_checked == n
            csv = results_csv_bytes(export)
            check_results_csv(report, csv)
            rows = {"demo-petition": 1, "demo-vote": 3, "demo-budget": 5}[pid]
            assert csv.count(b"\r\n") == 1 + rows
    finally:
        log.close()
