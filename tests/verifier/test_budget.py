"""Outcome rules and ballot constraints of participatory budgets.

Three witnesses: the outcomes pabutools 1.2.3 computed on every real election
in vectors/pabulib/ (expected_outcomes.json); pabutools itself on small random
elections (hypothesis); and ``_reference_mes_run`` below, the Method of Equal
Shares written as plainly as its definition, voter by voter, in Fractions.
"""

from __future__ import annotations

import gc
import json
import random
import threading
from collections.abc import Callable
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.support.budgets import reference_mes_run
from tests.support.paths import VECTORS
from urne.verifier.civic import budget
from urne.verifier.civic.budget import (
    RULES,
    ApprovalElection,
    BallotConstraintError,
    BallotConstraints,
    ballot_violations,
    check_ballot,
    greedy,
    greedy_completion,
    is_exhaustive,
    mes,
    mes_then_greedy,
    total_cost,
)
from urne.verifier.civic.pabulib import parse_pabulib
from urne.verifier.cli.pb import pb_command
from urne.verifier.errors import FormatError, VerificationError

PABULIB = VECTORS / "pabulib"
FILES = sorted(p.name for p in PABULIB.glob("*.pb"))
#: The files whose Equal Shares run takes seconds: in the full run, not the quick loop.
LARGE = {p.name for p in PABULIB.glob("*.pb") if p.stat().st_size > 90_000}
Election = ApprovalElection


@cache
def expected() -> dict[str, dict[str, Any]]:
    with open(PABULIB / "expected_outcomes.json", encoding="utf-8") as fh:
        outcomes: dict[str, dict[str, Any]] = json.load(fh)["outcomes"]
    return outcomes


@cache
def election_of(name: str) -> ApprovalElection:
    return parse_pabulib(PABULIB / name).election()


@cache
def mes_of(name: str) -> tuple[str, ...]:
    """Urne's MES outcome for a vector file, computed once for the whole module."""
    return mes(election_of(name))


@pytest.fixture(autouse=True)
def _vectors(vectors_dir: Path) -> None:
    """Skip (or fail under CI) when the vectors are absent."""


def test_all_lists_the_public_names() -> None:
    public = {
        name
        for name, value in vars(budget).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == budget.__name__
    }
    assert set(budget.__all__) == public | {"RULES"}
    assert set(RULES) == {"greedy", "mes", "mes-then-greedy"}
    assert RULES["mes-then-greedy"] is mes_then_greedy


# --------------------------------------------------------------------------- real elections


@pytest.mark.parametrize("name", FILES)
def test_greedy_equals_pabutools_outcome(name: str) -> None:
    assert sorted(greedy(election_of(name))) == expected()[name]["greedy"]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in LARGE else n for n in FILES]
)
def test_mes_equals_pabutools_outcome(name: str) -> None:
    outcome = mes_of(name)
    assert sorted(outcome) == expected()[name]["mes"]
    assert len(set(outcome)) == len(outcome)
    assert total_cost(election_of(name), outcome) <= election_of(name).budget


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in LARGE else n for n in FILES]
)
def test_mes_then_greedy_equals_pabutools_outcome(name: str) -> None:
    election = election_of(name)
    outcome = greedy_completion(election, mes_of(name))
    assert sorted(outcome) == expected()[name]["mes_then_greedy"]
    assert is_exhaustive(election, outcome)
    if expected()[name]["seconds_pabutools"]["mes"] < 10:  # the rule itself, end to end
        assert mes_then_greedy(election) == outcome


WARSAW_WROCLAW = [n for n in FILES if n.startswith(("Poland_Warszawa", "Poland_Wroclaw"))]


@pytest.mark.parametrize("name", WARSAW_WROCLAW)
def test_warsaw_and_wroclaw_funded_what_greedy_selects(name: str) -> None:
    instance = parse_pabulib(PABULIB / name)
    assert instance.selected_ids()
    assert instance.selected_ids() == frozenset(greedy(instance.election()))


@pytest.mark.parametrize("name", ["Netherlands_Assen_2024.pb", "Poland_Swiecie_2023.pb"])
def test_assen_and_swiecie_funded_what_mes_selects(name: str) -> None:
    instance = parse_pabulib(PABULIB / name)
    assert instance.meta["rule"] == "equalshares/add1"
    assert instance.selected_ids() == frozenset(mes_of(name))
    assert instance.selected_ids() != frozenset(greedy(instance.election()))


