"""What a budget count costs does not grow with the amounts in the entries.

The attack this replays: a manifest with a budget of 10**15 (or the entries'
largest integer, 2**53 - 1), rule ``mes``, one project costing B - 1, and two
ballots, one approving it. The Add1 completion of Equal Shares raised every
voter's budget one currency unit at a time, 5 * 10**14 times before the one
supporter could pay. Runs are now counted, never timed: a run at an increment
finds the next increment where a run may differ, and the increments in
between are skipped; these tests check that the skipped ones do give that
very run (against the definition, written plainly here), that the outcome is
the stepping completion's, and how many runs each rule needs.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.budgets import reference_mes_run
from urne.verifier.civic.budget import RULES, ApprovalElection, EqualShares, mes, total_cost

LARGEST = 2**53 - 1  # the largest integer an entry may carry (docs/spec/entries.md)


def stepping_add1(election: ApprovalElection) -> tuple[str, ...]:
    """Add1 as pabutools runs it, one currency unit at a time (small amounts only)."""
    if not election.ballots:
        return ()
    engine = EqualShares(election)
    previous: list[str] = []
    increment = 0
    while True:
        outcome = [engine.names[i] for i in engine.run(increment)]
        if total_cost(election, outcome) > election.budget:
            return tuple(previous)
        left = election.budget - total_cost(election, outcome)
        if all(p in outcome or election.costs[p] > left for p in engine.names):
            return tuple(outcome)
        previous, increment = outcome, increment + 1


def attack(total: int) -> ApprovalElection:
    """The attack: one project costing B - 1, one voter in two approving it."""
    return ApprovalElection.from_ballots(total, {"x": total - 1}, [{"x"}, set()])


ATTACKS: dict[str, tuple[ApprovalElection, dict[str, tuple[str, ...]]]] = {
    "one project, 10**15": (
        attack(10**15),
        {"greedy": ("x",), "mes": ("x",), "mes-then-greedy": ("x",)},
    ),
    "one project, 2**53 - 1": (
        attack(LARGEST),
        {"greedy": ("x",), "mes": ("x",), "mes-then-greedy": ("x",)},
    ),
    # y is funded at once; x only when its one supporter holds B - 1
    "a cheap project too": (
        ApprovalElection.from_ballots(LARGEST, {"x": LARGEST - 1, "y": 1}, [{"x"}, {"y"}]),
        {"greedy": ("x", "y"), "mes": ("x", "y"), "mes-then-greedy": ("x", "y")},
    ),
    # both become affordable at the same increment, together over the budget:
    # Add1 keeps the outcome before it, empty; greedy completes it
    "over the budget at the end": (
        ApprovalElection.from_ballots(
            LARGEST, {"x": LARGEST - 1, "y": LARGEST - 1}, [{"x"}, {"y"}, set()]
        ),
        {"greedy": ("x",), "mes": (), "mes-then-greedy": ("x",)},
    ),
    "many voters, three projects": (
        ApprovalElection.from_ballots(
            10**15,
            {"a": 10**15 - 1, "b": 10**14 + 7, "c": 3 * 10**13},
            [{"a"}] * 3 + [{"b", "c"}] * 40 + [set()] * 500 + [{"c"}] * 2,
        ),
        {"greedy": ("c", "b"), "mes": ("c", "b"), "mes-then-greedy": ("c", "b")},
    ),
}


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_the_attack_is_counted_in_a_few_runs(name: str, rule: str, runs: list[int]) -> None:
    election, outcomes = ATTACKS[name]
    assert RULES[rule](election) == outcomes[rule]
    assert len(runs) <= (0 if rule == "greedy" else 8), runs


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_increment_skipped_gives_the_run_that_skipped_it(name: str) -> None:
    """Checked against the definition at the first and last increment skipped
    and at random ones between (the amounts are too large to try them all)."""
    election, _ = ATTACKS[name]
    _check_skips(election, random.Random(name), samples=5)


def _check_skips(election: ApprovalElection, rng: random.Random, samples: int) -> int:
    """Follow the increments where the run may change, from 0 until no
    increment changes it; at each, the engine's run is the definition's, and
    so is the run at increments it skipped. Returns how many runs it took."""
    if not election.ballots:
        return 0
    share = election.budget / len(election.ballots)
    engine = EqualShares(election)
    increment, taken = 0, 0
    while True:
        funded = [engine.names[i] for i in engine.run(increment, stability=True)]
        taken += 1
        assert funded == reference_mes_run(election, share + increment)
        following = engine.next_change
        if following is None:
            for extra in (1, 2**20, 2**60):  # nothing changes, however large
                assert reference_mes_run(election, share + increment + extra) == funded
            return taken
        assert following > increment
        skipped = {increment + 1, following - 1}
        if following - increment > 2:
            skipped |= {rng.randrange(increment + 1, following) for _ in range(samples)}
        for between in sorted(skipped - {following}):
            assert reference_mes_run(election, share + between) == funded, (increment, between)
        increment = following


def test_a_run_does_not_change_past_budget_plus_largest_cost() -> None:
    """Why Add1 always stops: with every voter holding B + max cost, any run
    within the budget leaves each supporter of an unfunded project enough to
    fund it alone. So the increments where a run may change end there."""
    election, _ = ATTACKS["a cheap project too"]
    engine = EqualShares(election)
    far = int(election.budget + max(election.costs.values()))
    engine.run(far, stability=True)
    assert engine.next_change is None


@st.composite
def large_elections(draw: st.DrawFn) -> ApprovalElection:
    """Up to 6 projects and 9 voters, amounts anywhere up to 2**53 - 1."""
    ids = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), min_size=1, unique=True))
    scale = draw(st.sampled_from([1, 10**6, 10**12, 2**40]))
    top = max(1, LARGEST // (len(ids) * scale))
    costs = {p: draw(st.integers(min_value=0, max_value=min(top, 10**4))) * scale for p in ids}
    costs = {p: c + draw(st.integers(min_value=0, max_value=scale - 1)) for p, c in costs.items()}
    total = draw(st.integers(min_value=0, max_value=max(sum(costs.values()), 1)))
    ballots = draw(st.lists(st.frozensets(st.sampled_from(ids)), max_size=9))
    return ApprovalElection.from_ballots(min(total, LARGEST), costs, ballots)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(large_elections(), st.randoms(use_true_random=False))
def test_skipped_increments_give_the_same_run_at_any_size(
    election: ApprovalElection, rng: random.Random
) -> None:
    _check_skips(election, rng, samples=2)


@settings(max_examples=60, deadline=None)
@given(large_elections())
def test_no_rule_runs_more_often_for_larger_amounts(election: ApprovalElection) -> None:
    """However large the amounts, a handful of runs: at most 11 per place where
    the run changes, and these depend on the ballots and the ratios of the
    amounts, not on their size (docs/spec/counting-budgets.md §6)."""
    if not election.ballots:
        return
    engine = EqualShares(election)
    engine.add1()
    places = _check_skips(election, random.Random(0), samples=0)
    assert engine.runs <= 11 * places + 2


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]), st.integers(min_value=0, max_value=600), min_size=1
    ),
    st.integers(min_value=0, max_value=2000),
    st.lists(st.frozensets(st.sampled_from(["a", "b", "c", "d"])), max_size=6),
)
def test_skipping_gives_the_stepping_outcome(
    costs: dict[str, int], total: int, ballots: list[frozenset[str]]
) -> None:
    """Amounts large enough for long stretches of equal runs, small enough for
    Add1 one unit at a time, as pabutools does it, to be the witness."""
    ballots = [b & costs.keys() for b in ballots]
    election = ApprovalElection.from_ballots(total, costs, ballots)
    assert mes(election) == stepping_add1(election)


def test_scaling_every_amount_keeps_the_outcome_and_bounds_the_runs(runs: list[int]) -> None:
    """The same election in cents, in thousandths of a cent, ...: Add1 steps
    are then finer, so outcomes may differ, but the runs stay few."""
    ballots = [{"a"}, {"a", "b"}, {"b"}, {"c"}, set(), {"a", "c"}] * 7
    base = {"a": 37, "b": 52, "c": 18}
    counted: list[int] = []
    for exponent in range(0, 12, 2):
        scale = 10**exponent
        election = ApprovalElection.from_ballots(
            90 * scale, {p: c * scale for p, c in base.items()}, ballots
        )
        before = len(runs)
        outcome = mes(election)
        counted.append(len(runs) - before)
        assert total_cost(election, outcome) <= election.budget
    assert max(counted) <= 20, counted


def test_work_done_is_counted() -> None:
    engine = EqualShares(attack(10**15))
    assert [engine.names[i] for i in engine.add1()] == ["x"]
    assert engine.runs <= 4 and engine.evaluations <= 4
