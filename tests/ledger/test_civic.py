"""The civic record on a real log: entries decided in sequence order, state
rebuilt from the log after a restart, deadlines by the clock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger import InvalidRequest, Log
from ledger.civic import CivicRecord
from tests.civic import Citizen, Institution
from verifier.errors import FormatError
from verifier.process import EntryRefused

IN_2026 = datetime(2026, 6, 1, tzinfo=UTC)


def _open(tmp: Path, clock: datetime = IN_2026) -> tuple[Log, CivicRecord]:
    log = Log.open(f"sqlite:///{tmp / 'log.db'}", key_dir=tmp / "keys", origin="civic.example/log")
    return log, CivicRecord(log, clock=lambda: clock)


def test_petition_end_to_end_and_restart(tmp_path: Path) -> None:
    inst = Institution()
    log, rec = _open(tmp_path)
    assert rec.append(inst.process("pet", "petition")) == 0
    citizens = [Citizen.enrol(inst, "pet") for _ in range(4)]
    for c in citizens:
        rec.append(c.ballot())
    with pytest.raises(EntryRefused) as e:
        rec.append(citizens[0].ballot())
    assert e.value.code == "already_signed"
    assert log.size == 5  # the refused entry never reached the log
    close = rec.append(inst.close("pet"))
    tally = rec.tally("pet")
    assert (tally["signatures"], tally["reached"], tally["reached_at"]) == (4, True, 3)
    rec.append(inst.result("pet", close, tally))
    log.close()

    # A new service process rebuilds the same state from the log alone.
    log, rec = _open(tmp_path)
    assert rec.process_ids() == ["pet"]
    assert rec.tally("pet", close) == tally
    with pytest.raises(EntryRefused) as e:
        rec.append(Citizen.enrol(inst, "pet").ballot())
    assert e.value.code == "process_closed"
    assert rec.anomalies == []
    log.close()


def test_one_pseudonym_racing_itself_counts_once(tmp_path: Path) -> None:
    inst = Institution()
    log, rec = _open(tmp_path)
    rec.append(inst.process("pet", "petition"))
    c = Citizen.enrol(inst, "pet")
    leaves = [c.ballot(seq=i) for i in range(8)]  # eight different signatures, one pseudonym
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(rec.append, leaf) for leaf in leaves]
    ok = [f for f in futures if f.exception() is None]
    refused = [f.exception() for f in futures if f.exception() is not None]
    assert len(ok) == 1
    assert all(isinstance(x, EntryRefused) and x.code == "already_signed" for x in refused)
    assert rec.tally("pet")["signatures"] == 1
    log.close()


def test_deadlines_by_the_clock(tmp_path: Path) -> None:
    inst = Institution()
    log, rec = _open(tmp_path, clock=datetime(2025, 12, 31, tzinfo=UTC))
    rec.append(inst.process("pet", "petition"))  # a manifest may be published before it opens
    c = Citizen.enrol(inst, "pet")
    with pytest.raises(EntryRefused) as e:
        rec.append(c.ballot())
    assert e.value.code == "process_not_open"
    rec.clock = lambda: datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(EntryRefused) as e:
        rec.append(c.ballot())
    assert e.value.code == "process_ended"
    rec.clock = lambda: IN_2026
    rec.append(c.ballot())
    log.close()


def test_ballot_for_an_unknown_process(tmp_path: Path) -> None:
    elsewhere = Institution()
    elsewhere.process("nowhere", "petition")  # published in no log
    log, rec = _open(tmp_path)
    with pytest.raises(EntryRefused) as e:
        rec.append(Citizen.enrol(elsewhere, "nowhere").ballot())
    assert e.value.code == "unknown_process"
    assert log.size == 0
    log.close()


def test_malformed_and_forged(tmp_path: Path) -> None:
    inst = Institution()
    log, rec = _open(tmp_path)
    rec.append(inst.process("pet", "petition"))
    with pytest.raises(FormatError):
        rec.append(b'{"kind": "ballot"}')
    rogue = Institution()
    rogue.process("pet", "petition")
    with pytest.raises(EntryRefused) as e:
        rec.append(Citizen.enrol(rogue, "pet").ballot())
    assert e.value.code == "bad_credential"
    with pytest.raises(InvalidRequest):
        log.append_many([b"x", b"y"])  # the civic log takes one entry at a time
    assert log.size == 1
    log.close()


def test_readers_during_writes_never_disturb_the_state(tmp_path: Path) -> None:
    """Reads catch up on the log while the sequencer holds admitted entries that
    are not committed yet: they must only ever replay forward."""
    import threading

    log = Log.open(
        f"sqlite:///{tmp_path / 'l.db'}",
        key_dir=tmp_path / "k",
        origin="race.example/log",
        batch_wait=0.05,
    )
    rec = CivicRecord(log, clock=lambda: IN_2026)
    inst = Institution()
    rec.append(inst.process("pet", "petition"))
    citizens = [Citizen.enrol(inst, "pet") for _ in range(200)]
    stop, errors = threading.Event(), []

    def reader() -> None:
        while not stop.is_set():
            try:
                rec.tally("pet")
                rec.process_ids()
            except Exception as exc:  # anything a reader meets is a failure here
                errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for th in readers:
        th.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(rec.append, c.ballot()) for c in citizens]
        refused = [f.exception() for f in futures if f.exception() is not None]
    finally:
        stop.set()
        for th in readers:
            th.join()
    assert refused == [] and errors == []
    assert rec.tally("pet")["signatures"] == 200 and rec.anomalies == []
    with pytest.raises(EntryRefused) as e:
        rec.append(citizens[0].ballot())
    assert e.value.code == "already_signed"
    log.close()
