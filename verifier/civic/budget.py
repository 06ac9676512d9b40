"""Participatory budgets: outcome rules with cost utilities, and ballot constraints.

An observer recounts a participatory budget from the ballots alone, so the rules
here are specified to the last tie (docs/spec/counting-budgets.md) and computed with
exact rational arithmetic: no float ever decides which project is funded.

Rules (names as in pabutools 1.2.3, whose exact-fraction outcomes they equal on
every election in ``vectors/pabulib/``):

* :func:`greedy` -- pabutools ``greedy_utilitarian_welfare(sat_class=Cost_Sat)``:
  projects by number of approvals, skipping those that no longer fit.
* :func:`mes` -- the Method of Equal Shares with cost utilities (Peters &
  Skowron, "Proportionality and the limits of welfarism", EC 2020;
  https://equalshares.net) and the Add1 completion: pabutools
  ``method_of_equal_shares(sat_class=Cost_Sat, voter_budget_increment=1)``.
* :func:`mes_then_greedy` -- pabutools ``completion_by_rule_combination`` of the
  two: MES, then greedy on what is left when MES is not exhaustive.

Ties are broken by project id compared as text (Python ``str`` order, i.e. by
code point), as pabutools' default ``lexico_tie_breaking`` does.

Ballot constraints (:func:`check_ballot`) follow Decidim's budgeting voting
rules: never over the budget, a minimum share of the budget, a minimum number
of projects, or a minimum and maximum number of projects.

Why the MES code is longer than the definition: the Add1 completion reruns MES
once per currency unit added to every voter's budget (246 runs on Warsaw
Mokotów 2020; 5 * 10**14 for a budget of 10**15 with one voter in two
approving its one project). The run is piecewise constant in that increment,
so a run can tell the next increment where it may change (``_Stability``) and
the increments in between are skipped: what the completion costs then depends
on how often the run changes, never on the size of the amounts
(docs/spec/counting-budgets.md §6). Each run is exact and identical in outcome
to the definition, but work that does not depend on the budget increment is
shared between runs:
voters with identical approval sets are one weighted group; voters whose
budgets are provably equal form a *class* (same history of payments), and the
classes, the supporters of each project aggregated by class, and the group to
class maps are kept from one run to the next for as long as the runs select
the same projects in the same order; and, since with the same history a
larger increment leaves every class at least as rich, supporters who paid the
full price once keep doing so and projects far from affordable stay so, which
spares looking at them again. Money is held as integers on a common
denominator that grows as payments are made. ``reference_mes_run`` in
``tests/support/budgets.py`` is the definition written plainly; the fast
code is compared with it and with pabutools.
"""

from __future__ import annotations

import gc
import heapq
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import gcd, lcm
from operator import itemgetter

from urne.verifier.errors import FormatError, VerificationError

__all__ = [
    "RULES",
    "ApprovalElection",
    "BallotConstraintError",
    "BallotConstraints",
    "EqualShares",
    "ballot_violations",
    "check_ballot",
    "greedy",
    "greedy_by_approvals",
    "greedy_completion",
    "is_exhaustive",
    "mes",
    "mes_then_greedy",
    "total_cost",
]

Amount = int | Fraction | Decimal


def _amount(value: Amount, what: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | Fraction | Decimal):
        raise FormatError(
            f"{what}: expected an exact number (int, Fraction or Decimal), "
            f"found {type(value).__name__} {value!r}"
        )
    if isinstance(value, Decimal) and not value.is_finite():
        raise FormatError(f"{what}: expected a finite number, found {value}")
    amount = Fraction(value)
    if amount < 0:
        raise FormatError(f"{what}: expected a non-negative amount, found {amount}")
    return amount


@dataclass(frozen=True, slots=True, eq=False)
class ApprovalElection:
    """A participatory budget to count: the budget, each project's cost, the ballots.

    Every ballot is the set of project ids its voter approves; an empty ballot
    is a voter all the same (it counts in the per-voter share of MES). Built by
    :meth:`from_ballots` or by ``urne.verifier.civic.pabulib.PabulibInstance.election``.
    """

    budget: Fraction
    costs: Mapping[str, Fraction]
    ballots: tuple[frozenset[str], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.budget, Fraction) or self.budget < 0:
            raise FormatError(f"budget: expected a non-negative Fraction, found {self.budget!r}")
        for project, cost in self.costs.items():
            if not isinstance(project, str) or not isinstance(cost, Fraction) or cost < 0:
                raise FormatError(
                    f"project {project!r}: expected a text id and a non-negative Fraction cost, "
                    f"found cost {cost!r}"
                )
        for index, ballot in enumerate(self.ballots):
            unknown = ballot - self.costs.keys()
            if unknown:
                raise FormatError(
                    f"ballot {index}: expected ids of the election's projects, "
                    f"found unknown {sorted(unknown)}"
                )

    @classmethod
    def from_ballots(
        cls,
        budget: Amount,
        costs: Mapping[str, Amount],
        ballots: Iterable[Iterable[str]],
    ) -> ApprovalElection:
        """Build an election from plain numbers and iterables of project ids."""
        return cls(
            budget=_amount(budget, "budget"),
            costs={str(p): _amount(c, f"cost of project {p!r}") for p, c in costs.items()},
            ballots=tuple(frozenset(b) for b in ballots),
        )

    def approvals(self) -> Counter[str]:
        """Number of ballots approving each project (projects nobody approves are absent)."""
        return Counter(p for ballot in self.ballots for p in ballot)


