"""Graded and ranked ballots: majority judgment and the Schulze method
(docs/spec/counting-ranked.md is the specification; this module is its
reference code).

**Majority judgment** (Balinski & Laraki, *A theory of measuring, electing,
and ranking*, PNAS 104(21), 2007; *Majority Judgment*, MIT Press, 2011):
every voter grades every proposal on a common scale; a proposal's *majority
grade* is the best grade that more than half of its grades reach; proposals
are ranked by their *majority values*, the sequence of majority grades
obtained by removing, one at a time, one grade equal to the current majority
grade. Here a proposal's grades are counts per grade (its *profile*), grade
0 the best; comparisons remove equal majority grades from both profiles in
blocks, so that they cost O(grades), not O(voters).

**Schulze** (M. Schulze, *A new monotonic, clone-independent, reversal
symmetric, and Condorcet-consistent single-winner election method*, Social
Choice and Welfare 36, 2011): ``d[x][y]`` is the number of voters who rank x
above y; the strength of a path is its weakest link, a link x → y existing
when ``d[x][y] > d[y][x]``, of strength ``d[x][y]`` ("winning votes");
``p[x][y]`` is the strength of the strongest path (Floyd–Warshall, widest
paths); x beats y when ``p[x][y] > p[y][x]``. That relation is transitive
(Schulze 2011, §4.1): the winners are the proposals no other beats, and the
ranking peels them off tier by tier. A ballot ranks some proposals in order; those it does
not rank come after them, tied.

Everything is exact integer arithmetic.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from functools import cmp_to_key
from itertools import accumulate

__all__ = [
    "majority_grade",
    "majority_judgment",
    "majority_value_prefix",
    "mj_compare",
    "pairwise",
    "schulze",
    "strongest_paths",
]

# -- majority judgment -------------------------------------------------------------------


def majority_grade(profile: Sequence[int]) -> int | None:
    """The best grade (lowest index) that more than half of the grades reach:
    the lower middlemost grade. None for a profile with no grade."""
    n = sum(profile)
    if n == 0:
        return None
    reached = 0
    for g, c in enumerate(profile):
        reached += c
        if 2 * reached > n:
            return g
    raise AssertionError("unreachable: every grade reaches the worst")  # pragma: no cover


def _block(profile: list[int], g: int) -> int:
    """How many grades ``g`` can be removed from ``profile`` (whose majority
    grade is ``g``) while ``g`` stays its majority grade: at least 1.

    With ``a`` grades better than ``g``, ``c`` equal to it and ``n`` in all,
    ``g`` is the majority grade while ``2a <= n`` and ``2(a + c) > n``;
    removing ``r`` of the ``c`` keeps it while ``2a <= n - r`` and
    ``2(a + c - r) > n - r``, i.e. ``r <= n - 2a`` and ``r < 2(a + c) - n``."""
    n = sum(profile)
    a = sum(profile[:g])
    c = profile[g]
    r = min(n - 2 * a, 2 * (a + c) - n - 1, c)
    return max(r, 1)


def _grade_at(cum: Sequence[int], j: int) -> int:
    """The grade at position ``j`` (from 1) of a profile's grades sorted best
    first, from its cumulative counts."""
    return bisect_left(cum, j)


def _first_difference(cx: Sequence[int], cy: Sequence[int], start: int, step: int) -> int | None:
    """The first position from ``start``, going up (``step`` 1) or down (-1),
    where two profiles' sorted grades differ; None if none does. Jumps from
    one run of equal grades to the next: O(grades)."""
    n, pos = cx[-1], start
    while 1 <= pos <= n:
        gx, gy = _grade_at(cx, pos), _grade_at(cy, pos)
        if gx != gy:
            return pos
        if step > 0:
            pos = min(cx[gx], cy[gy]) + 1
        else:
            pos = max(cx[gx - 1] if gx else 0, cy[gy - 1] if gy else 0)
    return None


def _compare_same_size(x: Sequence[int], y: Sequence[int]) -> int:
    """:func:`mj_compare` for two profiles of the same number of grades, in
    O(grades). Removing the lower middlemost grade of ``s`` sorted grades
    removes the one at position ``s // 2 + 1``; starting from ``n`` grades,
    the positions removed depend on ``n`` alone: for ``n = 2k``, ``k+1, k,
    k+2, k-1, ...``; for ``n = 2k+1``, ``k+1, k+2, k, k+3, k-1, ...``. So the
    majority values first differ at the first of those positions where the
    sorted grades differ: the first such position going up from the middle,
    or going down, whichever the order reaches first."""
    cx, cy = list(accumulate(x)), list(accumulate(y))
    n, k = cx[-1], cx[-1] // 2
    if n == 0:
        return 0
    if n % 2:  # the middle first, then right and left in turn
        up_from, down_from = k + 2, k

        def order(pos: int) -> int:
            if pos == k + 1:
                return 0
            return 2 * (pos - k - 1) - 1 if pos > k + 1 else 2 * (k + 1 - pos)

        centre = _first_difference(cx, cy, k + 1, 1)
        if centre == k + 1:
            return -1 if _grade_at(cx, centre) < _grade_at(cy, centre) else 1
    else:  # right and left in turn
        up_from, down_from = k + 1, k

        def order(pos: int) -> int:
            return 2 * (pos - k - 1) if pos > k else 2 * (k - pos) + 1

    found = [
        p
        for p in (_first_difference(cx, cy, up_from, 1), _first_difference(cx, cy, down_from, -1))
        if p is not None
    ]
    if not found:
        return 0
    pos = min(found, key=order)
    return -1 if _grade_at(cx, pos) < _grade_at(cy, pos) else 1


def mj_compare(x: Sequence[int], y: Sequence[int]) -> int:
    """Compare two profiles by their majority values: -1 when ``x`` ranks
    before ``y`` (better), 1 after, 0 when the values are equal (then the
    profiles are equal). Profiles of as many grades each (every ballot grades
    every proposal) compare in O(grades) (:func:`_compare_same_size`); others
    by removing equal majority grades in blocks."""
    if sum(x) == sum(y):
        return _compare_same_size(x, y)
    px, py = list(x), list(y)
    while True:
        gx, gy = majority_grade(px), majority_grade(py)
        if gx is None or gy is None:
            if gx is None and gy is None:
                return 0
            return 1 if gx is None else -1  # fewer grades: exhausted first, after
        if gx != gy:
            return -1 if gx < gy else 1
        k = min(_block(px, gx), _block(py, gy))
        px[gx] -= k
        py[gy] -= k


def majority_value_prefix(profile: Sequence[int], length: int) -> list[int]:
    """The first ``length`` grades of a profile's majority value (for display
    and for tests written from the definition)."""
    p, out = list(profile), list[int]()
    while len(out) < length:
        g = majority_grade(p)
        if g is None:
            break
        out.append(g)
        p[g] -= 1
    return out


def majority_judgment(profiles: Mapping[str, Sequence[int]]) -> list[list[str]]:
    """Proposals ranked by majority judgment, in tiers of equal majority value
    (ids sorted as text within a tier); the first tier wins."""

    def by_value(a: str, b: str) -> int:
        return mj_compare(profiles[a], profiles[b])

    order = sorted(sorted(profiles), key=cmp_to_key(by_value))
    tiers: list[list[str]] = []
    for pid in order:
        if tiers and mj_compare(profiles[tiers[-1][0]], profiles[pid]) == 0:
            tiers[-1].append(pid)
        else:
            tiers.append([pid])
    return tiers


# -- Schulze -----------------------------------------------------------------------------


def pairwise(ids: Sequence[str], rankings: Iterable[Sequence[str]]) -> list[list[int]]:
    """``d[i][j]``: how many rankings put ``ids[i]`` above ``ids[j]`` (a
    proposal a ranking names is above every one it does not; those it does
    not name are tied)."""
    index = {pid: i for i, pid in enumerate(ids)}
    m = len(ids)
    d = [[0] * m for _ in range(m)]
    counts: dict[tuple[str, ...], int] = {}
    for r in rankings:
        t = tuple(r)
        counts[t] = counts.get(t, 0) + 1
    for ranking, n in counts.items():
        ranked = [index[pid] for pid in ranking]
        named = set(ranked)
        rest = [i for i in range(m) if i not in named]
        for k, i in enumerate(ranked):
            row = d[i]
            for j in ranked[k + 1 :]:
                row[j] += n
            for j in rest:
                row[j] += n
    return d


def strongest_paths(d: Sequence[Sequence[int]]) -> list[list[int]]:
    """``p[i][j]``, the strength of the strongest path from i to j (winning
    votes; Schulze 2011 §2.3, Floyd–Warshall on widest paths)."""
    m = len(d)
    p = [[d[i][j] if i != j and d[i][j] > d[j][i] else 0 for j in range(m)] for i in range(m)]
    for k in range(m):
        pk = p[k]
        for i in range(m):
            if i == k:
                continue
            pik = p[i][k]
            if pik == 0:
                continue
            pi = p[i]
            for j in range(m):
                if j != i and j != k:
                    via = pik if pik < pk[j] else pk[j]
                    if via > pi[j]:
                        pi[j] = via
    return p


def schulze(
    ids: Sequence[str], d: Sequence[Sequence[int]], paths: Sequence[Sequence[int]] | None = None
) -> list[list[str]]:
    """Proposals in tiers by the Schulze relation (x beats y when
    ``p[x][y] > p[y][x]``, a strict partial order, Schulze 2011 §4.1): the
    first tier is every proposal no other beats -- the set of winners --,
    each next tier those no remaining proposal beats; ids sorted as text
    within a tier. ``paths``: the strongest paths, if computed already."""
    p = strongest_paths(d) if paths is None else paths
    remaining = list(range(len(ids)))
    tiers: list[list[str]] = []
    while remaining:
        top = [i for i in remaining if not any(p[j][i] > p[i][j] for j in remaining if j != i)]
        tiers.append(sorted(ids[i] for i in top))
        remaining = [i for i in remaining if i not in top]
    return tiers
