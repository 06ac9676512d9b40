"""The log on the real PostgreSQL server: same answers as on SQLite, and two
writer processes on one database never fork the log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import reference as R
from tests.support.checks import assert_go_literals, assert_log_intact
from tests.support.paths import ROOT, load_vector
from urne.ledger.log import Log

pytestmark = pytest.mark.postgres


def test_go_literals_on_postgres(tmp_path: Path, pg_url: str) -> None:
    v = load_vector("rfc9162/rfc6962_go_test_literals.json")
    leaves = [bytes.fromhex(x) for x in v["leaves"]]
    with Log.open(pg_url, key_dir=tmp_path / "keys", origin="pg.example/log") as log:
        assert log.engine.dialect.name == "postgresql"
        assert list(log.append_many(leaves[:3])) == [0, 1, 2]
        for leaf in leaves[3:]:
            log.append(leaf)
        assert_go_literals(log, v)
        assert_log_intact(log, dict(enumerate(leaves)))


def test_two_writer_processes_never_fork(tmp_path: Path, pg_url: str) -> None:
    keys = tmp_path / "keys"
    origin = "pg.example/log"
    Log.open(pg_url, key_dir=keys, origin=origin).close()  # key and schema exist first
    count = 600
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.writer",
                pg_url,
                str(keys),
                origin,
                tag,
                str(count),
                "3",
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "URNE_WRITER_WAIT": "1"},
        )
        for tag in ("A", "B")
    ]
    for p in procs:  # both connected and migrated: start them together
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    acked: dict[int, bytes] = {}
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0
        lines = out.splitlines()
        assert lines[-1] == "done"
        for line in lines[:-1]:
            idx, entry = line.split(" ", 1)
            assert int(idx) not in acked, f"index {idx} given to two entries"
            acked[int(idx)] = entry.encode()
    assert sorted(acked) == list(range(2 * count)), "indices are not gapless"
    with Log.open(pg_url, key_dir=keys, origin=origin) as log:
        assert assert_log_intact(log, acked) == 2 * count
        # Both writers interleaved (the test exercised the lock, not a sequence).
        first_b = min(i for i, e in acked.items() if e.startswith(b"B"))
        last_a = max(i for i, e in acked.items() if e.startswith(b"A"))
        assert first_b < last_a
        assert log.root(2 * count) == R.mth([acked[i] for i in range(2 * count)])


def test_two_civic_records_share_one_database(tmp_path: Path, pg_url: str) -> None:
    """Each record catches up on what the other appended, under the lock, before
    deciding: one pseudonym sent to both is counted once."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.civic import Citizen, Institution, open_in
    from urne.ledger.civic.record import CivicRecord
    from urne.verifier.civic.process import EntryRefused

    inst = Institution()
    keys = tmp_path / "keys"
    a_log = Log.open(pg_url, key_dir=keys, origin="pg.example/log")
    b_log = Log.open(pg_url, key_dir=keys, origin="pg.example/log")
    a, b = CivicRecord(a_log), CivicRecord(b_log)
    try:
        open_in(a, inst.process("pet", "petition"))
        citizens = [Citizen.enrol(inst, "pet") for _ in range(6)]
        twice = citizens[0]
        with ThreadPoolExecutor(4) as pool:
            futs = [
                pool.submit((a if i % 2 else b).append, c.ballot())
                for i, c in enumerate(citizens[1:])
            ]
            dup = [
                pool.submit(a.append, twice.ballot(seq=0)),
                pool.submit(b.append, twice.ballot(seq=1)),
            ]
        assert all(f.exception() is None for f in futs)
        outcomes = [f.exception() for f in dup]
        assert sum(x is None for x in outcomes) == 1
        assert any(isinstance(x, EntryRefused) and x.code == "already_signed" for x in outcomes)
        b.append(inst.close("pet"))
        a.append(inst.result("pet", a_log.size - 1, b.tally("pet")))
        assert a.tally("pet")["signatures"] == b.tally("pet")["signatures"] == 6
        assert_log_intact(a_log, {})
    finally:
        a_log.close()
        b_log.close()


def test_the_log_keeps_the_planners_statistics(tmp_path: Path, pg_url: str) -> None:
    """Once the log reaches 100,000 entries (and each time it doubles), it
    ANALYZEs its tables: with statistics from when they were empty, the
    planner scans them whole for every proof (27 proofs a second instead of
    725 at ten million entries, docs/performance.md)."""
    import time

    def analyzed(log: Log) -> dict[str, object]:
        with log.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT relname, last_analyze FROM pg_stat_user_tables "
                "WHERE relname IN ('log_entry', 'log_node') "
                "AND schemaname = current_schema()"
            ).all()
        return {name: when for name, when in rows}

    with Log.open(pg_url, key_dir=tmp_path / "keys", origin="pg.example/log") as log:
        with log.engine.begin() as conn:  # only the log's own ANALYZE, not autovacuum's
            for table in ("log_entry", "log_node"):
                conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        for start in range(0, 99_000, 11_000):
            log.append_many([b"entry %d" % i for i in range(start, start + 11_000)])
        assert log.size == 99_000
        time.sleep(0.5)
        assert analyzed(log) == {"log_entry": None, "log_node": None}  # not yet
        log.append_many([b"entry %d" % i for i in range(99_000, 100_000)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and None in analyzed(log).values():
            time.sleep(0.1)
        when = analyzed(log)
        assert set(when) == {"log_entry", "log_node"} and None not in when.values(), when