def total_cost(election: ApprovalElection, projects: Iterable[str]) -> Fraction:
    """The sum of the costs of ``projects``."""
    return sum((election.costs[p] for p in projects), Fraction(0))


def is_exhaustive(
    election: ApprovalElection, selected: Iterable[str], among: Iterable[str] | None = None
) -> bool:
    """True when no project of ``among`` (default: all) outside ``selected`` still fits.

    pabutools ``Instance.is_exhaustive``; an outcome over the budget is exhaustive too.
    """
    chosen = set(selected)
    left = election.budget - total_cost(election, chosen)
    candidates = election.costs if among is None else among
    return all(p in chosen or election.costs[p] > left for p in candidates)


# --------------------------------------------------------------------------- greedy


def greedy(election: ApprovalElection, initial: Iterable[str] = ()) -> tuple[str, ...]:
    """Greedy by approvals within the budget: pabutools ``greedy_utilitarian_welfare``.

    With cost utilities a project's welfare per unit of money is its number of
    approvals (``approvals * cost / cost``), so projects are taken by approvals,
    most first, ties by project id as text; a project that no longer fits is
    skipped and the next one tried. A project costing 0 has no welfare per unit
    in pabutools (its cost satisfaction is 0), so it ranks with the projects
    nobody approves, after every approved project that costs something; these
    are still taken, in id order, while they fit. Projects in ``initial`` are
    already funded (their cost is spent) and are returned first.
    """
    return greedy_by_approvals(
        election.budget, election.costs, election.approvals(), initial=initial
    )


def greedy_by_approvals(
    budget: Fraction,
    costs: Mapping[str, Fraction],
    approvals: Mapping[str, int],
    initial: Iterable[str] = (),
) -> tuple[str, ...]:
    """:func:`greedy` from the number of approvals of each project alone: the
    count of a secret budget, whose ballots are never decrypted one by one."""
    chosen = list(dict.fromkeys(initial))
    for project in chosen:
        if project not in costs:
            raise FormatError(f"initial allocation: expected a project id, found {project!r}")
    taken = set(chosen)
    left = budget - sum((costs[p] for p in chosen), Fraction(0))

    def density(project: str) -> int:
        return approvals.get(project, 0) if costs[project] > 0 else 0

    ranked = sorted((p for p in costs if p not in taken), key=lambda p: (-density(p), p))
    for project in ranked:
        cost = costs[project]
        if cost <= left:
            chosen.append(project)
            left -= cost
    return tuple(chosen)


# --------------------------------------------------------------------------- MES


class _Round:
    """What one MES round starts from, for a given history of earlier selections.

    Independent of the budget increment: which class each voter group is in,
    and each evaluated project's supporters aggregated by class.
    """

    __slots__ = (
        "class_count",
        "classes_of",
        "moved",
        "selected",
        "short",
        "split",
        "supporters",
    )

    def __init__(self, classes_of: list[int], class_count: int) -> None:
        self.classes_of = classes_of
        self.class_count = class_count
        self.supporters: dict[int, dict[int, int]] = {}
        #: project -> its supporters' classes as its last evaluation left them
        self.split: dict[int, _Support] = {}
        #: project -> (increment, n, d) when unaffordable: its supporters then
        #: lacked n / d currency units
        self.short: dict[int, tuple[int, int, int]] = {}
        self.selected = -1
        #: class -> the class it becomes, for the selected project's supporters
        self.moved: dict[int, int] = {}


class _Support:
    """A project's supporters at the start of a round, by class, as last evaluated.

    With the same history, a class's budget only grows with the increment and
    the project's price per supporter q only falls, so a class that paid q
    rather than all it had keeps doing so in later runs: it moves to ``rich``
    for good, its weight counted in ``richness``. ``maybe`` holds the classes
    (with their weights) that paid all they had, ``dead`` those that had
    nothing; only these are looked at again. A new one holds its supporters
    by class in ``fresh`` until its first evaluation sorts them out, in the
    same loop that reads their budgets (one pass instead of two).

    When the project is funded, the classes that paid all they had are left
    with nothing: only the ``rich`` ones (all of them, and only them, pay q:
    a class pays q exactly when it holds at least q) have children with
    money, so only they are visited then.
    """

    __slots__ = ("dead", "dead_weights", "fresh", "maybe", "rich", "richness")

    def __init__(self, by_class: dict[int, int]) -> None:
        self.fresh = by_class
        self.maybe: list[tuple[int, int]] = []
        self.dead: list[int] = []
        self.dead_weights: list[int] = []
        self.rich: list[int] = []
        self.richness = 0

    def revive(self, value: list[int]) -> None:
        """Move the dead classes that have money again to ``maybe``."""
        dead, weights = self.dead, self.dead_weights
        self.dead, self.dead_weights = [], []
        for c, w in zip(dead, weights, strict=True):
            if value[c]:
                self.maybe.append((c, w))
            else:
                self.dead.append(c)
                self.dead_weights.append(w)