def test_the_set_covers_five_warsaw_and_wroclaw_files() -> None:
    assert len(WARSAW_WROCLAW) == 5


# ------------------------------------------------------------------ the definition, plainly


def _reference_mes(election: ApprovalElection, add1: bool = True) -> list[str]:
    if not election.ballots:
        return []
    eligible = [p for p in election.costs if election.costs[p] > 0 and election.approvals()[p]]
    per_voter = election.budget / len(election.ballots)
    previous: list[str] = []
    while True:
        outcome = reference_mes_run(election, per_voter)
        if not add1:
            return outcome
        if total_cost(election, outcome) > election.budget:
            return previous
        if is_exhaustive(election, outcome, among=eligible):
            return outcome
        previous, per_voter = outcome, per_voter + 1


# --------------------------------------------------------------------------- small elections

IDS = ["1", "2", "9", "10", "a", "b", "p1", "p10"]


@st.composite
def elections(draw: st.DrawFn, max_voters: int = 9) -> ApprovalElection:
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=6, unique=True))
    costs = {p: draw(st.integers(min_value=0, max_value=30)) for p in ids}
    budget_ = draw(st.integers(min_value=0, max_value=70))
    ballots = draw(st.lists(st.frozensets(st.sampled_from(ids)), max_size=max_voters))
    return ApprovalElection.from_ballots(budget_, costs, ballots)


def _pabutools(election: ApprovalElection) -> dict[str, list[str]]:
    gmpy2 = pytest.importorskip("gmpy2")
    pe = pytest.importorskip("pabutools.election")
    rules = pytest.importorskip("pabutools.rules")

    def num(x: Fraction) -> Any:
        return int(x) if x.denominator == 1 else gmpy2.mpq(x.numerator, x.denominator)

    projects = {p: pe.Project(p, num(c)) for p, c in election.costs.items()}
    instance = pe.Instance(projects.values(), budget_limit=num(election.budget))
    profile = pe.ApprovalProfile(
        [pe.ApprovalBallot(projects[p] for p in b) for b in election.ballots]
    )
    sat = pe.Cost_Sat
    mes_params = {"sat_class": sat, "voter_budget_increment": 1}
    found = {
        "greedy": rules.greedy_utilitarian_welfare(instance, profile, sat_class=sat),
        "mes": rules.method_of_equal_shares(instance, profile, **mes_params),
        "mes-plain": rules.method_of_equal_shares(instance, profile, sat_class=sat),
        "mes-then-greedy": rules.completion_by_rule_combination(
            instance,
            profile,
            [rules.method_of_equal_shares, rules.greedy_utilitarian_welfare],
            [mes_params, {"sat_class": sat}],
        ),
    }
    return {rule: [p.name for p in outcome] for rule, outcome in found.items()}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elections())
def test_rules_equal_pabutools_on_small_elections(election: ApprovalElection) -> None:
    theirs = _pabutools(election)
    assert list(greedy(election)) == theirs["greedy"]
    assert list(mes(election)) == theirs["mes"]
    assert list(mes(election, add1=False)) == theirs["mes-plain"]
    assert list(mes_then_greedy(election)) == theirs["mes-then-greedy"]


@settings(max_examples=250, deadline=None)
@given(elections())
def test_mes_equals_its_plain_definition(election: ApprovalElection) -> None:
    assert list(mes(election, add1=False)) == _reference_mes(election, add1=False)
    assert list(mes(election)) == _reference_mes(election)


