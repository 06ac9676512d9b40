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
Mokotów 2020). Each run is exact and identical in outcome to the definition,
but work that does not depend on the budget increment is shared between runs:
voters with identical approval sets are one weighted group; voters whose
budgets are provably equal form a *class* (same history of payments), and the
classes, the supporters of each project aggregated by class, and the group to
class maps are kept from one run to the next for as long as the runs select
the same projects in the same order; and, since with the same history a
larger increment leaves every class at least as rich, supporters who paid the
full price once keep doing so and projects far from affordable stay so, which
spares looking at them again. Money is held as integers on a common
denominator that grows as payments are made. ``_reference_mes_run`` in the
tests is the definition written plainly; the fast code is compared with it and
with pabutools.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import gcd, lcm

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
    chosen = list(dict.fromkeys(initial))
    for project in chosen:
        if project not in election.costs:
            raise FormatError(f"initial allocation: expected a project id, found {project!r}")
    taken = set(chosen)
    approvals = election.approvals()
    left = election.budget - total_cost(election, chosen)

    def density(project: str) -> int:
        return approvals[project] if election.costs[project] > 0 else 0

    ranked = sorted((p for p in election.costs if p not in taken), key=lambda p: (-density(p), p))
    for project in ranked:
        cost = election.costs[project]
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
        "children",
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
        #: project -> (increment, its supporters' money then, in currency) when unaffordable
        self.short: dict[int, tuple[int, Fraction]] = {}
        self.selected = -1
        #: (class, class it becomes) for the selected project's supporters.
        self.children: list[tuple[int, int]] = []
        self.moved: dict[int, int] = {}


class _Support:
    """A project's supporters at the start of a round, by class, as last evaluated.

    With the same history, a class's budget only grows with the increment and
    the project's price per supporter q only falls, so a class that paid q
    rather than all it had keeps doing so in later runs: its weight moves to
    ``rich`` for good. ``maybe`` holds the classes that paid all they had (or
    were never evaluated), ``dead`` those that had nothing; only these are
    looked at again.
    """

    __slots__ = ("dead", "dead_weights", "maybe", "rich")

    def __init__(self, by_class: dict[int, int], value: list[int]) -> None:
        self.maybe = [(c, w) for c, w in by_class.items() if value[c]]
        self.dead: list[int] = []
        self.dead_weights: list[int] = []
        if len(self.maybe) < len(by_class):
            for c, w in by_class.items():
                if not value[c]:
                    self.dead.append(c)
                    self.dead_weights.append(w)
        self.rich = 0

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
        self.prices = [election.costs[p] for p in self.names]
        self.share = int(election.budget * denominator)  # budget / n, in units
        self.rounds: list[_Round] = []
        self.class_count = 1
        self.increment = 0
        # Lower bounds of each project's rho before the first round: 1 / supporters.
        # Heap entries carry float(rho) first: rounding is monotone, so comparing
        # (float, Fraction) pairs orders exactly as the Fractions, mostly in C.
        self.start: list[tuple[float, Fraction, str, int]] = []
        for i, name in enumerate(self.names):
            rho = Fraction(1, self.support[i])
            self.start.append((float(rho), rho, name, i))
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

    def run(self, increment: int) -> list[int]:
        """One exact MES run with ``budget/n + increment`` per voter; funded projects in order.

        What is kept between runs holds for increments that never decrease, as
        Add1 asks them; a smaller increment starts afresh.
        """
        if increment < self.increment:
            self.rounds.clear()
            self.class_count = 1
        self.increment = increment
        names, costs = self.names, self.costs
        value = [0] * self.class_count  # class budgets, at the scale of their epoch
        value[0] = self.share + increment * self.unit
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
            best_key = (0.0, Fraction(0))
            best_pay = (0, 1)
            popped: list[tuple[float, Fraction, str, int]] = []
            # Lazy search for the least rho: a rho only grows during a run, so a
            # stale value is a lower bound and projects above the best are skipped.
            while heap and (best < 0 or heap[0][:2] <= best_key):
                _, _, name, i = heapq.heappop(heap)
                short = rnd.short.get(i)
                # Same history, so the same money spent: all voters together hold
                # exactly n more per unit of increment, and nobody holds less.
                if short and short[1] + self.voters * (increment - short[0]) < self.prices[i]:
                    continue
                support = rnd.split.get(i)
                if support is None:
                    support = _Support(self._supporters_by_class(r, i), value)
                    rnd.split[i] = support
                elif support.dead and any(map(value.__getitem__, support.dead)):
                    support.revive(value)
                items = []
                uncapped = support.rich
                for c, w in support.maybe:
                    v, e = value[c], epoch[c]
                    if e != now:  # bring to the current scale, and keep it there
                        v *= rescale[e]
                        value[c], epoch[c] = v, now
                    items.append((v, w, c))
                    uncapped += w
                items.sort()
                cost = costs[i] * scale
                paid, k = 0, 0
                for v, w, _ in items:  # poorest first: do they pay all they have?
                    if cost - paid <= v * uncapped:
                        break
                    paid += v * w
                    uncapped -= w
                    k += 1
                else:
                    if not uncapped:  # all they have is less than the cost
                        rnd.short[i] = (increment, Fraction(paid, self.unit * scale))
                        continue  # unaffordable for the rest of this run
                support.rich = uncapped
                support.maybe = [(c, w) for _, w, c in items[:k]]
                # each uncapped supporter pays q = (cost - paid) / uncapped; rho = q / cost
                rho = Fraction(cost - paid, uncapped * cost)
                key = (float(rho), rho)
                popped.append((key[0], rho, name, i))
                if best < 0 or key < best_key or (key == best_key and name < names[best]):
                    best, best_key, best_pay = i, key, (cost - paid, uncapped)
            if best < 0:
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
                rnd.children = []
                rnd.moved = moved = {}
                for c in self._supporters_by_class(r, best):
                    moved[c] = self.class_count
                    rnd.children.append((c, self.class_count))
                    self.class_count += 1
                following = rnd.classes_of[:]
                for g in self.supporters[best]:
                    following[g] = moved[following[g]]
                self.rounds.append(_Round(following, self.class_count))
            numerator, uncapped = best_pay
            common = gcd(numerator, uncapped)
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
            for c, child in rnd.children:
                v = value[c]
                if v:
                    v = v * rescale[epoch[c]] - q
                    if v > 0:
                        value[child] = v
                        epoch[child] = now
                        continue
                value[child] = 0
            r += 1


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
    rule = EqualShares(election)
    previous: list[int] = []
    increment = 0
    while True:
        funded = rule.run(increment)
        outcome = [rule.names[i] for i in funded]
        if not add1:
            return tuple(outcome)
        if total_cost(election, outcome) > election.budget:
            return tuple(rule.names[i] for i in previous)
        if is_exhaustive(election, outcome, among=rule.names):
            return tuple(outcome)
        previous = funded
        increment += 1


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
