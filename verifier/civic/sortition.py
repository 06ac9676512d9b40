"""Verifiable sortition: a panel drawn by lot from a committed pool, with
quotas, by randomness nobody knew when the pool was committed
(docs/spec/sortition.md is the specification; this module is its reference
code).

- The **pool file** lists pseudonymous ids with each person's value for every
  feature (:func:`parse_pool`); the manifest commits to its SHA-256, and the
  people's names stay with the institution, off the log.
- The **seed** (:func:`seed`) is drand's randomness for the round the manifest
  named, bound to the log's root at the manifest's size: the round did not
  exist when the manifest entered the log, and the root fixes the manifest
  and everything before it.
- The **draw** (:func:`draw`, algorithm ``urne-legacy-v1``) is the sequential
  quota-respecting draw the Sortition Foundation used for years (the
  ``legacy`` algorithm of ``sortition-algorithms``), with its randomness
  taken from the seed by a specified stream (:func:`uniform`) instead of a
  library's generator, so that a second implementation draws the same panel
  from the same seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from urne.verifier.civic.entries import IDENTIFIER, Member, SortitionRule
from urne.verifier.errors import FormatError, VerificationError

__all__ = [
    "DRAW_DOMAIN",
    "SEED_DOMAIN",
    "Outcome",
    "Pool",
    "PoolError",
    "SortitionImpossible",
    "draw",
    "parse_pool",
    "quota_violations",
    "seed",
    "uniform",
]

SEED_DOMAIN = b"urne/v1/sortition-seed\n"
DRAW_DOMAIN = b"urne/v1/sortition-draw\n"


class PoolError(FormatError):
    """A pool file that is not the one committed, or not well formed."""

    code = "bad_pool"


class SortitionImpossible(VerificationError):
    """Every attempt the manifest allows failed to meet the quotas."""

    code = "sortition_impossible"
    status = 422


@dataclass(frozen=True, slots=True)
class Pool:
    """A parsed pool: ids in file order, and each person's value for each
    feature as an index into the rule's quotas (``cats[i][f]``)."""

    ids: tuple[str, ...]
    cats: tuple[tuple[int, ...], ...]


