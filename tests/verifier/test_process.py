"""Process rules and tallies: every refusal of issue "civic record", and counts
that do not depend on ballot order."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.civic import Citizen, Institution, RegistryLog
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.civic.canonical import canonical
from urne.verifier.errors import FormatError


@pytest.fixture
def inst() -> Institution:
    return Institution()


def test_petition_counts_distinct_pseudonyms_and_refuses_a_second_signature(
    inst: Institution,
) -> None:
    log = RegistryLog()
    log.add(inst.process("pet", "petition"))
    alice, bob = Citizen.enrol(inst, "pet"), Citizen.enrol(inst, "pet")
    log.add(alice.ballot())
    log.refuse(alice.ballot(), "already_signed")  # a reused pseudonym
    i = log.add(bob.ballot())
    t = log.reg.tally("pet", i)
    assert (t["signatures"], t["reached"], t["reached_at"]) == (2, False, None)
    j = log.add(Citizen.enrol(inst, "pet").ballot())
    t = log.reg.tally("pet", j)
    assert (t["signatures"], t["reached"], t["reached_at"]) == (3, True, j)
    # Counting through an earlier index sees fewer signatures.
    assert log.reg.tally("pet", i)["signatures"] == 2


def test_forged_credentials_are_refused(inst: Institution) -> None:
    log = RegistryLog()
    log.add(inst.process("pet", "petition"))
    log.add(inst.process("other", "petition"))
    alice = Citizen.enrol(inst, "pet")
    # forged: a credential made with another key
    rogue = Institution()
    rogue.process("pet", "petition")
    log.refuse(Citizen.enrol(rogue, "pet").ballot(), "bad_credential")
    # a credential for another process
    other = Citizen.enrol(inst, "other")
    log.refuse(other.ballot(pid="pet"), "bad_credential")
    # someone else's credential under a fresh pseudonym
    mallory = Citizen.enrol(inst, "pet")
    log.refuse(mallory.ballot(credential=alice.credential), "bad_credential")


def test_wrong_signature_is_refused(inst: Institution) -> None:
    log = RegistryLog()
    log.add(inst.process("pet", "petition"))
    alice = Citizen.enrol(inst, "pet")
    obj = json.loads(alice.ballot())
    obj["seq"] = 7  # changed after signing
    log.refuse(canonical(obj), "bad_entry_signature")


def test_unknown_and_closed_processes(inst: Institution) -> None:
    log = RegistryLog()
    early = Institution()
    early.process("pet", "petition")
    log.refuse(Citizen.enrol(early, "pet").ballot(), "unknown_process")
    log.add(inst.process("pet", "petition"))
    log.refuse(inst.process("pet", "petition"), "process_exists")
    late = Citizen.enrol(inst, "pet")
    log.add(Citizen.enrol(inst, "pet").ballot())
    log.refuse(Institution().close("pet"), "bad_entry_signature")  # not the institution
    log.add(inst.close("pet"))
    log.refuse(late.ballot(), "process_closed")  # a late ballot
    log.refuse(inst.close("pet"), "process_closed")


def test_vote_choices_and_revoting(inst: Institution) -> None:
    log = RegistryLog()
    log.add(inst.process("v", "vote"))  # single choice, revoting allowed
    c = Citizen.enrol(inst, "v")
    log.refuse(c.ballot(["a", "b"], seq=0), "bad_choice_count")
    log.refuse(c.ballot(["zzz"], seq=0), "unknown_proposal")
    log.refuse(c.ballot(None, seq=0), "bad_choice")
    first = log.add(c.ballot(["a"], seq=0))
    log.add(c.ballot(["b"], seq=1))
    log.refuse(c.ballot(["a"], seq=1), "stale_seq")  # an old ballot replayed
    i = log.add(Citizen.enrol(inst, "v").ballot(["b"]))
    t = log.reg.tally("v", i)
    assert t["counts"] == {"a": 0, "b": 2, "c": 0} and t["winners"] == ["b"]
    assert t["ballots"] == 2
    # Through the first ballot only, "a" led.
    assert log.reg.tally("v", first)["counts"]["a"] == 1


def test_no_revoting_where_the_manifest_forbids_it(inst: Institution) -> None:
    log = RegistryLog()
    log.add(
        inst.process(
            "v", "vote", rule={"method": "approval", "min": 0, "max": 3, "revoting": False}
        )
    )
    c = Citizen.enrol(inst, "v")
    log.add(c.ballot(["a", "c"]))
    log.refuse(c.ballot(["b"]), "already_voted")


def test_paper_batches(inst: Institution) -> None:
    log = RegistryLog()
    log.add(inst.process("pet", "petition"))
    log.refuse(inst.paper("pet", "b1", AuthorKey.generate(), signatures=10), "unknown_official")
    log.refuse(inst.paper("pet", "b1", counts={"a": 1}), "bad_batch")
    batch = log.add(inst.paper("pet", "b1", signatures=10))
    log.refuse(inst.paper("pet", "b1", signatures=3), "duplicate_batch")
    i = log.add(Citizen.enrol(inst, "pet").ballot())
    t = log.reg.tally("pet", i)
    assert (t["signatures"], t["paper_signatures"], t["total"]) == (1, 10, 11)
    assert t["reached_at"] == batch  # the paper batch alone crossed the threshold of 3
    official = next(iter(t["paper_batches"]))
    assert t["paper_batches"] == {official: 1}


def test_results_must_match_the_recount(inst: Institution) -> None:
    log = RegistryLog()
    log.add(inst.process("pet", "petition"))
    for _ in range(3):
        log.add(Citizen.enrol(inst, "pet").ballot())
    close = log.add(inst.close("pet"))
    tally = log.reg.tally("pet", close)
    wrong = dict(tally, signatures=4, total=4)
    log.refuse(inst.result("pet", close, wrong), "wrong_result")
    below = dict(tally, reached=True, threshold=2)
    log.refuse(inst.result("pet", close, below), "wrong_result")
    log.refuse(inst.result("pet", close + 5, tally), "bad_through")
    log.refuse(Institution().result("pet", close, tally), "bad_entry_signature")
    log.add(inst.result("pet", close, tally))
    # entries after close never count: a result may be published after it
    assert log.reg.tally("pet", log.n)["signatures"] == 3


@settings(max_examples=10, deadline=None)
@given(st.randoms(use_true_random=False))
def test_vote_counts_do_not_depend_on_ballot_order(rnd: random.Random) -> None:
    inst = Institution()
    manifest = inst.process(
        "v", "vote", rule={"method": "approval", "min": 0, "max": 3, "revoting": False}
    )
    citizens = [Citizen.enrol(inst, "v") for _ in range(12)]
    ballots = [c.ballot(rnd.sample(["a", "b", "c"], rnd.randint(0, 3))) for c in citizens]
    tallies = []
    for _ in range(3):
        rnd.shuffle(ballots)
        log = RegistryLog(credentials=False)
        log.add(manifest)
        for b in ballots:
            log.add(b)
        t = log.reg.tally("v", log.n)
        tallies.append((t["counts"], t["winners"], t["ballots"]))
    assert tallies[0] == tallies[1] == tallies[2]


def test_revoting_last_ballot_wins_whatever_came_between(inst: Institution) -> None:
    log = RegistryLog(credentials=False)
    log.add(inst.process("v", "vote"))
    a, b = Citizen.enrol(inst, "v"), Citizen.enrol(inst, "v")
    for leaf in (
        a.ballot(["a"]),
        b.ballot(["c"]),
        a.ballot(["c"]),
        b.ballot(["b"]),
        a.ballot(["b"]),
    ):
        log.add(leaf)
    assert log.reg.tally("v", log.n)["counts"] == {"a": 0, "b": 2, "c": 0}


BUDGET = {
    "budget": 1000,
    "outcome": "greedy",
    "min_projects": 1,
    "max_projects": 2,
    "min_share_percent": 20,
    "capped": True,
    "revoting": False,
}


@pytest.mark.parametrize(
    ("choice", "code"),
    [
        (["park", "bikes", "bench"], "over_budget"),  # 1100 > 1000 (and 3 > 2)
        ([], "min_share"),  # 0 < 20% of 1000
        (["park", "nowhere"], "unknown_proposal"),
    ],
)
def test_budget_ballots_respect_the_constraints(
    inst: Institution, choice: list[str], code: str
) -> None:
    log = RegistryLog()
    log.add(inst.process("pb", "budget", rule=BUDGET))
    log.refuse(Citizen.enrol(inst, "pb").ballot(choice), code)


def test_budget_project_count_limits(inst: Institution) -> None:
    log = RegistryLog()
    log.add(inst.process("pb", "budget", rule=dict(BUDGET, min_share_percent=0, max_projects=1)))
    log.refuse(Citizen.enrol(inst, "pb").ballot(["bikes", "bench"]), "max_projects")
    log2 = RegistryLog()
    inst2 = Institution()
    log2.add(inst2.process("pb", "budget", rule=dict(BUDGET, min_share_percent=0, min_projects=2)))
    log2.refuse(Citizen.enrol(inst2, "pb").ballot(["bikes"]), "min_projects")


def test_uncapped_approval_ballots(inst: Institution) -> None:
    """pabulib-style approval ballots may approve more than the budget holds."""
    log = RegistryLog()
    log.add(
        inst.process(
            "pb", "budget", rule=dict(BUDGET, capped=False, min_share_percent=0, max_projects=None)
        )
    )
    log.add(Citizen.enrol(inst, "pb").ballot(["park", "bikes", "bench"]))
    with pytest.raises(FormatError, match="needs capped ballots"):
        Institution().process("x", "budget", rule=dict(BUDGET, capped=False))


def test_budget_tally_and_paper_ballots(inst: Institution) -> None:
    log = RegistryLog()
    log.add(inst.process("pb", "budget", rule=BUDGET))
    for choice in (["park"], ["park", "bench"], ["bikes", "bench"], ["bikes"]):
        log.add(Citizen.enrol(inst, "pb").ballot(choice))
    log.refuse(inst.paper("pb", "street-1", ballots=[["park", "bikes", "bench"]]), "over_budget")
    i = log.add(inst.paper("pb", "street-1", ballots=[["bench"], ["bench", "bikes"]]))
    t = log.reg.tally("pb", i)
    assert t["approvals"] == {"park": 2, "bikes": 3, "bench": 4}
    assert t["paper_ballots"] == 2 and t["ballots"] == 4
    # greedy by approvals: bench (200), bikes (300), then park (600) no longer fits
    assert t["selected"] == ["bench", "bikes"] and t["spent"] == 500
    assert t["spent"] <= t["budget"]
