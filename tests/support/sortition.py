"""Builders for sortition tests: pools, rules, and published drand rounds."""

from __future__ import annotations

import hashlib
import random
from typing import Any

from tests.support.paths import load_vector
from urne.verifier.civic.beacon import QUICKNET

#: quicknet rounds with their published signatures (tests/vectors/drand/quicknet.json)
ROUNDS: dict[int, bytes] = {
    b["round"]: bytes.fromhex(b["signature"]) for b in load_vector("drand/quicknet.json")["beacons"]
}
#: the round the tests' sortitions name, released on 2024-10-14
ROUND = 12040883
SIGNATURE = ROUNDS[ROUND]

FEATURES: dict[str, tuple[tuple[str, int], ...]] = {
    "gender": (("F", 49), ("M", 48), ("X", 3)),
    "age": (("a16", 22), ("a30", 30), ("a50", 30), ("a70", 18)),
    "area": (("north", 20), ("south", 25), ("east", 15), ("west", 25), ("centre", 15)),
}


def pool_file(people: int, *, seed: int = 1, features: dict[str, Any] | None = None) -> bytes:
    """A pool of ``people`` with the features' values drawn by their weights."""
    feats = features or FEATURES
    rng = random.Random(seed)
    lines = ["id," + ",".join(feats)]
    for i in range(people):
        values = [rng.choices([v for v, _ in vs], [w for _, w in vs])[0] for vs in feats.values()]
        lines.append(",".join([f"p{i:07d}", *values]))
    return ("\n".join(lines) + "\n").encode()


def quotas(seats: int, *, features: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Quotas around each value's share of the seats: one below to two above."""
    out = []
    for f, vs in (features or FEATURES).items():
        for v, w in vs:
            share = seats * w // 100
            out.append({"feature": f, "value": v, "min": max(0, share - 1), "max": share + 2})
    return out


def rule(
    pool: bytes,
    seats: int,
    *,
    round_: int = ROUND,
    features: dict[str, Any] | None = None,
    attempts: int = 100,
    **changes: Any,
) -> dict[str, Any]:
    feats = features or FEATURES
    out: dict[str, Any] = {
        "seats": seats,
        "pool": {
            "sha256": hashlib.sha256(pool).hexdigest(),
            "people": pool.count(b"\n") - 1,
            "features": list(feats),
        },
        "quotas": quotas(seats, features=feats),
        "algorithm": "urne-legacy-v1",
        "attempts": attempts,
        "beacon": {"chain": QUICKNET.chain_hash, "round": round_},
    }
    out.update(changes)
    return out
