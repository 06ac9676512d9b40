"""Known answers for docs/spec/sortition.md (docs/spec/sortition-vectors.json):
the stream, the seed from a published quicknet round, and small draws with
their panels, so that a second implementation checks each step.

``python -m tests.support.sortition_vectors`` writes the file (the same bytes
each time: nothing here is random); tests/verifier/test_sortition.py checks
the file as it is.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.support.paths import ROOT
from tests.support.sortition import ROUND, SIGNATURE
from urne.verifier.civic import beacon, sortition
from urne.verifier.civic.entries import Quota, SortitionRule

PATH = ROOT / "docs" / "spec" / "sortition-vectors.json"

#: A pool and exact quotas on which urne-legacy-v1 fails some attempts.
RETRY_POOL = (
    "id,gender,age\ne00,M,a\ne01,F,b\ne02,F,c\ne03,F,c\ne04,F,a\ne05,X,a\ne06,X,b\n"
    "e07,X,a\ne08,M,b\ne09,X,b\ne10,F,b\ne11,X,b\n"
)
RETRY_QUOTAS = [
    {"feature": "gender", "value": "F", "min": 1, "max": 1},
    {"feature": "gender", "value": "M", "min": 2, "max": 2},
    {"feature": "gender", "value": "X", "min": 3, "max": 3},
    {"feature": "age", "value": "a", "min": 3, "max": 3},
    {"feature": "age", "value": "b", "min": 2, "max": 2},
    {"feature": "age", "value": "c", "min": 1, "max": 1},
]


def _h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _draw(
    pool: str,
    features: list[str],
    seats: int,
    quotas: list[dict[str, Any]],
    attempts: int,
    seed: bytes,
) -> dict[str, Any]:
    data = pool.encode()
    rule = SortitionRule(
        seats=seats,
        pool_sha256=hashlib.sha256(data).hexdigest(),
        people=data.count(b"\n") - 1,
        features=tuple(features),
        quotas=tuple(Quota(q["feature"], q["value"], q["min"], q["max"]) for q in quotas),
        algorithm="urne-legacy-v1",
        attempts=attempts,
        chain=beacon.QUICKNET.chain_hash,
        round=ROUND,
    )
    parsed = sortition.parse_pool(data, rule)
    out = sortition.draw(parsed, rule, seed)
    return {
        "pool": pool,
        "pool_sha256": rule.pool_sha256,
        "features": features,
        "seats": seats,
        "quotas": quotas,
        "attempts": attempts,
        "seed": seed.hex(),
        "attempt": out.attempt,
        "failures": list(out.failures),
        "panel": [parsed.ids[i] for i in out.positions],
    }


def build() -> dict[str, Any]:
    uniform = [
        {
            "seed": _h(f"u{k}").hex(),
            "attempt": a,
            "step": s,
            "n": n,
            "value": sortition.uniform(_h(f"u{k}"), a, s, n),
        }
        for k, (a, s, n) in enumerate(
            [
                (0, 0, 1),
                (0, 0, 2),
                (0, 1, 10),
                (1, 0, 10),
                (2, 7, 1000),
                (0, 3, 100_000),
                (0, 0, 3),
                (4, 2, (1 << 32) - 1),
            ]
        )
    ]
    randomness = beacon.randomness(SIGNATURE)
    root = _h("the log's root at size 5")
    seed = {
        "process": "panel-2027",
        "round": ROUND,
        "signature": SIGNATURE.hex(),
        "randomness": randomness.hex(),
        "size": 5,
        "root": root.hex(),
        "seed": sortition.seed("panel-2027", ROUND, randomness, 5, root).hex(),
    }
    pool1 = "id,gender\n" + "".join(f"c{i:02d},{'F' if i % 3 else 'M'}\n" for i in range(12))
    q1 = [
        {"feature": "gender", "value": "F", "min": 2, "max": 2},
        {"feature": "gender", "value": "M", "min": 2, "max": 2},
    ]
    pool2 = "id,gender,area\n" + "".join(
        f"d{i:02d},{'FMX'[i % 3]},{('north', 'south')[(i // 3) % 2]}\n" for i in range(30)
    )
    q2 = [
        {"feature": "gender", "value": "F", "min": 2, "max": 3},
        {"feature": "gender", "value": "M", "min": 2, "max": 3},
        {"feature": "gender", "value": "X", "min": 0, "max": 1},
        {"feature": "area", "value": "north", "min": 3, "max": 3},
        {"feature": "area", "value": "south", "min": 3, "max": 3},
    ]
    # exact quotas over correlated features: the greedy draw can take the one
    # person with age c's place with someone else's, and starts again
    pool3 = RETRY_POOL
    q3 = RETRY_QUOTAS
    draws = [
        _draw(pool1, ["gender"], 4, q1, 10, bytes.fromhex(seed["seed"])),
        _draw(pool2, ["gender", "area"], 6, q2, 10, _h("draw 2")),
        _draw(pool3, ["gender", "age"], 6, q3, 10, _h("draw 3")),
    ]
    return {
        "about": "Known answers for docs/spec/sortition.md: the stream (§5), the seed (§3) "
        "from quicknet's round 12040883, and draws of urne-legacy-v1 (§5) with their panels "
        "in the order drawn.",
        "uniform": uniform,
        "seed": seed,
        "draws": draws,
    }


def main() -> None:
    PATH.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
