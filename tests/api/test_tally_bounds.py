"""The attack that froze the service and every later audit, replayed.

Anyone could post a manifest under their own institution and issuer keys and
mint credentials for it. Now only a registered institution, for an id
reserved for it, may (tests/api/test_attacks_on_admission.py), and its
issuer key is the service's; but a registered institution may still write
any numbers into its manifest, so the cost of counting must not depend on
them. Here the attacker is registered, and mints credentials with a key of
its own as a careless issuer would. Its manifest: a budget of 2**53 - 1 (the largest
integer an entry carries), Equal Shares with Add1, one project costing B - 1
and a cheap one, two ballots. Before, one ``GET /processes/<id>/tally`` ran
MES about 4.5 * 10**15 times while holding the lock the sequencer needs, so
``POST /entries`` and the pages waited, and ``urne-verify audit`` of the log
never finished.

Checked here: the count takes a handful of MES runs (counted, never timed);
while a count is under way (made slow on purpose), entries are still
admitted and the pages answer; a count is made once per process and last
entry, however often it is asked for; a ``result`` is recounted before it is
sequenced; and the audit of the attacker's log finishes and recounts it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import (
    Citizen,
    Institution,
    authority_for,
    civic_knows,
    operator_of,
    proposal,
)
from tests.support.service import Service, assert_error, open_service
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log.export import export_tiles
from urne.verifier.check.audit import DirectorySource, audit
from urne.verifier.civic import budget
from urne.verifier.civic.budget import ApprovalElection

LARGEST = 2**53 - 1
#: Generous: only a broken build waits this long (no assertion is on time). A
#: count held on purpose is held twice as long as a request is waited for.
PATIENCE = 60.0


def budget_rule(outcome: str) -> dict[str, Any]:
    return {
        "budget": LARGEST,
        "outcome": outcome,
        "min_projects": 1,
        "max_projects": None,
        "min_share_percent": 0,
        "capped": True,
        "revoting": False,
    }


ATTACK_PROPOSALS = [proposal("x", "Everything", LARGEST - 1), proposal("y", "A bench", 1)]


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    yield from open_service(tmp_path)


def civic_of(svc: Service) -> CivicRecord:
    civic: CivicRecord = svc.client.app.state.civic  # type: ignore[attr-defined]
    return civic


def post_attack(svc: Service, pid: str, outcome: str = "mes") -> Institution:
    """The attacker's manifest (a registered institution, its id reserved)
    and two ballots with credentials it minted itself."""
    attacker = Institution()
    manifest = attacker.process(
        pid, "budget", rule=budget_rule(outcome), proposals=ATTACK_PROPOSALS
    )
    civic = civic_of(svc)
    for first in authority_for(manifest, operator_of(civic), registered=civic_knows(civic)):
        svc.append(first)
    svc.append(manifest)
    svc.append(Citizen.enrol(attacker, pid).ballot(["x"]))
    svc.append(Citizen.enrol(attacker, pid).ballot(["y"]))
    return attacker


@pytest.mark.parametrize("outcome", ["greedy", "mes", "mes-then-greedy"])
def test_the_attackers_tally_takes_a_few_runs(svc: Service, runs: list[int], outcome: str) -> None:
    post_attack(svc, "grab", outcome)
    r = svc.client.get("/processes/grab/tally")
    assert r.status_code == 200, r.text
    tally = r.json()
    # MES funds y at once, and x when its one supporter holds B - 1 (at an
    # increment of about 2**52); greedy takes both, x first
    assert tally["selected"] == ["x", "y"] and tally["spent"] == LARGEST
    assert len(runs) <= (0 if outcome == "greedy" else 8), runs
    for page in ("/processes/grab", "/p/grab", "/"):
        assert svc.client.get(page).status_code == 200
    assert len(runs) <= (0 if outcome == "greedy" else 8), runs  # the pages counted nothing


class SlowCount:
    """Makes the ``mes`` rule wait until released, to hold a count in progress."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        rules: dict[str, Callable[[ApprovalElection], tuple[str, ...]]] = budget.RULES  # type: ignore[assignment]
        plain = rules["mes"]

        def slow(election: ApprovalElection) -> tuple[str, ...]:
            self.calls += 1
            self.started.set()
            self.release.wait(2 * PATIENCE)
            return plain(election)

        monkeypatch.setitem(rules, "mes", slow)


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_entries_are_admitted_while_a_tally_is_counted(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = post_attack(svc, "grab")
    slow = SlowCount(monkeypatch)
    try:
        counting, tallies = in_thread(lambda: svc.client.get("/processes/grab/tally"))
        assert slow.started.wait(PATIENCE)
        # the count is stuck; admission and the pages that count nothing are not
        casting, answers = in_thread(
            lambda: svc.post(Citizen.enrol(attacker, "grab").ballot(["x", "y"]))
        )
        casting.join(PATIENCE)
        assert not casting.is_alive(), "POST /entries waited for a count"
        assert answers[0].status_code == 201, answers[0].text
        for page in ("/", "/processes"):
            assert svc.client.get(page).status_code == 200
        assert counting.is_alive()
    finally:
        slow.release.set()
    counting.join(PATIENCE)
    # the count read what was committed when it began: two ballots, not three
    assert tallies[0].status_code == 200 and tallies[0].json()["ballots"] == 2
    assert svc.client.get("/processes/grab/tally").json()["ballots"] == 3
    assert slow.calls == 2


def test_a_result_is_recounted_before_it_is_sequenced(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recount a ``result`` must equal is made outside the lock, in a
    worker thread: entries of other processes go on being admitted."""
    attacker = post_attack(svc, "grab")
    live = svc.client.get("/processes/grab/tally").json()
    close = svc.append(attacker.close("grab"))
    svc.open_process("other", "petition")
    signer = Citizen.enrol(svc.inst, "other")
    slow = SlowCount(monkeypatch)
    try:
        publishing, receipts = in_thread(
            lambda: svc.post(attacker.result("grab", close.index, live))
        )
        assert slow.started.wait(PATIENCE)
        casting, answers = in_thread(lambda: svc.post(signer.ballot()))
        casting.join(PATIENCE)
        assert not casting.is_alive(), "POST /entries waited for a result's recount"
        assert answers[0].status_code == 201, answers[0].text
        assert publishing.is_alive()
    finally:
        slow.release.set()
    publishing.join(PATIENCE)
    assert receipts[0].status_code == 201, receipts[0].text
    assert slow.calls == 1  # the sequencer compared: it did not count again


def test_a_result_before_its_close_is_committed_is_refused(svc: Service) -> None:
    attacker = post_attack(svc, "grab")
    tally = svc.client.get("/processes/grab/tally").json()
    assert_error(svc.post(attacker.result("grab", 3, tally)), 409, "process_not_closed")


def test_a_count_is_made_once_per_process_and_last_entry(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = post_attack(svc, "grab")
    slow = SlowCount(monkeypatch)
    slow.release.set()
    civic = civic_of(svc)
    first = civic.tally("grab")
    for page in ("/processes/grab/tally", "/processes/grab", "/p/grab"):
        for _ in range(3):
            assert svc.client.get(page).status_code == 200
    assert civic.tally("grab") is first and slow.calls == 1
    svc.open_process("other", "petition")
    svc.append(Citizen.enrol(svc.inst, "other").ballot())
    assert civic.tally("grab") is first  # another process's entries change nothing here
    svc.append(Citizen.enrol(attacker, "grab").ballot(["y"]))
    assert civic.tally("grab")["ballots"] == 3 and slow.calls == 2
    assert civic.tally("grab", first_index(svc, "grab") + 2)["ballots"] == 2  # back in time


def first_index(svc: Service, pid: str) -> int:
    index: int = svc.client.get(f"/processes/{pid}").json()["index"]
    return index


def test_concurrent_requests_share_one_count(svc: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    post_attack(svc, "grab")
    civic = civic_of(svc)
    slow = SlowCount(monkeypatch)
    try:
        first, a = in_thread(lambda: civic.tally("grab"))
        assert slow.started.wait(PATIENCE)
        second, b = in_thread(lambda: civic.tally("grab"))
        second.join(0.2)  # it waits for the count under way, or finds it done
    finally:
        slow.release.set()
    first.join(PATIENCE)
    second.join(PATIENCE)
    assert a[0] is b[0] and slow.calls == 1


def test_the_audit_of_the_attackers_log_finishes_and_recounts(
    svc: Service, runs: list[int], tmp_path: Path
) -> None:
    attacker = post_attack(svc, "grab")
    close = svc.append(attacker.close("grab"))
    tally = svc.client.get("/processes/grab/tally").json()
    svc.append(attacker.result("grab", close.index, tally))
    served = len(runs)
    export_tiles(svc.log, tmp_path / "tiles")
    report = audit(DirectorySource(tmp_path / "tiles"), svc.log_key(), state_dir=tmp_path / "state")
    assert report.ok, [f.message for f in report.findings]
    assert report.results_compared == 1
    assert report.tallies["grab"]["selected"] == ["x", "y"]
    assert report.tallies["grab"] == tally
    assert served <= 8 and len(runs) - served <= 8, runs