_first = itemgetter(0)


#: Counts running now in this process, and whether the first of them paused
#: the collector (so the last one out restarts it).
_counting = threading.Lock()
_counts = 0
_paused = False


@contextmanager
def _uncollected() -> Iterator[None]:
    """Pause the cyclic garbage collector while any count runs in the process.

    A count keeps a growing trail alive (rounds, classes, each project's
    supporters by class: hundreds of thousands of lists, tuples and dicts on
    the largest pabulib files), so the collector's passes, each started by 700
    more containers kept, keep walking it: a tenth of the time of Add1 there
    (12 % on Toulouse 2022), for nothing, since a count makes no reference
    cycle and reference counting frees all it drops.

    The collector is the process's: the first count in pauses it (unless it
    was paused already, by the caller or anyone else) and the last count out
    restarts it, so counts in several threads overlap safely. Meanwhile other
    threads' cyclic garbage waits for the end of the counts.
    """
    global _counts, _paused
    with _counting:
        if not _counts:
            _paused = gc.isenabled()
            gc.disable()
        _counts += 1
    try:
        yield
    finally:
        with _counting:
            _counts -= 1
            if not _counts and _paused:
                _paused = False
                gc.enable()


class _Ratio:
    """An exact ratio ``n / d`` (``d > 0``), compared by cross-multiplication.

    A project's rho in the heap keys, after its float: the float orders almost
    every pair in C, and this breaks the float's ties exactly, at a fraction of
    what :class:`~fractions.Fraction`, which reduces every value it makes and
    checks its operands' types on every comparison, costs (many projects tie
    exactly, as with the same number of supporters all paying q: on Toulouse
    2022, 330,000 comparisons in a count reach the exact ratio). Only ever
    compared with another ``_Ratio``.
    """

    __slots__ = ("d", "n")

    def __init__(self, n: int, d: int) -> None:
        self.n = n
        self.d = d

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Ratio):
            return NotImplemented
        return self.n * other.d == other.n * self.d

    def __lt__(self, other: _Ratio) -> bool:  # the one order heapq and tuples ask
        return self.n * other.d < other.n * self.d

    __hash__ = None  # type: ignore[assignment]


#: A heap entry: a lower bound of a project's rho (as a float, then exactly),
#: its id and its index. Whole entries compare as the definition orders
#: projects: least rho first, ties to the least id.
_Entry = tuple[float, _Ratio, str, int]

#: Add1 runs with the same outcome in a row before a run also finds where its
#: decisions change (finding it costs about a third of a run; where outcomes
#: change at almost every increment, as on the largest files, it would not pay).
_REPEATS_BEFORE_LOOKING_AHEAD = 1
#: After a look ahead that skipped nothing, that many plain runs at most (1, 2,
#: 4, ... in a row of such looks) before the next one.
_MOST_RUNS_BEFORE_LOOKING_AGAIN = 8