def parse_pool(data: bytes, rule: SortitionRule) -> Pool:
    """Check ``data`` is the committed pool file and parse it (§1).

    The file is UTF-8 text, lines ending with ``\\n``: a header ``id,`` then
    the rule's features in its order, separated by commas; then one line per
    person, an id then a value for each feature. Ids are distinct
    identifiers; every value is one the quotas list for its feature. Nothing
    else is accepted (no quotes, no blanks, no BOM, no blank line), so a pool
    has one form and one hash."""
    got = hashlib.sha256(data).hexdigest()
    if got != rule.pool_sha256:
        raise PoolError(
            f"the pool file's SHA-256 is {got}; the manifest committed to {rule.pool_sha256}",
            code="pool_mismatch",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PoolError("the pool file is not UTF-8") from exc
    if not text.endswith("\n"):
        raise PoolError("the pool file's last line does not end with a newline")
    lines = text[:-1].split("\n")
    header = ",".join(("id", *rule.features))
    if lines[0] != header:
        raise PoolError(f"line 1: expected the header {header!r}, found {lines[0][:200]!r}")
    index: dict[tuple[str, str], int] = {(q.feature, q.value): i for i, q in enumerate(rule.quotas)}
    width = 1 + len(rule.features)
    ids: list[str] = []
    cats: list[tuple[int, ...]] = []
    seen: set[str] = set()
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != width:
            raise PoolError(f"line {n}: expected {width} fields, found {len(fields)}")
        pid = fields[0]
        if not IDENTIFIER.fullmatch(pid):
            raise PoolError(f"line {n}: the id {pid[:200]!r} is not an identifier")
        if pid in seen:
            raise PoolError(f"line {n}: the id {pid!r} appears twice")
        seen.add(pid)
        row = []
        for f, v in zip(rule.features, fields[1:], strict=True):
            c = index.get((f, v))
            if c is None:
                raise PoolError(f"line {n}: {v[:200]!r} is not a value the quotas list for {f!r}")
            row.append(c)
        ids.append(pid)
        cats.append(tuple(row))
    if len(ids) != rule.people:
        raise PoolError(f"the pool lists {len(ids)} people; the manifest says {rule.people}")
    return Pool(tuple(ids), tuple(cats))


def seed(process_id: str, round_: int, randomness: bytes, size: int, root: bytes) -> bytes:
    """The draw's seed (§3)::

    SHA-256("urne/v1/sortition-seed\\n" || u16(len(id)) || id || u64(round)
            || randomness || u64(size) || root)

    where ``size`` is the log's size just after the manifest (its index + 1)
    and ``root`` the log's root at that size."""
    pid = process_id.encode("ascii")
    if len(randomness) != 32 or len(root) != 32:
        raise ValueError("randomness and root are 32 bytes")
    return hashlib.sha256(
        SEED_DOMAIN
        + len(pid).to_bytes(2, "big")
        + pid
        + round_.to_bytes(8, "big")
        + randomness
        + size.to_bytes(8, "big")
        + root
    ).digest()


_TWO_256 = 1 << 256


def uniform(seed_: bytes, attempt: int, step: int, n: int) -> int:
    """A number uniform in ``[0, n)`` for ``step`` of ``attempt`` (§5)::

    x_j = SHA-256("urne/v1/sortition-draw\\n" || seed || u32(attempt)
                  || u32(step) || u32(j)) as a big-endian integer

    the first ``x_j`` (``j = 0, 1, ...``) below ``2^256 - (2^256 mod n)``,
    reduced mod ``n`` (rejection sampling: exactly uniform)."""
    if not 1 <= n < 1 << 32:
        raise ValueError("n is in [1, 2^32)")
    limit = _TWO_256 - _TWO_256 % n
    prefix = DRAW_DOMAIN + seed_ + attempt.to_bytes(4, "big") + step.to_bytes(4, "big")
    j = 0
    while True:
        x = int.from_bytes(hashlib.sha256(prefix + j.to_bytes(4, "big")).digest(), "big")
        if x < limit:
            return x % n
        j += 1


@dataclass(frozen=True, slots=True)
class Outcome:
    """A panel drawn: pool positions in the order drawn, the attempt that
    met the quotas, and why each earlier attempt failed."""

    positions: tuple[int, ...]
    attempt: int
    failures: tuple[str, ...]

    def members(self, pool: Pool, rule: SortitionRule) -> tuple[Member, ...]:
        return tuple(
            Member(pool.ids[i], tuple(rule.quotas[c].value for c in pool.cats[i]))
            for i in self.positions
        )


class _Failed(Exception):
    pass


class _Attempt:
    """One attempt of ``urne-legacy-v1`` (§5). Each category (a feature's
    value) keeps its remaining people as a sorted list of pool positions, so
    that "the k-th remaining person of the category, in pool order" is one
    index; a category that fills up takes its people out of every list in one
    pass per list (at most one pass per category per attempt)."""

    def __init__(self, pool: Pool, rule: SortitionRule) -> None:
        self.pool, self.rule = pool, rule
        k = len(rule.quotas)
        self.min = [q.min for q in rule.quotas]
        self.max = [q.max for q in rule.quotas]
        self.selected = [0] * k
        self.members: list[list[int]] = [[] for _ in range(k)]
        for i, row in enumerate(pool.cats):
            for c in row:
                self.members[c].append(i)
        self.alive = bytearray(b"\x01") * len(pool.ids)
        self.stale = [False] * k
        self.remaining = [len(m) for m in self.members]
        # a category whose maximum is 0 takes no one: its people leave first
        for c in range(k):
            if self.max[c] == 0:
                self._remove_category(c)

    def _list(self, c: int) -> list[int]:
        if self.stale[c]:
            alive = self.alive
            self.members[c] = [i for i in self.members[c] if alive[i]]
            self.stale[c] = False
        return self.members[c]

    def _take(self, i: int) -> None:
        self.alive[i] = 0
        for c in self.pool.cats[i]:
            self.remaining[c] -= 1
            self.stale[c] = True

    def _remove_category(self, c: int) -> None:
        for i in self._list(c):
            if self.alive[i]:
                self._take(i)

    def _check_feasible(self) -> None:
        for c in range(len(self.min)):
            if self.remaining[c] < self.min[c] - self.selected[c]:
                q = self.rule.quotas[c]
                raise _Failed(
                    f"{q.feature}={q.value}: {self.remaining[c]} people left, "
                    f"{self.min[c] - self.selected[c]} still needed"
                )

    def run(self, seed_: bytes, attempt: int) -> list[int]:
        chosen: list[int] = []
        quotas = self.rule.quotas
        for step in range(self.rule.seats):
            self._check_feasible()
            best, best_ratio = -1, Fraction(-1)
            for c in range(len(quotas)):
                r = self.remaining[c]
                if r == 0 or self.max[c] == 0:
                    continue
                ratio = Fraction(max(self.min[c] - self.selected[c], 0), r)
                if ratio > best_ratio:
                    best, best_ratio = c, ratio
            if best < 0:
                raise _Failed(f"seat {step + 1}: no category has anyone left to draw")
            members = self._list(best)
            i = members[uniform(seed_, attempt, step, self.remaining[best])]
            chosen.append(i)
            self._take(i)
            for c in self.pool.cats[i]:
                self.selected[c] += 1
            for c in self.pool.cats[i]:
                if self.selected[c] == self.max[c]:
                    self._remove_category(c)
        for c, q in enumerate(quotas):
            if not q.min <= self.selected[c] <= q.max:
                raise _Failed(f"{q.feature}={q.value}: {self.selected[c]} seats")
        return chosen


def draw(pool: Pool, rule: SortitionRule, seed_: bytes) -> Outcome:
    """Draw the panel (§5): attempts ``0, 1, ...`` until one meets every
    quota; :class:`SortitionImpossible` after ``rule.attempts`` failures."""
    failures: list[str] = []
    for attempt in range(rule.attempts):
        try:
            chosen = _Attempt(pool, rule).run(seed_, attempt)
        except _Failed as exc:
            failures.append(str(exc))
            continue
        return Outcome(tuple(chosen), attempt, tuple(failures))
    raise SortitionImpossible(
        f"no panel met the quotas in {rule.attempts} attempts; the last failed at {failures[-1]}"
    )


def quota_violations(rule: SortitionRule, panel: Sequence[Member]) -> list[str]:
    """What a panel breaks of the rule, read from the panel alone (§4): its
    size, each member's values, each quota."""
    out: list[str] = []
    if len(panel) != rule.seats:
        out.append(f"{len(panel)} members for {rule.seats} seats")
    counts: dict[tuple[str, str], int] = {(q.feature, q.value): 0 for q in rule.quotas}
    for m in panel:
        if len(m.values) != len(rule.features):
            out.append(f"{m.id}: {len(m.values)} values for {len(rule.features)} features")
            continue
        for f, v in zip(rule.features, m.values, strict=True):
            if (f, v) not in counts:
                out.append(f"{m.id}: {v!r} is not a value of {f!r}")
            else:
                counts[(f, v)] += 1
    for q in rule.quotas:
        n = counts[(q.feature, q.value)]
        if not q.min <= n <= q.max:
            out.append(f"{q.feature}={q.value}: {n} members, the quota is {q.min} to {q.max}")
    return out
