"""The civic record's snapshot (``urne.ledger.civic.snapshot``): a restarted
service starts from it and catches up, on SQLite and on PostgreSQL, to the
same state a replay of the whole log gives; a snapshot that is damaged, edited,
another log's or for another root is rebuilt from the log, never trusted."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.civic import Citizen, Institution, open_in
from tests.support.secret import Board
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.citizen import authoring
from urne.verifier.tlog.note import Ed25519Signer

ORIGIN = "snapshot.example/log"


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.db'}"
    else:
        yield request.getfixturevalue("pg_url")


class World:
    """A log with a petition, a vote with revotes and a closed secret vote,
    appended through a record that snapshots every ``every`` entries."""

    def __init__(self, url: str, every: int = 8) -> None:
        self.url, self.signer, self.every = url, Ed25519Signer.generate(ORIGIN), every
        self.inst, self.board = Institution(), Board.make("secret", 3, 2)
        self.rng = random.Random(5)
        self.citizens: dict[str, list[Citizen]] = {}

    def open(self) -> tuple[Log, CivicRecord]:
        log = Log.open(self.url, signer=self.signer)
        return log, CivicRecord(log, snapshot_every=self.every)

    def fill(self, rec: CivicRecord, rounds: int = 1) -> None:
        if not self.citizens:
            open_in(rec, self.inst.process("petition", "petition"))
            open_in(rec, self.inst.process("vote", "vote"))
            manifest = self.inst.process(
                "secret",
                "vote",
                rule={"method": "approval", "min": 0, "max": 2, "revoting": True},
                secret=self.board.manifest_field(),
            )
            open_in(rec, manifest)
            self.board.opened(manifest)
            self.board.ceremony(rec.append, self.inst.key)
            for pid in ("petition", "vote", "secret"):
                self.citizens[pid] = [Citizen.enrol(self.inst, pid) for _ in range(6)]
        for _ in range(rounds):
            for c in self.citizens["petition"]:
                if c.seq == 0:
                    rec.append(authoring.signature("petition", c.pseudonym, c.credential))
                    c.seq = 1
            for c in self.citizens["vote"]:
                choice = [self.rng.choice("abc")]
                rec.append(authoring.ballot("vote", c.pseudonym, c.credential, choice, seq=c.seq))
                c.seq += 1
            for c in self.citizens["secret"]:
                chosen = sorted(self.rng.sample(range(3), self.rng.randrange(3)))
                enc = self.board.encrypted(c.pseudonym.public_key, 3, chosen, (0, 2))
                rec.append(
                    authoring.secret_ballot("secret", c.pseudonym, c.credential, enc, seq=c.seq)
                )
                c.seq += 1


def _state(rec: CivicRecord) -> dict[str, Any]:
    """What the record answers: the tallies, the secret aggregates, the counts."""
    sec = rec.process("secret").secret
    assert sec is not None
    return {
        "size": rec.size,
        "tallies": {pid: rec.tally(pid) for pid in rec.process_ids()},
        "participants": {pid: rec.participants(pid) for pid in rec.process_ids()},
        "running": [(c.alpha, c.beta) for c in sec.running],
        "key": sec.key,
        "anomalies": list(rec.anomalies),
    }


def _replayed(world: World) -> dict[str, Any]:
    """The state a replay of the whole log gives (no snapshot)."""
    log = Log.open(world.url, signer=world.signer)
    try:
        with log.engine.begin() as conn:
            saved = conn.execute(sa.text("SELECT size, data, created_at FROM log_snapshot")).all()
            conn.execute(sa.text("DELETE FROM log_snapshot"))
        rec = CivicRecord(log, snapshot_every=10**9)
        assert rec.started_from == "the log (no snapshot)"
        state = _state(rec)
        with log.engine.begin() as conn:
            for row in saved:
                conn.execute(
                    sa.text("INSERT INTO log_snapshot VALUES (:s, :d, :c)"),
                    {"s": row.size, "d": row.data, "c": row.created_at},
                )
    finally:
        log.close()
    return state


def test_a_restart_starts_from_the_snapshot_and_catches_up(url: str) -> None:
    world = World(url)
    log, rec = world.open()
    world.fill(rec, rounds=3)
    rec.close()  # the last snapshot, at the last checkpoint
    size = rec.size
    log.close()
    want = _replayed(world)

    log, rec = world.open()
    assert rec.started_from == f"the snapshot at size {size}"
    assert _state(rec) == want
    # it goes on: new ballots, a close, the decryption, all as before
    world.fill(rec)
    rec.append(world.inst.close("secret"))
    sec = rec.process("secret").secret
    assert sec is not None and sec.aggregates is not None
    rec.append(world.board.decryption(1, sec.aggregates))
    rec.append(world.board.decryption(2, sec.aggregates))
    assert rec.tally("secret")["counts"] is not None
    after = _state(rec)
    log.close()  # no close(): the next start catches up from the older snapshot
    log, rec = world.open()
    assert rec.started_from.startswith("the snapshot at size ")
    assert rec.snapshot_size < after["size"] and _state(rec) == after
    log.close()


def test_snapshots_are_written_as_the_log_grows(url: str) -> None:
    world = World(url, every=10)
    log, rec = world.open()
    world.fill(rec, rounds=4)
    rec.wait_for_snapshot()
    kept = log.snapshot()
    assert kept is not None and kept[0] == rec.snapshot_size
    assert rec.size - rec.snapshot_size < 10 + 18  # at most a checkpoint's worth behind
    log.close()


def _tamper(url: str, change: Callable[[int, bytes], tuple[int, bytes]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        size, data = conn.execute(sa.text("SELECT size, data FROM log_snapshot")).one()
        new_size, new_data = change(size, bytes(data))
        conn.execute(
            sa.text("UPDATE log_snapshot SET size = :s, data = :d"), {"s": new_size, "d": new_data}
        )
    engine.dispose()


def _flip(at: int) -> Callable[[int, bytes], tuple[int, bytes]]:
    def change(size: int, data: bytes) -> tuple[int, bytes]:
        b = bytearray(data)
        b[at % len(b)] ^= 0x10
        return size, bytes(b)

    return change


@pytest.mark.parametrize(
    ("name", "change", "why"),
    [
        ("a flipped byte of the tag", _flip(3), "its tag does not match"),
        ("a flipped byte of the state", _flip(-40), "its tag does not match"),
        ("cut short", lambda s, d: (s, d[: len(d) // 2]), "its tag does not match"),
        (
            "kept under a size the log has no checkpoint at",
            lambda s, d: (s + 1000, d),
            "no checkpoint",
        ),
        ("kept under another checkpoint's size", lambda s, d: (s - 1, d), "its tag does not match"),
    ],
)
def test_a_snapshot_that_does_not_match_is_rebuilt_from_the_log(
    url: str, name: str, change: Callable[[int, bytes], tuple[int, bytes]], why: str
) -> None:
    world = World(url, every=10**9)
    log, rec = world.open()
    world.fill(rec, rounds=2)
    rec.close()
    log.close()
    want = _replayed(world)
    _tamper(url, change)
    log, rec = world.open()
    assert rec.started_from.startswith("the log (the snapshot was not used"), name
    assert why in rec.started_from, rec.started_from
    assert _state(rec) == want
    log.close()


def test_another_logs_snapshot_is_not_used(tmp_path: Path) -> None:
    """Log B holding log A's snapshot, under a size B has a checkpoint at."""
    a, b = World(f"sqlite:///{tmp_path / 'a.db'}"), World(f"sqlite:///{tmp_path / 'b.db'}")
    sizes = []
    for w in (a, b):
        log, rec = w.open()
        w.fill(rec)
        rec.close()
        sizes.append(rec.size)
        log.close()
    want = _replayed(b)
    engine_a, engine_b = sa.create_engine(a.url), sa.create_engine(b.url)
    with engine_a.connect() as ca, engine_b.begin() as cb:
        row = ca.execute(sa.text("SELECT size, data, created_at FROM log_snapshot")).one()
        cb.execute(sa.text("DELETE FROM log_snapshot"))
        cb.execute(
            sa.text("INSERT INTO log_snapshot VALUES (:s, :d, :c)"),
            {"s": sizes[1], "d": row.data, "c": row.created_at},
        )
    engine_a.dispose()
    engine_b.dispose()
    log, rec = b.open()
    assert rec.started_from.startswith("the log (the snapshot was not used")
    assert "its tag does not match" in rec.started_from
    assert _state(rec) == want
    log.close()


def test_a_snapshot_write_killed_midway_leaves_a_usable_state(tmp_path: Path) -> None:
    """A process writing snapshots is killed at random moments: the next start
    uses the last snapshot whose write committed (or an earlier one, never a
    torn one) and reaches the state a replay of the whole log gives."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.support.paths import ROOT

    world = World(f"sqlite:///{tmp_path / 'log.db'}", every=10**9)
    log, rec = world.open()
    world.fill(rec, rounds=3)
    log.close()
    want = _replayed(world)
    rnd = random.Random(11)
    env = {**os.environ, "URNE_TEST_LOG_SKEY": world.signer.skey}
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.snapshot_writer", world.url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rnd.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        saved = [int(x.split()[1]) for x in out.splitlines() if x.startswith("saved ")]
        log, rec = world.open()
        assert _state(rec) == want
        if saved:
            assert rec.snapshot_size >= saved[-1], (rec.started_from, saved[-1])
        assert rec.started_from.startswith(("the snapshot at size", "the log (no snapshot)"))
        log.close()
        with sa.create_engine(world.url).begin() as conn:
            conn.execute(sa.text("DELETE FROM log_snapshot"))  # the next round starts afresh