class _Stability:
    """How far the increment can grow before one decision of a run changes.

    Add1 looks for the first increment whose run is exhaustive or over the
    budget, trying every increment in turn; but a run's outcome is piecewise
    constant in the increment, so only the increments where it may change
    need a run. Over a range where a run makes every decision as it did (same
    affordable projects, same winner in each round, same supporters paying
    all they have), every class budget is a linear function of the extra
    increment ``x``: class 0 holds ``b + x``; a payment ``q = (c - paid) / U``
    is linear too, ``paid`` being what the capped classes hold; a capped class
    is left with 0, an uncapped one with its budget minus ``q``. Each class
    keeps its *slope*, in money units per unit of increment (at least 0: money
    only grows with the increment, and ``q`` only falls), on the scale and
    epoch of its budget, so all the arithmetic here is on integers.

    A decision holds while a linear inequality does; the run records the
    least ``x`` at which one of them may turn:

    * the winner's capped classes stay capped while they hold at most ``q``
      (its uncapped classes stay so: their budget grows and ``q`` falls);
    * an unaffordable project stays so while its supporters hold less than
      its cost. One skipped on an earlier run's bound is first bounded
      cheaply (all voters together gain ``n`` per unit), and exactly only
      when that bound would decide;
    * a project that lost a round keeps losing it while its rho stays above
      the winner's. Its rho is at least the line with its capped classes
      frozen (a capped class that comes to hold more than ``q`` pays only
      ``q``, so the others pay more, never less), and that line is compared
      with the winner's, which is exact by the first point. A project the lazy
      search did not look at (its bound above the best's, or equal to it with
      a larger id) is compared, with the line it had when last
      looked at (within a run, rho never falls) or ``1 / supporters``,
      against the winner of the last round it sat out (within a run, the
      winning rho never falls from round to round).

    These are every inequality the definition's run tests, so a run at any
    increment in ``[t, t + x)`` is this very run: same projects in the same
    order. A line is ``(a, k, d)``: rho ``a / d`` falling by ``k / d`` per unit.

    The idea of computing the next budget at which the outcome changes is the
    add-opt completion's (Kraiczy, Robinson & Elkind, "Streamlining Equal
    Shares", 2025, for Exact Equal Shares); here it serves Add1 itself, whose
    outcome it leaves unchanged.
    """

    __slots__ = (
        "best_lines",
        "contenders",
        "denominator",
        "engine",
        "increment",
        "lines",
        "made",
        "numerator",
        "pending",
        "rising",
        "slope",
    )

    def __init__(self, engine: EqualShares, increment: int) -> None:
        self.engine = engine
        self.increment = increment
        #: per class, money units per unit of increment, at the scale of its epoch
        self.slope = [0] * engine.class_count
        self.slope[0] = engine.unit
        #: how many classes hold nothing now but gain with the increment
        self.rising = 0
        #: the least offset found so far where a decision may change, as a ratio
        self.numerator, self.denominator = 0, 0
        #: project -> its line when last evaluated, and the round it was made in
        self.lines: dict[int, tuple[int, int, int]] = {}
        self.made: dict[int, int] = {}
        #: the winner's line in each round
        self.best_lines: list[tuple[int, int, int]] = []
        #: affordable projects evaluated in the current round
        self.contenders: list[int] = []
        #: (project, round, (increment, n, d)) skipped on an earlier run's shortfall
        self.pending: list[tuple[int, int, tuple[int, int, int]]] = []

    def _change_at(self, numerator: int, denominator: int) -> None:
        """A decision may change at offset ``numerator / denominator`` (never,
        if ``denominator`` is 0: the two sides do not draw closer)."""
        if denominator > 0 and (
            not self.denominator or numerator * self.denominator < self.numerator * denominator
        ):
            self.numerator, self.denominator = max(numerator, 0), denominator

    def _stays_above(self, line: tuple[int, int, int], best: tuple[int, int, int]) -> None:
        """``line`` (a loser's rho) stays above ``best`` (the winner's) until they cross."""
        a, k, d = line
        best_a, best_k, best_d = best
        closing = k * best_d - best_k * d
        if closing > 0:
            self._change_at(a * best_d - best_a * d, closing)

    def _gain(self, support: _Support, epoch: list[int], rescale: list[int]) -> int:
        """What the classes in ``maybe`` and ``dead`` gain together per unit of
        increment (``maybe`` classes were just brought to the current scale)."""
        slope = self.slope
        total = 0
        for c, w in support.maybe:
            total += w * slope[c]
        if self.rising:
            for c, w in zip(support.dead, support.dead_weights, strict=True):
                if slope[c]:
                    total += w * slope[c] * rescale[epoch[c]]
        return total

    def popped(self, project: int, r: int) -> None:
        """``project`` is looked at in round ``r``; it sat out the rounds since its line."""
        made = self.made.get(project)
        if made is not None and made < r - 1:
            self._stays_above(self.lines[project], self.best_lines[r - 1])

    def unaffordable(
        self, support: _Support, shortfall: int, epoch: list[int], rescale: list[int]
    ) -> None:
        """All of ``support`` is capped and lacks ``shortfall`` units."""
        gain = self._gain(support, epoch, rescale)
        if gain:
            self._change_at(shortfall, gain)

    def affordable(
        self,
        project: int,
        r: int,
        rest: int,
        uncapped: int,
        cost: int,
        support: _Support,
        epoch: list[int],
        rescale: list[int],
    ) -> None:
        """``project`` (``cost`` units) is affordable in round ``r``: ``rest`` units
        left once its capped classes (now ``support.maybe``) paid, split over
        ``uncapped`` voters."""
        self.lines[project] = (rest, self._gain(support, epoch, rescale), uncapped * cost)
        self.made[project] = r
        self.contenders.append(project)

    def funded(
        self,
        r: int,
        best: int,
        numerator: int,
        uncapped: int,
        value: list[int],
        epoch: list[int],
        rescale: list[int],
    ) -> int:
        """Round ``r`` funds ``best``, each uncapped supporter paying ``numerator /
        uncapped`` units; returns how much that payment falls per unit of
        increment, times ``uncapped``."""
        line = self.lines[best]
        self.best_lines.append(line)
        for project in self.contenders:
            if project != best:
                self._stays_above(self.lines[project], line)
        self.contenders.clear()
        falls, slope = line[1], self.slope
        support = self.engine.rounds[r].split[best]
        for c, _ in support.maybe:  # capped: holds at most q until they meet
            self._change_at(numerator - value[c] * uncapped, slope[c] * uncapped + falls)
        if self.rising:
            for c in support.dead:
                if slope[c]:
                    self._change_at(numerator, slope[c] * rescale[epoch[c]] * uncapped + falls)
        return falls

    def finish(
        self, value: list[int], epoch: list[int], rescale: list[int], scale: int
    ) -> int | None:
        """The least increment above this run's at which a decision may change."""
        engine = self.engine
        for project, r, (then, lacked, per) in self.pending:
            # lacking ``lacked / per`` at ``then``, they lack it still until
            # lacked / (per * n) - (increment - then): decisive only below the bound
            if self.denominator and lacked * self.denominator >= (
                per * engine.voters * (self.numerator + (self.increment - then) * self.denominator)
            ):
                continue
            support = engine.rounds[r].split[project]
            held = gain = 0
            for c, w in (*support.maybe, *zip(support.dead, support.dead_weights, strict=True)):
                m = rescale[epoch[c]]
                held += w * value[c] * m
                gain += w * self.slope[c] * m
            if gain:
                self._change_at(engine.costs[project] * scale - held, gain)
        if not self.denominator:
            return None
        return self.increment + max(1, -(-self.numerator // self.denominator))


class EqualShares:
    """MES with cost utilities on one election, runnable for any budget increment.

    Terms: a *group* is the voters with one approval set (restricted to the
    projects MES can fund), of weight its number of voters. A *class* is a set
    of groups whose budgets are equal in every run with the current history:
    class 0 is everyone; when a project is funded, the supporters in class c
    move to a new class "c after paying", whose budget is max(0, b_c - q).
    Money is in units of 1/(n*D*F) of the currency: n voters, D the common
    denominator of the budget and costs, F the product of the denominators the
    payments so far have introduced (tracked per class by its *epoch*).
    """

    def __init__(self, election: ApprovalElection) -> None:
        approvals = election.approvals()
        # pabutools funds neither unapproved projects nor (with cost utilities,
        # where a free project gives no satisfaction) projects costing 0.
        self.names = sorted(p for p, c in election.costs.items() if c > 0 and approvals[p] > 0)
        index = {p: i for i, p in enumerate(self.names)}
        self.voters = len(election.ballots)
        groups = Counter(
            frozenset(index[p] for p in ballot if p in index) for ballot in election.ballots
        )
        self.weights: list[int] = []
        self.supporters: list[list[int]] = [[] for _ in self.names]
        for approved, weight in groups.items():
            if approved:
                for i in approved:
                    self.supporters[i].append(len(self.weights))
                self.weights.append(weight)
        self.support = [sum(self.weights[g] for g in groups_) for groups_ in self.supporters]
        self.supporter_sets = [frozenset(groups_) for groups_ in self.supporters]
        self.shared: dict[tuple[int, int], list[int]] = {}
        denominator = lcm(
            election.budget.denominator, *(election.costs[p].denominator for p in self.names)
        )
        self.unit = self.voters * denominator  # units per currency unit at the start
        self.costs = [int(election.costs[p] * self.unit) for p in self.names]
        self.share = int(election.budget * denominator)  # budget / n, in units
        self.budget = election.budget
        self.rounds: list[_Round] = []
        self.class_count = 1
        self.increment = 0
        #: work done so far: MES runs, and projects evaluated over all runs
        self.runs = 0
        self.evaluations = 0
        #: after a run with ``stability``: the least increment above it whose run
        #: may differ from it (None: no larger increment changes anything)
        self.next_change: int | None = None
        # Lower bounds of each project's rho before the first round: 1 / supporters.
        # Heap entries carry the float of rho first: rounding is monotone, so comparing
        # (float, _Ratio) pairs orders exactly as the ratios, mostly in C.
        self.start: list[_Entry] = []
        for i, name in enumerate(self.names):
            self.start.append((1 / self.support[i], _Ratio(1, self.support[i]), name, i))
        heapq.heapify(self.start)

    def _both(self, project: int, other: int) -> list[int]:
        """The groups approving both projects (remembered: divergences ask again)."""
        found = self.shared.get((project, other))
        if found is None:
            mine, theirs = self.supporters[project], self.supporter_sets[other]
            found = self.shared[(project, other)] = [g for g in mine if g in theirs]
        return found

    def _supporters_by_class(self, r: int, project: int) -> dict[int, int]:
        """Weight of ``project``'s supporters in each class at the start of round ``r``."""
        rnd = self.rounds[r]
        found = rnd.supporters.get(project)
        if found is not None:
            return found
        weights = self.weights
        by_class: dict[int, int] = {}
        start = r - 1  # derive from a recent round that knows them, if any
        while start >= max(0, r - 8) and project not in self.rounds[start].supporters:
            start -= 1
        if start >= max(0, r - 8):
            by_class.update(self.rounds[start].supporters[project])
            for j in range(start, r):  # move those who paid for round j's project
                before = self.rounds[j]
                classes_of, moved = before.classes_of, before.moved
                for g in self._both(project, before.selected):
                    c, w = classes_of[g], weights[g]
                    left = by_class[c] - w
                    if left:
                        by_class[c] = left
                    else:
                        del by_class[c]
                    child = moved[c]
                    by_class[child] = by_class.get(child, 0) + w
        else:
            classes_of = rnd.classes_of
            for g in self.supporters[project]:
                c = classes_of[g]
                by_class[c] = by_class.get(c, 0) + weights[g]
        rnd.supporters[project] = by_class
        return by_class

    def run(self, increment: int, *, stability: bool = False) -> list[int]:
        """One exact MES run with ``budget/n + increment`` per voter; funded projects in order.

        What is kept between runs holds for increments that never decrease, as
        Add1 asks them; a smaller increment starts afresh.

        With ``stability``, the run also finds how far the increment may grow
        with every one of its decisions unchanged (:class:`_Stability`), and
        sets :attr:`next_change` to the least larger increment whose run may
        differ: every increment in between gives this very run.
        """
        if increment < self.increment:
            self.rounds.clear()
            self.class_count = 1
        self.increment = increment
        self.runs += 1
        costs = self.costs
        value = [0] * self.class_count  # class budgets, at the scale of their epoch
        value[0] = self.share + increment * self.unit
        track = _Stability(self, increment) if stability else None
        slope = None if track is None else track.slope
        if track is not None and not value[0]:  # a budget of 0: class 0 only gains
            track.rising += 1
        epoch = [0] * self.class_count
        rescale = [1]  # rescale[e]: current scale / scale of epoch e
        scale = 1
        now = 0  # the current epoch
        heap = self.start[:]  # lower bounds of each project's rho (pabutools' "affordability")
        funded: list[int] = []
        r = 0
        while True:
            if r == len(self.rounds):
                self.rounds.append(_Round([0] * len(self.weights), 1))
            rnd = self.rounds[r]
            best = -1
            best_entry: _Entry | None = None
            best_pay = (0, 1)
            popped: list[_Entry] = []
            # Lazy search for the least rho: a rho only grows during a run, so a
            # stale value is a lower bound and projects above the best are skipped.
            while heap and (best_entry is None or heap[0] < best_entry):
                _, _, name, i = heapq.heappop(heap)
                if track is not None:
                    track.popped(i, r)
                short = rnd.short.get(i)
                # Same history, so the same money spent: all voters together hold
                # exactly n more per unit of increment, and nobody holds less.
                if short and self.voters * (increment - short[0]) * short[2] < short[1]:
                    if track is not None:
                        track.pending.append((i, r, short))
                    continue
                self.evaluations += 1
                support = rnd.split.get(i)
                if support is None:
                    support = rnd.split[i] = _Support(self._supporters_by_class(r, i))
                elif support.dead and any(map(value.__getitem__, support.dead)):
                    support.revive(value)
                pool: Iterable[tuple[int, int]] = support.maybe
                if support.fresh:  # every supporter class, the dead ones set apart below
                    pool = support.fresh.items()
                    support.fresh = {}
                items: list[tuple[int, int, int]] = []
                uncapped = support.richness
                for c, w in pool:
                    v = value[c]
                    if not v:  # only when fresh: a class with money keeps it as t grows
                        support.dead.append(c)
                        support.dead_weights.append(w)
                        continue
                    e = epoch[c]
                    if e != now:  # bring to the current scale, and keep it there
                        v *= rescale[e]
                        value[c], epoch[c] = v, now
                        if slope is not None:
                            slope[c] *= rescale[e]
                    items.append((v, w, c))
                    uncapped += w
                # By budget alone: classes with equal budgets are all capped or
                # all not (the margin below is the same for both), so their
                # order is immaterial, and comparing tuples would also test
                # every budget for equality first.
                items.sort(key=_first)
                cost = costs[i] * scale
                paid, k = 0, 0
                for v, w, _ in items:  # poorest first: do they pay all they have?
                    if cost - paid <= v * uncapped:
                        break
                    paid += v * w
                    uncapped -= w
                    k += 1
                if k < len(items) or pool is not support.maybe:
                    support.maybe = [(c, w) for _, w, c in items[:k]]
                if k == len(items) and not uncapped:  # all they have is less than the cost
                    rnd.short[i] = (increment, cost - paid, self.unit * scale)
                    if track is not None:
                        track.unaffordable(support, cost - paid, epoch, rescale)
                    continue  # unaffordable for the rest of this run
                support.richness = uncapped
                if k < len(items):  # these pay q: rich for the rest of this history
                    support.rich.extend([c for _, _, c in items[k:]])
                # each uncapped supporter pays q = (cost - paid) / uncapped; rho = q / cost
                rho = _Ratio(cost - paid, uncapped * cost)
                if track is not None:
                    track.affordable(i, r, cost - paid, uncapped, cost, support, epoch, rescale)
                # int / int is correctly rounded, as Fraction's float is
                entry = ((cost - paid) / (uncapped * cost), rho, name, i)
                popped.append(entry)
                if best_entry is None or entry < best_entry:
                    best, best_entry, best_pay = i, entry, (cost - paid, uncapped)
            if best < 0:
                if track is not None:
                    self.next_change = track.finish(value, epoch, rescale, scale)
                return funded
            for entry in popped:
                if entry[3] != best:
                    heapq.heappush(heap, entry)
            funded.append(best)
            if rnd.selected != best:
                # A different history from here on: forget later rounds and their classes.
                del self.rounds[r + 1 :]
                self.class_count = rnd.class_count
                rnd.selected = best
                paying = self._supporters_by_class(r, best)
                first = self.class_count
                self.class_count += len(paying)
                rnd.moved = moved = dict(zip(paying, range(first, self.class_count), strict=True))
                following = rnd.classes_of[:]
                for g in self.supporters[best]:
                    following[g] = moved[following[g]]
                self.rounds.append(_Round(following, self.class_count))
            numerator, uncapped = best_pay
            if track is None:
                common = gcd(numerator, uncapped)
            else:  # q's slope, falls / uncapped, must be whole at the new scale too
                falls = track.funded(r, best, numerator, uncapped, value, epoch, rescale)
                common = gcd(numerator, uncapped, falls)
            factor, q = uncapped // common, numerator // common  # q at the new scale
            if factor != 1:
                scale *= factor
                rescale = [m * factor for m in rescale]
            rescale.append(1)
            now = len(rescale) - 1
            grow = self.class_count - len(value)
            if grow > 0:
                value.extend([0] * grow)
                epoch.extend([0] * grow)
                if slope is not None:
                    slope.extend([0] * grow)
            # Only the classes that paid q keep money (the others paid all they
            # had): their children get what is left; the rest stay at 0.
            moved = rnd.moved
            if track is None or slope is None:
                for c in rnd.split[best].rich:
                    v = value[c] * rescale[epoch[c]] - q
                    if v:
                        child = moved[c]
                        value[child] = v
                        epoch[child] = now
            else:
                gain = falls // common  # what q loses per unit of increment, new scale
                for c in rnd.split[best].rich:  # uncapped: keeps v, and gains what q loses
                    m = rescale[epoch[c]]
                    child = moved[c]
                    v = value[child] = value[c] * m - q
                    epoch[child] = now
                    slope[child] = slope[c] * m + gain
                    if not v and slope[child]:
                        track.rising += 1
            r += 1

    def add1(self) -> list[int]:
        """The Add1 completion (docs/spec/counting-budgets.md §4): the funded projects.

        pabutools runs MES with every voter's budget raised by 0, 1, 2, ...
        currency units until an outcome is exhaustive among the eligible
        projects (returned) or over the budget (the previous one is
        returned). A run is piecewise constant in the increment
        (:class:`_Stability`): once an outcome repeats, a run also finds the
        next increment at which a run may differ (:attr:`next_change`), and the
        increments in between, which give that very run and so the same
        verdict, are skipped. The outcome is pabutools'; the number of runs no
        longer grows with the amounts, only with how often the run changes
        (docs/spec/counting-budgets.md §6).

        The cyclic garbage collector is paused meanwhile (:func:`_uncollected`).
        """
        with _uncollected():
            return self._add1()

    def _add1(self) -> list[int]:
        everything = range(len(self.names))
        costs, total = self.costs, self.share * self.voters  # the budget, in units
        previous: list[int] = []
        increment = repeats = wait = 0
        idle = 1
        while True:
            stability = repeats >= _REPEATS_BEFORE_LOOKING_AHEAD and not wait
            funded = self.run(increment, stability=stability)
            spent = sum(map(costs.__getitem__, funded))  # in units, as ``total``
            if spent > total:
                return previous
            left, chosen = total - spent, set(funded)
            if all(i in chosen or costs[i] > left for i in everything):
                return funded
            repeats = repeats + 1 if funded == previous else 0
            previous = funded
            if not stability:
                increment += 1
                wait = max(0, wait - 1)
                continue
            if self.next_change is None:
                # Unreachable: once every voter holds B + max cost, a run that
                # stays within B leaves each supporter of an unfunded project
                # enough to fund it alone, so it is exhaustive.
                raise AssertionError("a run that is never exhaustive nor over the budget")
            if self.next_change == increment + 1:  # nothing skipped: look again later
                wait, idle = idle, min(2 * idle, _MOST_RUNS_BEFORE_LOOKING_AGAIN)
            else:
                idle = 1
            increment = self.next_change


def mes(election: ApprovalElection, *, add1: bool = True) -> tuple[str, ...]:
    """The Method of Equal Shares with cost utilities and the Add1 completion.

    Every voter gets ``budget / n``. Repeatedly, for each affordable project p
    (its supporters hold at least its cost), find the least rho such that
    supporters paying ``min(their budget, rho * cost(p))`` cover the cost; fund
    the project with the least rho (ties: least id as text), charge its
    supporters, and stop when no project is affordable. Only projects with a
    positive cost and at least one approval take part.

    Add1 (pabutools ``voter_budget_increment=1``): if the outcome is not
    exhaustive among those projects, rerun with every voter's starting budget
    one currency unit higher, until an outcome is exhaustive (returned) or over
    the budget (the previous outcome is returned). ``add1=False`` gives the
    single run. Returns the funded project ids in funding order.
    """
    if not election.ballots:
        return ()
    with _uncollected():
        rule = EqualShares(election)
        funded = rule.add1() if add1 else rule.run(0)
    return tuple(rule.names[i] for i in funded)


def mes_then_greedy(election: ApprovalElection) -> tuple[str, ...]:
    """:func:`mes`, completed by :func:`greedy` when it is not exhaustive.

    pabutools ``completion_by_rule_combination([mes, greedy])``: exhaustiveness
    is judged over every project of the election, and greedy starts from the
    MES outcome with the rest of the budget.
    """
    return greedy_completion(election, mes(election))


def greedy_completion(election: ApprovalElection, outcome: Iterable[str]) -> tuple[str, ...]:
    """``outcome`` if it is exhaustive over all projects, else :func:`greedy` from it."""
    funded = tuple(outcome)
    if is_exhaustive(election, funded):
        return funded
    return greedy(election, initial=funded)


#: The rules by the names ``urne-verify pb --rule`` accepts.
RULES: Mapping[str, Callable[[ApprovalElection], tuple[str, ...]]] = {
    "greedy": greedy,
    "mes": mes,
    "mes-then-greedy": mes_then_greedy,
}


# --------------------------------------------------------------------------- ballots


class BallotConstraintError(VerificationError):
    """A budget ballot breaks one of its process's constraints.

    ``constraint`` names which: ``unknown_project``, ``duplicate_project``,
    ``over_budget``, ``min_share``, ``min_projects`` or ``max_projects``.
    """

    code = "ballot_constraint"
    status = 422  # as every rule of a process an entry breaks

    def __init__(self, constraint: str, message: str) -> None:
        super().__init__(message, code=constraint)
        self.constraint = constraint


@dataclass(frozen=True, slots=True)
class BallotConstraints:
    """What a budget ballot must respect, as a process manifest states it.

    ``budget`` caps the total cost of the ballot (``None``: no cap, as in
    Decidim's project-selection rule); ``min_share`` is the least total cost as
    a share of ``budget`` (Decidim's ``vote_threshold_percent`` / 100);
    ``min_projects`` and ``max_projects`` bound the number of projects.
    """

    budget: Fraction | None
    min_share: Fraction = Fraction(0)
    min_projects: int = 0
    max_projects: int | None = None

    def __post_init__(self) -> None:
        if self.budget is not None and (not isinstance(self.budget, Fraction) or self.budget < 0):
            raise FormatError(f"budget: expected a non-negative Fraction, found {self.budget!r}")
        if not isinstance(self.min_share, Fraction) or not 0 <= self.min_share <= 1:
            raise FormatError(f"min_share: expected a Fraction in [0, 1], found {self.min_share!r}")
        if self.min_share > 0 and self.budget is None:
            raise FormatError("min_share: a minimum share needs a budget, found none")
        if self.min_projects < 0:
            raise FormatError(f"min_projects: expected >= 0, found {self.min_projects}")
        if self.max_projects is not None and self.max_projects < self.min_projects:
            raise FormatError(
                f"max_projects: expected >= min_projects ({self.min_projects}), "
                f"found {self.max_projects}"
            )

    @classmethod
    def threshold_percent(cls, budget: Amount, percent: Amount) -> BallotConstraints:
        """Decidim's default rule: within the budget, and at least ``percent`` % of it."""
        return cls(budget=_amount(budget, "budget"), min_share=_amount(percent, "percent") / 100)

    @classmethod
    def minimum_projects(cls, budget: Amount, minimum: int) -> BallotConstraints:
        """Decidim's minimum-projects rule: within the budget, at least ``minimum`` projects."""
        return cls(budget=_amount(budget, "budget"), min_projects=minimum)

    @classmethod
    def selected_projects(cls, minimum: int, maximum: int) -> BallotConstraints:
        """Decidim's project-selection rule: between ``minimum`` and ``maximum`` projects."""
        return cls(budget=None, min_projects=minimum, max_projects=maximum)


def ballot_violations(
    ballot: Iterable[str], costs: Mapping[str, Fraction], constraints: BallotConstraints
) -> tuple[BallotConstraintError, ...]:
    """Every constraint ``ballot`` (project ids) breaks, as errors; empty when valid."""
    chosen = list(ballot)
    found: list[BallotConstraintError] = []
    unknown = sorted({p for p in chosen if p not in costs})
    if unknown:
        found.append(
            BallotConstraintError(
                "unknown_project", f"expected projects of the process, found unknown {unknown}"
            )
        )
    repeated = sorted(p for p, k in Counter(chosen).items() if k > 1)
    if repeated:
        found.append(
            BallotConstraintError(
                "duplicate_project", f"expected each project at most once, found {repeated} twice"
            )
        )
    projects = set(chosen)
    spent = sum((costs[p] for p in projects if p in costs), Fraction(0))
    if constraints.budget is not None:
        if spent > constraints.budget:
            found.append(
                BallotConstraintError(
                    "over_budget",
                    f"expected a total of at most the budget {constraints.budget}, found {spent}",
                )
            )
        least = constraints.budget * constraints.min_share
        if spent < least:
            found.append(
                BallotConstraintError(
                    "min_share",
                    f"expected a total of at least {constraints.min_share} of the budget "
                    f"({least}), found {spent}",
                )
            )
    if len(projects) < constraints.min_projects:
        found.append(
            BallotConstraintError(
                "min_projects",
                f"expected at least {constraints.min_projects} projects, found {len(projects)}",
            )
        )
    if constraints.max_projects is not None and len(projects) > constraints.max_projects:
        found.append(
            BallotConstraintError(
                "max_projects",
                f"expected at most {constraints.max_projects} projects, found {len(projects)}",
            )
        )
    return tuple(found)


def check_ballot(
    ballot: Iterable[str], costs: Mapping[str, Fraction], constraints: BallotConstraints
) -> None:
    """Raise the first :class:`BallotConstraintError` ``ballot`` earns, if any."""
    found = ballot_violations(ballot, costs, constraints)
    if found:
        raise found[0]
