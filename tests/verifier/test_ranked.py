"""Majority judgment and Schulze (docs/spec/counting-ranked.md): the counts
against published worked examples, against oracles written from the papers
one step at a time, and against votelib's Schulze; the manifest's and the
ballot's rules; the tally."""

from __future__ import annotations

import random
import statistics
import warnings
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.civic import Citizen, Institution, RegistryLog, proposal
from urne.verifier.citizen import authoring
from urne.verifier.civic import judgment
from urne.verifier.civic.entries import decode_entry
from urne.verifier.errors import FormatError

# -- Schulze: the worked example of Schulze (2011), §3.1 ---------------------------------

#: 45 voters, 5 candidates (M. Schulze, Social Choice and Welfare 36, 2011, example 1;
#: the example of the method's Wikipedia article)
SCHULZE_EXAMPLE = [
    (5, "ACBED"), (5, "ADECB"), (8, "BEDAC"), (3, "CABED"),
    (7, "CAEBD"), (2, "CBADE"), (7, "DCEBA"), (8, "EBADC"),
]  # fmt: skip


def _rankings(groups: list[tuple[int, str]]) -> list[list[str]]:
    return [list(r) for n, r in groups for _ in range(n)]


def test_schulze_worked_example() -> None:
    ids = list("ABCDE")
    d = judgment.pairwise(ids, _rankings(SCHULZE_EXAMPLE))
    assert d == [
        [0, 20, 26, 30, 22],
        [25, 0, 16, 33, 18],
        [19, 29, 0, 17, 24],
        [15, 12, 28, 0, 14],
        [23, 27, 21, 31, 0],
    ]
    assert judgment.strongest_paths(d) == [
        [0, 28, 28, 30, 24],
        [25, 0, 28, 33, 24],
        [25, 29, 0, 29, 24],
        [25, 28, 28, 0, 24],
        [25, 28, 28, 31, 0],
    ]
    assert judgment.schulze(ids, d) == [["E"], ["A"], ["C"], ["B"], ["D"]]


def _widest_by_search(d: list[list[int]], i: int, j: int) -> int:
    """The strongest path from i to j by trying every simple path (the
    definition, for small elections)."""
    m, best = len(d), 0

    def walk(at: int, seen: set[int], weakest: int) -> None:
        nonlocal best
        for k in range(m):
            if k in seen or not d[at][k] > d[k][at]:
                continue
            w = min(weakest, d[at][k])
            if k == j:
                best = max(best, w)
            else:
                walk(k, seen | {k}, w)

    walk(i, {i}, 1 << 60)
    return best


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 5), st.lists(st.permutations(range(5)), min_size=1, max_size=25), st.data())
def test_schulze_against_the_definition(m: int, perms: list[Any], data: Any) -> None:
    ids = [f"p{k}" for k in range(m)]
    rankings = []
    for perm in perms:
        order = [f"p{k}" for k in perm if k < m]
        rankings.append(order[: data.draw(st.integers(1, m))])
    d = judgment.pairwise(ids, rankings)
    # d from the definition: voter by voter, unranked proposals tied at the bottom
    for i, a in enumerate(ids):
        for j, b in enumerate(ids):
            if i != j:
                want = sum(
                    1 for r in rankings if a in r and (b not in r or r.index(a) < r.index(b))
                )
                assert d[i][j] == want
    p = judgment.strongest_paths(d)
    for i in range(m):
        for j in range(m):
            if i != j:
                assert p[i][j] == _widest_by_search(d, i, j)
    tiers = judgment.schulze(ids, d)
    winners = [a for i, a in enumerate(ids) if all(p[i][j] >= p[j][i] for j in range(m) if j != i)]
    assert tiers[0] == sorted(winners)
    # each tier: none of its proposals is beaten by a proposal not placed before it
    placed: list[int] = []
    for tier in tiers:
        members = [ids.index(pid) for pid in tier]
        rest = [i for i in range(m) if i not in placed and i not in members]
        for i in members:
            assert not any(p[j][i] > p[i][j] for j in rest)
        placed += members


def test_schulze_against_votelib() -> None:
    """votelib's Schulze (MIT, a test-only oracle) elects the same winner on
    random complete rankings with a single winner (it is not installed with
    the verifier alone: these tests then skip, the others do not)."""
    with warnings.catch_warnings():  # votelib 0.4 imports mypy_extensions.TypedDict
        warnings.simplefilter("ignore", DeprecationWarning)
        pytest.importorskip("votelib")
        import votelib.convert
        import votelib.evaluate.condorcet

    rng, compared = random.Random(11), 0
    for _ in range(400):
        m = rng.randint(2, 6)
        ids = [f"p{k}" for k in range(m)]
        rankings = [rng.sample(ids, m) for _ in range(rng.randint(1, 30))]
        tiers = judgment.schulze(ids, judgment.pairwise(ids, rankings))
        if len(tiers[0]) != 1:
            continue
        votes: dict[tuple[str, ...], int] = {}
        for r in rankings:
            votes[tuple(r)] = votes.get(tuple(r), 0) + 1
        condorcet = votelib.convert.RankedToCondorcetVotes().convert(votes)
        assert votelib.evaluate.condorcet.Schulze().evaluate(condorcet, 1) == tiers[0]
        compared += 1
    assert compared > 200