@settings(max_examples=60, deadline=None)
@given(elections(max_voters=40), st.integers(min_value=0, max_value=12))
def test_mes_run_equals_the_definition_at_every_increment(
    election: ApprovalElection, increment: int
) -> None:
    """One engine, reused across increments as Add1 does, against a fresh plain run each time."""
    if not election.ballots:
        return
    engine = budget.EqualShares(election)
    per_voter = election.budget / len(election.ballots)
    for k in [*range(increment + 1), increment // 2, increment]:
        assert [engine.names[i] for i in engine.run(k)] == reference_mes_run(
            election, per_voter + k
        )


@pytest.mark.parametrize("seed", range(16))
def test_rules_equal_pabutools_on_larger_random_elections(seed: int) -> None:
    """Dozens of voters with overlapping tastes: caps, ties and Add1 steps aplenty."""
    rng = random.Random(seed)
    ids = [f"p{k}" for k in range(rng.randint(6, 12))]
    costs = {p: rng.choice([0, rng.randint(1, 600), rng.randint(1, 2000)]) for p in ids}
    tastes = [rng.sample(ids, rng.randint(1, 4)) for _ in range(5)]
    ballots = []
    for _ in range(rng.randint(20, 80)):
        base = set(rng.choice(tastes))
        if rng.random() < 0.4:
            base ^= {rng.choice(ids)}
        ballots.append(base)
    total = sum(costs.values())
    election = ApprovalElection.from_ballots(rng.randint(total // 4, total), costs, ballots)
    theirs = _pabutools(election)
    assert list(greedy(election)) == theirs["greedy"]
    assert list(mes(election)) == theirs["mes"] == _reference_mes(election)
    assert list(mes(election, add1=False)) == theirs["mes-plain"]
    assert list(mes_then_greedy(election)) == theirs["mes-then-greedy"]


RULE_FUNCTIONS: list[Callable[[ApprovalElection], tuple[str, ...]]] = [
    greedy,
    mes,
    mes_then_greedy,
]


@settings(max_examples=150, deadline=None)
@given(elections(), st.randoms(use_true_random=False))
def test_outcomes_stay_within_budget_and_ignore_ballot_order(
    election: ApprovalElection, rng: random.Random
) -> None:
    shuffled = list(election.ballots)
    rng.shuffle(shuffled)
    other = ApprovalElection(election.budget, election.costs, tuple(shuffled))
    for rule in RULE_FUNCTIONS:
        outcome = rule(election)
        assert total_cost(election, outcome) <= election.budget
        assert len(set(outcome)) == len(outcome)
        assert rule(other) == outcome
    assert is_exhaustive(election, greedy(election))
    assert is_exhaustive(election, mes_then_greedy(election))


def test_ties_are_broken_by_id_as_text() -> None:
    # "10" < "9" as text: the tie between two equal projects goes to "10"
    tied = Election.from_ballots(1, {"9": 1, "10": 1}, [{"9", "10"}])
    assert greedy(tied) == ("10",)
    assert mes(tied) == ("10",)
    more = Election.from_ballots(3, {"9": 2, "10": 2, "b": 1}, [{"9"}, {"10"}, {"b"}, {"b"}])
    assert greedy(more) == ("b", "10")


def test_rhos_closer_than_a_float_are_ordered_exactly() -> None:
    # After "0", voter 1 holds 4e17 and voter 2 7e17: "b" (cost 1e18) and "a"
    # (cost 1e18 + 1) both take all of voter 1's and the rest from voter 2, so
    # rho("b") = 0.6 and rho("a") = (6e17 + 1) / (1e18 + 1), 4e-19 more: the
    # same float. The exact order funds "b"; a tie on the float would go to "a".
    c, share = 10**18, 7 * 10**17
    election = Election.from_ballots(
        3 * share, {"0": 6 * 10**17, "a": c + 1, "b": c}, [{"0", "a", "b"}, {"a", "b"}, {"0"}]
    )
    assert float(Fraction(6, 10)) == float(Fraction(6 * 10**17 + 1, 10**18 + 1))
    assert reference_mes_run(election, Fraction(share)) == ["0", "b"]
    assert mes(election, add1=False) == ("0", "b")


@pytest.mark.parametrize("enabled", [True, False])
def test_a_count_pauses_the_garbage_collector_and_leaves_it_as_found(
    enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    election = parse_pabulib(PABULIB / "Poland_Swiecie_2023.pb").election()
    collecting: list[bool] = []
    plain = budget.EqualShares.run

    def watched(self: budget.EqualShares, increment: int, *, stability: bool = False) -> list[int]:
        collecting.append(gc.isenabled())
        return plain(self, increment, stability=stability)

    monkeypatch.setattr(budget.EqualShares, "run", watched)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert sorted(mes(election)) == expected()["Poland_Swiecie_2023.pb"]["mes"]
        assert mes(election, add1=False)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
    assert len(collecting) > 100 and not any(collecting)


def test_counts_in_two_threads_keep_the_collector_paused_until_the_last_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A pauses the collector first; B counts on after A has ended: the
    # collector must stay paused for B, and be back on once B ends too.
    election = parse_pabulib(PABULIB / "Poland_Swiecie_2023.pb").election()
    small = Election.from_ballots(10, {"x": 6}, [{"x"}, set()])
    a_in, a_done = threading.Event(), threading.Event()
    both_in = threading.Barrier(2, timeout=30)
    after_a: list[bool] = []
    plain = budget.EqualShares.run

    def watched(self: budget.EqualShares, increment: int, *, stability: bool = False) -> list[int]:
        me = threading.current_thread().name
        if me == "A" and not a_in.is_set():
            a_in.set()
            both_in.wait()
        elif me == "B":
            if not after_a:
                both_in.wait()
            assert a_done.wait(timeout=30)
            after_a.append(gc.isenabled())
        return plain(self, increment, stability=stability)

    def count_a() -> None:
        mes(small)
        a_done.set()

    monkeypatch.setattr(budget.EqualShares, "run", watched)
    was = gc.isenabled()
    gc.enable()
    try:
        a = threading.Thread(target=count_a, name="A")
        b = threading.Thread(target=lambda: mes(election), name="B")
        a.start()
        assert a_in.wait(timeout=30)
        b.start()
        a.join(timeout=60)
        b.join(timeout=60)
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
    assert len(after_a) > 100 and not any(after_a)


def test_free_and_unapproved_projects() -> None:
    election = Election.from_ballots(5, {"a": 0, "b": 5, "c": 1}, [{"a", "b"}, {"a"}, {"a"}])
    # greedy: "b" (1 approval), then "a" and "c" at welfare 0 in id order, while they fit
    assert greedy(election) == ("b", "a")
    # MES never funds a free project (it satisfies nobody) nor an unapproved one
    assert mes(election) == ("b",)
    assert mes_then_greedy(election) == ("b", "a")


def test_add1_raises_the_share_until_exhaustive() -> None:
    election = Election.from_ballots(10, {"x": 6}, [{"x"}, set()])
    assert mes(election, add1=False) == ()  # 5 each: the one supporter cannot pay 6
    assert mes(election) == ("x",)  # 6 each: now they can


def test_add1_stops_before_the_budget_is_exceeded() -> None:
    election = Election.from_ballots(10, {"x": 6, "y": 6}, [{"x"}, {"y"}])
    assert mes(election) == ()  # at 6 each both are funded, 12 > 10: keep the outcome at 5
    assert mes_then_greedy(election) == ("x",)


def test_no_ballots() -> None:
    election = Election.from_ballots(10, {"a": 5, "b": 6}, [])
    assert greedy(election) == ("a",)
    assert mes(election) == ()
    assert mes_then_greedy(election) == ("a",)


def test_fractional_amounts_are_exact() -> None:
    election = Election.from_ballots(
        Fraction(7, 2), {"a": Fraction(3, 2), "b": Fraction(2)}, [{"a"}, {"a", "b"}, {"b"}]
    )
    assert list(mes(election)) == _reference_mes(election) == ["a", "b"]
    assert greedy(election) == ("a", "b")


def test_greedy_initial_allocation() -> None:
    election = Election.from_ballots(10, {"a": 6, "b": 5, "c": 4}, [{"b"}, {"b"}, {"c"}])
    assert greedy(election, initial=["a"]) == ("a", "c")
    with pytest.raises(FormatError, match="initial allocation"):
        greedy(election, initial=["z"])


@pytest.mark.parametrize(
    ("budget_", "costs", "ballots", "message"),
    [
        (10, {"a": -1}, [], "non-negative"),
        (-1, {"a": 1}, [], "non-negative"),
        (10, {"a": 1.5}, [], "exact number"),
        (10, {"a": 1}, [{"b"}], "unknown"),
        (True, {"a": 1}, [], "exact number"),
    ],
)
def test_elections_are_validated(budget_: Any, costs: Any, ballots: Any, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        ApprovalElection.from_ballots(budget_, costs, ballots)


# --------------------------------------------------------------------------- ballot constraints

COSTS = {"a": Fraction(400), "b": Fraction(300), "c": Fraction(200), "d": Fraction(100)}


def test_ballot_within_budget_and_threshold() -> None:
    rule = BallotConstraints.threshold_percent(1000, 50)
    check_ballot(["a", "c"], COSTS, rule)  # 600 of 1000: fine
    assert ballot_violations(["a", "b", "c", "d"], COSTS, rule) == ()  # exactly the budget
    with pytest.raises(BallotConstraintError) as info:
        check_ballot(["a", "b", "c", "d", "d"], COSTS, BallotConstraints(budget=Fraction(900)))
    assert info.value.constraint == "duplicate_project"
    assert info.value.code == "duplicate_project"
    assert isinstance(info.value, VerificationError)


def test_over_budget() -> None:
    with pytest.raises(BallotConstraintError, match="at most the budget 900, found 1000") as info:
        check_ballot(["a", "b", "c", "d"], COSTS, BallotConstraints(budget=Fraction(900)))
    assert info.value.constraint == "over_budget"


def test_minimum_share_of_the_budget() -> None:
    rule = BallotConstraints.threshold_percent(1000, 70)
    with pytest.raises(BallotConstraintError, match=r"at least 7/10 of the budget \(700\)") as info:
        check_ballot(["a", "c"], COSTS, rule)
    assert info.value.constraint == "min_share"
    check_ballot(["a", "b"], COSTS, rule)


def test_minimum_number_of_projects() -> None:
    rule = BallotConstraints.minimum_projects(1000, 3)
    with pytest.raises(BallotConstraintError, match="at least 3 projects, found 2") as info:
        check_ballot(["a", "b"], COSTS, rule)
    assert info.value.constraint == "min_projects"
    check_ballot(["b", "c", "d"], COSTS, rule)


def test_selected_projects_rule() -> None:
    rule = BallotConstraints.selected_projects(2, 3)
    assert rule.budget is None
    check_ballot(["a", "b", "c"], COSTS, rule)  # 900, but no budget applies to this rule
    for ballot, constraint in ((["a"], "min_projects"), (["a", "b", "c", "d"], "max_projects")):
        with pytest.raises(BallotConstraintError) as info:
            check_ballot(ballot, COSTS, rule)
        assert info.value.constraint == constraint


def test_every_violation_is_reported() -> None:
    rule = BallotConstraints(
        budget=Fraction(500), min_share=Fraction(1, 2), min_projects=0, max_projects=1
    )
    found = ballot_violations(["a", "b", "x", "a"], COSTS, rule)
    assert [e.constraint for e in found] == [
        "unknown_project",
        "duplicate_project",
        "over_budget",
        "max_projects",
    ]
    assert "found unknown ['x']" in str(found[0])
    assert [e.constraint for e in ballot_violations([], COSTS, rule)] == ["min_share"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": Fraction(-1)}, "budget"),
        ({"budget": None, "min_share": Fraction(1, 2)}, "needs a budget"),
        ({"budget": Fraction(1), "min_share": Fraction(3, 2)}, "min_share"),
        ({"budget": Fraction(1), "min_projects": -1}, "min_projects"),
        ({"budget": Fraction(1), "min_projects": 3, "max_projects": 2}, "max_projects"),
    ],
)
def test_constraints_are_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        BallotConstraints(**kwargs)


# --------------------------------------------------------------------------- urne-verify pb


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("pb")(pb_command)
    return app


@pytest.mark.parametrize(
    ("rule", "key"), [("greedy", "greedy"), ("mes", "mes"), ("mes-then-greedy", "mes_then_greedy")]
)
def test_pb_command_prints_sorted_ids(rule: str, key: str) -> None:
    name = "Netherlands_Assen_2024.pb"
    result = CliRunner().invoke(_cli(), [str(PABULIB / name), "--rule", rule])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == expected()[name][key]


def test_pb_command_refuses_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pb"
    bad.write_text("META\nkey;value\nbudget;x\n", encoding="utf-8")
    for path in (bad, tmp_path / "absent.pb"):
        result = CliRunner().invoke(_cli(), [str(path), "--rule", "greedy"])
        assert result.exit_code == 2
        assert "error (malformed)" in result.output
