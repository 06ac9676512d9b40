"""The log gathers witnesses' cosignatures: three real witnesses (HTTP on
loopback, SQLite state), a quorum of two. Appends never wait for them, an
absent witness changes nothing but its own cosignatures, receipts upgrade to
a quorum-cosigned checkpoint, and a witness that already holds a later size
(a restarted log service) is caught up from it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.civic import Citizen, Institution, open_in
from tests.support.witnessing import endpoint, witness_server
from urne.api.main import create_app
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.ledger.log.witnessing import (
    WitnessEndpoint,
    Witnessing,
    parse_witnesses,
    wait_cosigned,
)
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.errors import UrneError
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.cosignature import CosignatureSigner, WitnessPolicy
from urne.verifier.tlog.note import parse_note


class Witnesses:
    def __init__(self, tmp: Path, log: Log, n: int = 3) -> None:
        self.servers = [witness_server(tmp, log, f"w{i}.example") for i in range(n)]

    @property
    def endpoints(self) -> list[WitnessEndpoint]:
        return [endpoint(s) for s in self.servers]

    def policy(self, quorum: int) -> WitnessPolicy:
        return WitnessPolicy(tuple(e.key for e in self.endpoints), quorum)

    def close(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Log, CivicRecord, Institution, Witnesses]]:
    with ExitStack() as stack:
        log = Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="wt/log")
        stack.callback(log.close)
        witnesses = Witnesses(tmp_path, log)
        stack.callback(witnesses.close)
        civic = CivicRecord(log)
        inst = Institution()
        open_in(civic, inst.process("pet", "petition"))
        yield log, civic, inst, witnesses


def test_receipts_upgrade_to_a_quorum_cosigned_checkpoint(setup: tuple) -> None:
    log, civic, inst, witnesses = setup
    witnessing = Witnessing(log, witnesses.endpoints, 2, interval=0.02)
    witnessing.start()
    try:
        first = civic.append(Citizen.enrol(inst, "pet").ballot())
        size = wait_cosigned(witnessing, first, 10)
        assert size is not None and size > first
        for _ in range(5):
            civic.append(Citizen.enrol(inst, "pet").ballot())
        last = log.size - 1
        assert wait_cosigned(witnessing, last, 10) is not None
    finally:
        witnessing.close()
    receipt = witnessing.receipt(last)
    signed = check_receipt(receipt, log.verifier)
    found = witnesses.policy(2).check(signed.note)
    assert len(found) >= 2
    # the earliest entry's best receipt is against the first cosigned checkpoint holding it
    early = witnessing.receipt(first)
    assert check_receipt(early, log.verifier).checkpoint.size == size
    # the cosigned checkpoints, a page at a time, each with the quorum
    pages, after = [], 0
    while True:
        notes, more = witnessing.cosigned_page(after, limit=1)
        pages += notes
        if more is None:
            break
        assert more > after
        after = more
    assert len(pages) >= 2
    sizes = []
    for note in pages:
        cp = open_checkpoint(note, log.verifier)
        assert len(witnesses.policy(2).check(cp.note)) >= 2
        sizes.append(cp.checkpoint.size)
    assert sizes == sorted(set(sizes)) and size in sizes


def test_an_absent_witness_never_blocks_appends_nor_the_quorum(setup: tuple) -> None:
    log, civic, inst, witnesses = setup
    witnesses.servers[2].shutdown()
    witnesses.servers[2].server_close()
    absent = witnesses.endpoints
    witnessing = Witnessing(log, absent, 2, interval=0.02, timeout=1.0)
    witnessing.start()
    try:
        t0 = time.monotonic()
        indices = [civic.append(Citizen.enrol(inst, "pet").ballot()) for _ in range(5)]
        assert time.monotonic() - t0 < 30  # appends go on; no timing is asserted beyond that
        assert wait_cosigned(witnessing, indices[-1], 10) is not None
        signed = check_receipt(witnessing.receipt(indices[-1]), log.verifier)
        names = {c.witness.name for c in witnesses.policy(2).check(signed.note)}
        assert names == {"w0.example", "w1.example"}
        time.sleep(0.1)
        assert "w2.example" in " ".join(witnessing.last_error)
    finally:
        witnessing.close()


def test_a_witness_ahead_of_the_log_service_is_caught_up_from_its_size(setup: tuple) -> None:
    log, civic, inst, witnesses = setup
    one = witnesses.endpoints[:1]
    first = Witnessing(log, one, 1, interval=0.02)
    first.start()
    civic.append(Citizen.enrol(inst, "pet").ballot())
    assert wait_cosigned(first, log.size - 1, 10) is not None
    first.close()
    civic.append(Citizen.enrol(inst, "pet").ballot())
    again = Witnessing(log, one, 1, interval=0.02)  # knows nothing: submits from 0, gets 409
    again.start()
    try:
        assert wait_cosigned(again, log.size - 1, 10) is not None
    finally:
        again.close()


def test_the_service_serves_cosigned_checkpoints_and_best_receipts(setup: tuple) -> None:
    log, civic, inst, witnesses = setup
    witnessing = Witnessing(log, witnesses.endpoints, 2, interval=0.02)
    app = create_app(log, rate_limit=None, witnessing=witnessing)
    witnessing.start()
    try:
        with TestClient(app) as c:
            index = civic.append(Citizen.enrol(inst, "pet").ballot())
            assert wait_cosigned(witnessing, index, 10) is not None
            time.sleep(0.2)  # all three, not only the quorum
            receipt = Receipt.from_json(c.get(f"/entries/{index}/receipt").json())
            assert len(witnesses.policy(3).check(check_receipt(receipt, log.verifier).note)) == 3
            latest = c.get("/checkpoint").text
            note = parse_note(latest)
            assert note.signatures[0].name == "wt/log"
            size = int(note.text.split("\n")[1])
            at = c.get(f"/log/checkpoints/{size}")
            assert at.text == latest and at.headers["cache-control"] == "no-cache"
    finally:
        witnessing.close()


def test_witnesses_are_given_as_vkey_at_url() -> None:
    key = CosignatureSigner.generate("w.example").witness.vkey
    [w] = parse_witnesses(f" {key}@http://127.0.0.1:7380/ ")
    assert w.url == "http://127.0.0.1:7380" and w.key.name == "w.example"
    for bad in (key, f"{key}@ftp://x", "nonsense@http://x", f"{key}@http://a,{key}@http://b"):
        with pytest.raises(UrneError):
            parse_witnesses(bad)