# -- majority judgment ---------------------------------------------------------------------


def _majority_value(profile: Sequence[int]) -> list[int]:
    """Balinski & Laraki's majority value from the definition: the lower
    middlemost grade, removed one at a time (grade 0 the best)."""
    values = sorted(-g for g, c in enumerate(profile) for _ in range(c))  # higher is better
    out = []
    while values:
        m = statistics.median_low(values)
        out.append(-m)
        values.remove(m)
    return out


def test_the_majority_grade_is_the_lower_middlemost() -> None:
    assert judgment.majority_grade([1, 1]) == 1  # Good and Poor: a majority says at least Poor
    assert judgment.majority_grade([2, 1]) == 0
    assert judgment.majority_grade([0, 0, 3]) == 2
    assert judgment.majority_grade([0, 0]) is None


def test_majority_judgment_worked_example() -> None:
    """Three proposals with the majority grade 2 of 5 grades, 28 judges each,
    told apart by their majority values (the tie-break of Balinski & Laraki
    2011, ch. 13): c (2,2,2,2,2,1,…) before a (2,2,2,2,3,…) before b (2,2,3,…).
    votelib 0.4.0's block removal elects b here: its tie-break is not the
    majority value (test_majority_judgment_against_the_definition)."""
    profiles = {"a": [4, 4, 8, 6, 6], "b": [9, 4, 2, 9, 4], "c": [4, 8, 7, 3, 6]}
    assert _majority_value(profiles["a"])[:5] == [2, 2, 2, 2, 3]
    assert _majority_value(profiles["b"])[:3] == [2, 2, 3]
    assert _majority_value(profiles["c"])[:6] == [2, 2, 2, 2, 2, 1]
    assert judgment.majority_judgment(profiles) == [["c"], ["a"], ["b"]]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(2, 7).flatmap(
        lambda g: st.dictionaries(
            st.sampled_from("abcdef"),
            st.lists(st.integers(0, 12), min_size=g, max_size=g),
            min_size=1,
            max_size=6,
        )
    )
)
def test_majority_judgment_against_the_definition(profiles: dict[str, list[int]]) -> None:
    n = {sum(p) for p in profiles.values()}
    if len(n) != 1 or n == {0}:
        return  # every proposal is graded by every ballot
    tiers = judgment.majority_judgment(profiles)
    flat = [pid for tier in tiers for pid in tier]
    assert sorted(flat) == sorted(profiles)
    values = {pid: _majority_value(p) for pid, p in profiles.items()}
    for a, b in pairwise(flat):
        assert values[a] <= values[b]
    for tier in tiers:
        assert len({tuple(values[pid]) for pid in tier}) == 1
    for x, y in pairwise(tiers):
        assert values[x[0]] < values[y[0]]


def test_a_majority_value_comparison_costs_grades_not_voters() -> None:
    """Two proposals with a million grades each, equal but for the last:
    the comparison removes equal grades in blocks."""
    a, b = [250_000, 250_000, 250_000, 250_000], [250_000, 250_000, 250_000, 249_999]
    b[0] += 1
    assert judgment.mj_compare(a, b) == 1 and judgment.mj_compare(b, a) == -1
    assert judgment.mj_compare(a, list(a)) == 0


# -- the manifest, the ballots and the tally ----------------------------------------------

SCALE = [
    {"id": "tres-bien", "label": {"fr": "Très bien", "en": "Very good"}},
    {"id": "bien", "label": {"fr": "Bien", "en": "Good"}},
    {"id": "passable", "label": {"fr": "Passable", "en": "Fair"}},
    {"id": "a-rejeter", "label": {"fr": "À rejeter", "en": "Reject"}},
]
MJ = {"method": "majority-judgment", "min": 3, "max": 3, "revoting": False, "grades": SCALE}
SCHULZE = {"method": "schulze", "min": 1, "max": 3, "revoting": True}


def _graded(c: Citizen, grades: list[str]) -> bytes:
    return authoring.graded_ballot(c.pid, c.pseudonym, c.credential, grades)


def test_a_majority_judgment_is_counted_from_its_grades() -> None:
    inst, log = Institution(), RegistryLog()
    log.add(inst.process("mj", "vote", rule=MJ))
    grades = [
        ["tres-bien", "bien", "a-rejeter"],
        ["bien", "bien", "passable"],
        ["passable", "tres-bien", "a-rejeter"],
    ]
    for g in grades:
        log.add(_graded(Citizen.enrol(inst, "mj"), g))
    t = log.reg.tally("mj", log.n - 1)
    assert t["profiles"] == {"a": [1, 1, 1, 0], "b": [1, 2, 0, 0], "c": [0, 0, 1, 2]}
    assert t["majority_grades"] == {"a": "bien", "b": "bien", "c": "a-rejeter"}
    assert t["ranking"] == [["b"], ["a"], ["c"]] and t["winners"] == ["b"]
    assert t["grades"] == ["tres-bien", "bien", "passable", "a-rejeter"]
    assert t["ballots"] == 3


