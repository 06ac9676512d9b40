"""Urne's sortition against sortition-algorithms' ``legacy``, in the same run.

Draws a panel of ``--seats`` from a pool of ``--people`` with three features
(gender, age band, area) and quotas around each value's share, with Urne's
``urne-legacy-v1`` (docs/spec/sortition.md) and with sortition-algorithms'
legacy algorithm fed the very same random numbers, checks that both draw the
same panel, and prints the CPU seconds of each (the pool parsed beforehand,
best of ``--repeat``) and the ratio.

    pip install sortition-algorithms==0.12.15
    python bench/sortition_bench.py                    # 100,000 people, 100 seats
    python bench/sortition_bench.py --people 20000 --seats 50 --repeat 5

sortition-algorithms (GPL-3.0) is the oracle and the peer, never a dependency
of Urne. Its selection is given Urne's stream (``urne.verifier.civic.sortition
.uniform`` for the attempt and step it is at) and its one known off-by-one (a
person counted as selected after leaving the remaining, see
docs/spec/sortition.md §5) corrected, so that the panels can be compared;
both changes cost it nothing measurable.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from urne.verifier.civic import sortition
from urne.verifier.civic.entries import Quota, SortitionRule

FEATURES = {
    "gender": (("F", 49), ("M", 48), ("X", 3)),
    "age": (("a16", 22), ("a30", 30), ("a50", 30), ("a70", 18)),
    "area": tuple((f"district{k:02d}", 5) for k in range(20)),
}


def make(people: int, seats: int) -> tuple[bytes, SortitionRule]:
    rng = random.Random(2026)
    lines = ["id," + ",".join(FEATURES)]
    for i in range(people):
        values = [
            rng.choices([v for v, _ in vs], [w for _, w in vs])[0] for vs in FEATURES.values()
        ]
        lines.append(",".join([f"p{i:07d}", *values]))
    data = ("\n".join(lines) + "\n").encode()
    quotas = []
    for f, vs in FEATURES.items():
        for v, w in vs:
            share = seats * w // 100
            quotas.append(Quota(f, v, max(0, share - 1), share + 2))
    rule = SortitionRule(
        seats=seats,
        pool_sha256=hashlib.sha256(data).hexdigest(),
        people=people,
        features=tuple(FEATURES),
        quotas=tuple(quotas),
        algorithm="urne-legacy-v1",
        attempts=100,
        chain="quicknet",
        round=1,
    )
    return data, rule


def peer(data: bytes, rule: SortitionRule, seed: bytes) -> tuple[float, frozenset[str]]:
    from requests.structures import CaseInsensitiveDict
    from sortition_algorithms import errors, utils
    from sortition_algorithms.committee_generation import common, legacy
    from sortition_algorithms.features import FeatureValueMinMax
    from sortition_algorithms.people import People

    at = {"attempt": 0, "step": 0}

    class Stream(utils.RandomProvider):
        @classmethod
        def uniform(cls, lower: float, upper: float) -> float:
            raise AssertionError

        @classmethod
        def randbelow(cls, upper: int) -> int:
            return sortition.uniform(seed, at["attempt"], at["step"], upper)

        @classmethod
        def randint(cls) -> int:
            raise AssertionError

        @classmethod
        def choice(cls, seq: Any) -> Any:
            raise AssertionError

    fc: Any = CaseInsensitiveDict()
    for q in rule.quotas:
        fc.setdefault(q.feature, CaseInsensitiveDict())[q.value] = FeatureValueMinMax(
            min=q.min, max=q.max
        )
    people = People([])
    for n, line in enumerate(data.decode().splitlines()[1:], start=2):
        row = line.split(",")
        people.add(row[0], dict(zip(rule.features, row[1:], strict=True)), fc, n)
    find = legacy.PeopleFeatures.find_max_ratio_category

    def counted(self: Any) -> Any:
        found = find(self)
        at["step"] += 1
        return found

    def select(self: Any, key: str) -> list[str]:
        person = self.people.get_person_dict(key)
        for name in self.features:
            counts = self.select_collection[name][person[name]]
            counts.add_selected()
            counts.remove_remaining()
        self.people.remove(key)
        return []

    utils._random_provider = Stream()
    legacy.PeopleFeatures.find_max_ratio_category = counted  # type: ignore[method-assign]
    legacy.PeopleFeatures.select_person = select  # type: ignore[method-assign]
    start = time.process_time()
    for attempt in range(rule.attempts):
        at["attempt"], at["step"] = attempt, 0
        try:
            committees, _ = legacy.find_random_sample_legacy_single_attempt(people, fc, rule.seats)
            common.check_category_selected(fc, people, committees, 1)
        except errors.SelectionError:
            continue
        return time.process_time() - start, committees[0]
    raise SystemExit("the peer found no panel")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seats", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data, rule = make(args.people, args.seats)
    start = time.process_time()
    pool = sortition.parse_pool(data, rule)
    parse = time.process_time() - start
    seed = hashlib.sha256(b"bench").digest()
    urne = []
    for _ in range(args.repeat):
        start = time.process_time()
        out = sortition.draw(pool, rule, seed)
        urne.append(time.process_time() - start)
    mine = frozenset(pool.ids[i] for i in out.positions)
    theirs_t = []
    theirs = frozenset()
    for _ in range(args.repeat):
        t, theirs = peer(data, rule, seed)
        theirs_t.append(t)
    same = "yes" if theirs == mine else "NO"
    u, p = min(urne), min(theirs_t)
    print(f"pool: {args.people:,} people, {len(rule.quotas)} quota values; {args.seats} seats")
    print(f"Urne parses and checks the pool file in {parse:.3f} s")
    print(
        f"draw, CPU seconds (best of {args.repeat}): Urne {u:.3f}, sortition-algorithms "
        f"legacy {p:.3f}, ratio {p / u:.1f}x; same panel: {same}; attempt {out.attempt}"
    )
    if same != "yes":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
