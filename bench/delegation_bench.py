"""Delegation over 100,000 citizens: Urne's resolution against two references
in the same run, with the same answer.

A vote of ``--citizens`` pseudonyms among whom ``--delegates`` stand as
delegates: a share of citizens vote themselves, a share delegate to a
delegate; delegates vote, or delegate to another delegate (chains, and some
cycles), some revoke. Each implementation finds whose vote each delegating
citizen's counts as (docs/spec/delegation.md §3), and the bench prints CPU
seconds (best of ``--repeat``) and the ratios:

- Urne's ``resolve_delegations`` (each chain walked once);
- a graph library's answer: networkx, the delegation graph without the
  voters' own delegations, each voter's ancestors;
- the plain reference of the tests: each citizen's chain walked step by step.

    python bench/delegation_bench.py
    python bench/delegation_bench.py --citizens 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import random
import time

from urne.verifier.civic.process import resolve_delegations


def make(citizens: int, delegates: int) -> tuple[list[bytes], dict[bytes, bytes | None]]:
    rng = random.Random(2026)
    keys = [i.to_bytes(4, "big") for i in range(citizens)]
    standing = keys[:delegates]
    voted: list[bytes] = []
    to: dict[bytes, bytes | None] = {}
    for k, key in enumerate(keys):
        r = rng.random()
        if k < delegates:  # a delegate: votes, or passes on to another delegate
            if r < 0.6:
                voted.append(key)
            elif r < 0.95:
                to[key] = rng.choice(standing)
            else:
                to[key] = None  # revoked
            if to.get(key) == key:
                to[key] = None
        elif r < 0.3:
            voted.append(key)
        elif r < 0.8:
            to[key] = rng.choice(standing)
            if r < 0.35:
                voted.append(key)  # delegated, and voted too: the vote counts
        elif r < 0.85:
            to[key] = None
    return voted, to


def by_networkx(voted: list[bytes], to: dict[bytes, bytes | None]) -> dict[bytes, bytes]:
    import networkx as nx

    direct = set(voted)
    g = nx.DiGraph()
    g.add_edges_from((a, b) for a, b in to.items() if b is not None and a not in direct)
    out: dict[bytes, bytes] = {}
    for v in direct:
        if v in g:
            for a in nx.ancestors(g, v):
                out[a] = v
    return out


def by_walking(voted: list[bytes], to: dict[bytes, bytes | None]) -> dict[bytes, bytes]:
    direct = set(voted)
    out: dict[bytes, bytes] = {}
    for start in to:
        if start in direct:
            continue
        x: bytes | None = start
        for _ in range(len(to) + 1):
            x = to.get(x) if x is not None else None
            if x is None:
                break
            if x in direct:
                out[start] = x
                break
    return out


def timed(f: object, *args: object, repeat: int) -> tuple[float, dict[bytes, bytes]]:
    best, result = float("inf"), {}
    for _ in range(repeat):
        start = time.process_time()
        result = f(*args)  # type: ignore[operator]
        best = min(best, time.process_time() - start)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--citizens", type=int, default=100_000)
    ap.add_argument("--delegates", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    voted, to = make(args.citizens, args.delegates)
    urne, mine = timed(resolve_delegations, voted, to, repeat=args.repeat)
    nx_t, theirs = timed(by_networkx, voted, to, repeat=args.repeat)
    walk_t, plain = timed(by_walking, voted, to, repeat=args.repeat)
    same = mine == theirs == plain
    print(
        f"{args.citizens:,} citizens, {args.delegates:,} delegates: {len(voted):,} voted, "
        f"{len(to):,} delegated or revoked, {len(mine):,} votes counted through a delegation"
    )
    print(
        f"CPU seconds (best of {args.repeat}): Urne {urne:.3f}, networkx {nx_t:.3f} "
        f"({nx_t / urne:.1f}x), step-by-step reference {walk_t:.3f} ({walk_t / urne:.1f}x); "
        f"same answer: {'yes' if same else 'NO'}"
    )
    # long chains: delegates passing on to one another, a voter at each end
    chains, length = 20, 1_000
    keys = [i.to_bytes(4, "big") for i in range(chains * length)]
    chain_voted = [keys[c * length + length - 1] for c in range(chains)]
    chain_to: dict[bytes, bytes | None] = {
        keys[c * length + k]: keys[c * length + k + 1]
        for c in range(chains)
        for k in range(length - 1)
    }
    urne_c, mine_c = timed(resolve_delegations, chain_voted, chain_to, repeat=args.repeat)
    nx_c, theirs_c = timed(by_networkx, chain_voted, chain_to, repeat=args.repeat)
    walk_c, plain_c = timed(by_walking, chain_voted, chain_to, repeat=1)
    same_c = mine_c == theirs_c == plain_c
    print(
        f"{chains} chains of {length:,} delegates: Urne {urne_c:.3f}, networkx {nx_c:.3f} "
        f"({nx_c / urne_c:.1f}x), step-by-step reference {walk_c:.3f} ({walk_c / urne_c:.0f}x); "
        f"same answer: {'yes' if same_c else 'NO'}"
    )
    if not (same and same_c):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
