"""The civic record on a real log: entries decided in sequence order, state
rebuilt from the log after a restart, deadlines by the clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import Citizen, Institution, open_in
from urne.ledger.civic import record as civic
from urne.ledger.civic.record import CivicRecord, CredentialBatcher
from urne.ledger.errors import InvalidRequest
from urne.ledger.log import Log
from urne.verifier.civic.process import EntryRefused
from urne.verifier.credentials.credential import invalid_credentials, verify_credential
from urne.verifier.errors import FormatError

IN_2026 = datetime(2026, 6, 1, tzinfo=UTC)


def _open(tmp: Path, clock: datetime = IN_2026) -> tuple[Log, CivicRecord]:
    log = Log.open(f"sqlite:///{tmp / 'log.db'}", key_dir=tmp / "keys", origin="civic.example/log")
    return log, CivicRecord(log, clock=lambda: clock)


def test_petition_end_to_end_and_restart(tmp_path: Path) -> None:
    inst = Institution()
    log, rec = _open(tmp_path)
    # the registration of the institution and the reservation of the id come first
    assert open_in(rec, inst.process("pet", "petition")) == 2
    citizens = [Citizen.enrol(inst, "pet") for _ in range(4)]
    signed = [rec.append(c.ballot()) for c in citizens]
    with pytest.raises(EntryRefused) as e:
        rec.append(citizens[0].ballot())
    assert e.value.code == "already_signed"
    assert log.size == 7  # the refused entry never reached the log
    close = rec.append(inst.close("pet"))
    tally = rec.tally("pet")
    assert (tally["signatures"], tally["reached"], tally["reached_at"]) == (4, True, signed[2])
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
    open_in(rec, inst.process("pet", "petition"))
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
    open_in(rec, inst.process("pet", "petition"))  # a manifest may be published before it opens
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
    open_in(rec, inst.process("pet", "petition"))
    with pytest.raises(FormatError):
        rec.append(b'{"kind": "ballot"}')
    rogue = Institution()
    rogue.process("pet", "petition")
    with pytest.raises(EntryRefused) as e:
        rec.append(Citizen.enrol(rogue, "pet").ballot())
    assert e.value.code == "bad_credential"
    with pytest.raises(InvalidRequest):
        log.append_many([b"x", b"y"])  # the civic log takes one entry at a time
    assert log.size == 3  # registration, reservation, manifest
    log.close()


@pytest.mark.slow
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
    open_in(rec, inst.process("pet", "petition"))
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


def _wait_until(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def _hold_first_verification(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[threading.Event, threading.Event, list[int]]:
    """The first single verification sets ``entered`` and waits for ``gate``, so
    that the ballots prechecked meanwhile queue up behind it; the sizes of the
    batches given to ``invalid_credentials`` are recorded."""
    entered, gate, sizes, calls = threading.Event(), threading.Event(), [], [0]

    def held(*args: Any) -> bool:
        calls[0] += 1
        if calls[0] == 1:
            entered.set()
            assert gate.wait(30)
        return verify_credential(*args)

    def recorded(public_key: bytes, items: Any) -> list[int]:
        sizes.append(len(items))
        return invalid_credentials(public_key, items)

    monkeypatch.setattr(civic, "verify_credential", held)
    monkeypatch.setattr(civic, "invalid_credentials", recorded)
    return entered, gate, sizes


def test_a_bad_credential_in_a_batch_is_refused_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, gate, sizes = _hold_first_verification(monkeypatch)
    log = Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="b.example/log")
    batcher = CredentialBatcher(parallel=1)
    rec = CivicRecord(log, clock=lambda: IN_2026, credentials=batcher)
    inst = Institution()
    open_in(rec, inst.process("pet", "petition"))
    opened = open_in(rec, inst.process("pet2", "petition"))  # another issuer key, same batch
    good = [Citizen.enrol(inst, "pet") for _ in range(9)] + [Citizen.enrol(inst, "pet2")]
    forger, other = Citizen.enrol(inst, "pet"), Citizen.enrol(inst, "pet")
    forged = forger.ballot(credential=other.credential)  # another pseudonym's credential
    with ThreadPoolExecutor(12) as pool:
        first = pool.submit(rec.append, good[0].ballot())  # verified alone, held
        assert entered.wait(30)
        rest = [pool.submit(rec.append, c.ballot()) for c in good[1:]]
        bad = pool.submit(rec.append, forged)
        _wait_until(lambda: batcher.queued == 10)
        gate.set()
        indices = [first.result(), *(f.result() for f in rest)]
        with pytest.raises(EntryRefused) as e:
            bad.result()
    assert e.value.code == "bad_credential"
    # One lone verification, then one batch: 9 of "pet" (one forged), 1 of "pet2".
    assert (batcher.batches, batcher.verified) == (2, 11)
    assert sizes == [9]  # "pet2"'s lone credential is checked singly
    assert sorted(indices) == list(range(opened + 1, opened + 11))
    assert rec.tally("pet")["signatures"] == 9 and rec.tally("pet2")["signatures"] == 1
    assert log.size == opened + 11 and rec.anomalies == []
    log.close()


def test_a_failing_batch_fails_each_of_its_callers_and_the_next_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, gate, _ = _hold_first_verification(monkeypatch)
    broken = [True]

    def flaky(public_key: bytes, items: Any) -> list[int]:
        if broken[0]:
            broken[0] = False
            raise MemoryError("out of memory in the pairing library")
        return invalid_credentials(public_key, items)

    monkeypatch.setattr(civic, "invalid_credentials", flaky)
    log, rec = _open(tmp_path)
    rec.credentials = batcher = CredentialBatcher(parallel=1)
    inst = Institution()
    opened = open_in(rec, inst.process("pet", "petition"))
    citizens = [Citizen.enrol(inst, "pet") for _ in range(5)]
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(rec.append, citizens[0].ballot())
        assert entered.wait(30)
        rest = [pool.submit(rec.append, c.ballot()) for c in citizens[1:]]
        _wait_until(lambda: batcher.queued == 4)
        gate.set()
        assert first.result() == opened + 1
        for f in rest:
            with pytest.raises(MemoryError):
                f.result()
    assert log.size == opened + 2  # nothing of the failed batch was queued for the log
    # The batcher is not stuck: the same ballots go through afterwards, together.
    with ThreadPoolExecutor(4) as pool:
        again = [pool.submit(rec.append, c.ballot()) for c in citizens[1:]]
    assert sorted(f.result() for f in again) == list(range(opened + 2, opened + 6))
    assert rec.tally("pet")["signatures"] == 5
    log.close()


def test_the_batcher_answers_exactly_like_single_verification() -> None:
    inst = Institution()
    inst.process("pet", "petition")
    key = inst.issuers["pet"].public_key
    citizens = [Citizen.enrol(inst, "pet") for _ in range(6)]
    items = [("pet", c.pseudonym.public_key, c.credential) for c in citizens]
    items[2] = ("pet", items[2][1], items[3][2])  # swapped credential
    items[4] = ("pet", items[4][1], b"\x00" * 96)  # not a point
    batcher = CredentialBatcher(parallel=2, max_batch=4)
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda it: batcher.verify(key, *it), items))
    assert got == [verify_credential(key, *it) for it in items] == [
        True, True, False, True, False, True,
    ]  # fmt: skip
    assert batcher.verified == 6 and batcher.queued == 0
    with pytest.raises(ValueError):
        CredentialBatcher(max_batch=0)


def _credential_items(n: int) -> tuple[bytes, list[tuple[str, bytes, bytes]]]:
    inst = Institution()
    inst.process("pet", "petition")
    key = inst.issuers["pet"].public_key
    citizens = [Citizen.enrol(inst, "pet") for _ in range(n)]
    items = [("pet", c.pseudonym.public_key, c.credential) for c in citizens]
    items[1] = ("pet", items[1][1], items[2][2])  # another pseudonym's credential
    items[3] = ("pet", items[3][1], b"\x00" * 96)  # not a point
    return key, items


def test_worker_processes_answer_exactly_like_single_verification() -> None:
    key, items = _credential_items(8)
    batcher = CredentialBatcher(processes=2, max_batch=3)
    try:
        batcher.start()
        assert batcher.workers is not None and len(batcher.workers.procs) == 2
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda it: batcher.verify(key, *it), items))
        assert got == [verify_credential(key, *it) for it in items]
        assert got.count(False) == 2 and batcher.verified == 8
        procs = list(batcher.workers.procs)
    finally:
        batcher.close()
    assert batcher.workers is None and all(p.returncode == 0 for p in procs)
    # Closed: the batcher still answers, in its own threads.
    assert batcher.verify(key, *items[0]) is True and batcher.verify(key, *items[1]) is False


def test_a_dead_worker_process_is_replaced_and_nothing_is_lost() -> None:
    key, items = _credential_items(6)
    batcher = CredentialBatcher(processes=1)
    try:
        batcher.start()
        assert batcher.workers is not None
        (proc,) = batcher.workers.procs
        proc.kill()
        proc.wait()
        # The batch it would have verified is verified in the service instead...
        assert [batcher.verify(key, *it) for it in items[:2]] == [True, False]
        # ...and a new process takes the next ones.
        (new,) = batcher.workers.procs
        assert new is not proc and new.poll() is None
        assert [batcher.verify(key, *it) for it in items[2:]] == [True, False, True, True]
    finally:
        batcher.close()


async def _verify_all(batcher: CredentialBatcher, key: bytes, items: list[Any]) -> list[bool]:
    import asyncio

    return list(await asyncio.gather(*(batcher.verify_async(key, *it) for it in items)))


def test_coroutines_get_the_answers_of_the_worker_processes() -> None:
    import asyncio

    key, items = _credential_items(10)
    batcher = CredentialBatcher(processes=2)
    try:
        got = asyncio.run(_verify_all(batcher, key, items))
    finally:
        batcher.close()
    assert got == [verify_credential(key, *it) for it in items]


def test_a_decoded_hint_counts_only_for_the_bytes_it_was_decoded_from(tmp_path: Path) -> None:
    from urne.verifier.civic.entries import decode_entry

    inst = Institution()
    log, rec = _open(tmp_path)
    open_in(rec, inst.process("pet", "petition"))
    a, b = Citizen.enrol(inst, "pet"), Citizen.enrol(inst, "pet")
    leaf_a, leaf_b = a.ballot(), b.ballot()
    wrong = civic.Decoded(leaf_a, decode_entry(leaf_a))
    receipt = log.submit_for_receipt(leaf_b, wrong).result(timeout=30)
    assert receipt.entry == leaf_b
    casts = rec.process("pet").casts
    assert b.pseudonym.public_key in casts and a.pseudonym.public_key not in casts
    log.close()