def test_a_majority_judgments_rules() -> None:
    inst, log = Institution(), RegistryLog()
    log.add(inst.process("mj", "vote", rule=MJ))
    c = Citizen.enrol(inst, "mj")
    log.refuse(_graded(c, ["bien", "bien"]), "bad_grades")
    log.refuse(_graded(c, ["bien", "bien", "excellent"]), "bad_grades")
    log.refuse(c.ballot(["a"]), "bad_choice")  # a choice where grades are due
    log.refuse(inst.paper("mj", "desk", counts={"a": 1}), "bad_batch")
    log.add(_graded(c, ["bien", "bien", "bien"]))
    log.refuse(_graded(c, ["bien", "bien", "passable"]), "already_voted")
    # grades for a vote that is not a majority judgment
    log.add(inst.process("v", "vote"))
    log.refuse(_graded(Citizen.enrol(inst, "v"), ["a"]), "bad_choice")


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({**MJ, "min": 1}, "grades every proposal"),
        ({**MJ, "grades": SCALE[:1]}, "2 to 10 grades"),
        ({**MJ, "grades": [SCALE[0], SCALE[0]]}, "appears twice"),
        ({k: v for k, v in MJ.items() if k != "grades"}, "missing field"),
        ({**SCHULZE, "grades": SCALE}, "unknown field"),
    ],
)
def test_a_graded_or_ranked_rule_out_of_shape_is_refused(rule: dict[str, Any], words: str) -> None:
    with pytest.raises(FormatError, match=words):
        decode_entry(Institution().process("x", "vote", rule=rule))


def test_neither_is_offered_secret() -> None:
    from tests.support.secret import Board

    board = Board.make("x", 3, 2)
    for rule in (MJ, SCHULZE):
        with pytest.raises(FormatError) as e:
            decode_entry(
                Institution().process("x", "vote", rule=rule, secret=board.manifest_field())
            )
        assert e.value.code == "secret_not_offered"


def test_a_schulze_vote_is_counted_from_its_rankings() -> None:
    inst, log = Institution(), RegistryLog()
    props = [proposal(x, f"Option {x}") for x in "ABCDE"]
    log.add(inst.process("s", "vote", rule={**SCHULZE, "max": 5}, proposals=props))
    for n, ranking in SCHULZE_EXAMPLE:
        for _ in range(n):
            log.add(Citizen.enrol(inst, "s").ballot(list(ranking)))
    t = log.reg.tally("s", log.n - 1)
    assert t["ranking"] == [["E"], ["A"], ["C"], ["B"], ["D"]] and t["winners"] == ["E"]
    assert t["pairwise"]["A"]["B"] == 20 and t["strongest_paths"]["E"]["D"] == 31
    c = Citizen.enrol(inst, "s")
    log.refuse(c.ballot(["A", "Z"]), "unknown_proposal")
    log.refuse(c.ballot([]), "bad_choice_count")
    log.refuse(inst.paper("s", "desk", counts={"A": 1}), "bad_batch")
    # no ballots: everyone in one tier, nobody wins
    log.add(inst.process("empty", "vote", rule=SCHULZE))
    assert log.reg.tally("empty", log.n - 1)["winners"] == []


def test_random_elections_count_the_same_through_the_registry() -> None:
    rng = random.Random(7)
    inst, log = Institution(), RegistryLog(credentials=False)
    log.add(inst.process("mj", "vote", rule=MJ))
    ids = ["a", "b", "c"]
    ballots = [[rng.choice(SCALE)["id"] for _ in ids] for _ in range(60)]
    for g in ballots:
        log.add(_graded(Citizen.enrol(inst, "mj"), g))
    scale = [g["id"] for g in SCALE]
    profiles = {
        pid: [sum(1 for b in ballots if b[k] == g) for g in scale] for k, pid in enumerate(ids)
    }
    assert log.reg.tally("mj", log.n - 1)["ranking"] == judgment.majority_judgment(profiles)


def test_large_profiles_compare_by_their_definition() -> None:
    """Equal profiles, and profiles whose majority values alternate between
    two grades for a long while, compare as the definition says, on a
    hundred thousand ballots (the comparison jumps over runs of grades)."""
    n = 100_000
    assert judgment.mj_compare([n, 0, n], [n, 0, n]) == 0
    assert judgment.mj_compare([1, n - 1, 0, 0, n], [0, n, 0, 0, n]) == -1
    assert judgment.mj_compare([0, n, 0, 0, n], [1, n - 1, 0, 0, n]) == 1
    small = ([1, 9, 0, 0, 10], [0, 10, 0, 0, 10])
    assert judgment.mj_compare(*small) == (
        _majority_value(small[0]) > _majority_value(small[1])
    ) - (_majority_value(small[0]) < _majority_value(small[1]))


def test_a_schulze_ballot_ranks_at_least_one_proposal() -> None:
    with pytest.raises(FormatError, match="min >= 1"):
        decode_entry(Institution().process("x", "vote", rule={**SCHULZE, "min": 0}))
