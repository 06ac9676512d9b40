"""Two ``urne serve`` processes behind one PostgreSQL database, sharing their
rate limit through Redis (``URNE_RATE_LIMIT_URL``): a client gets one bucket,
whichever process answers, not one per process."""

from __future__ import annotations

import time

import httpx2
import pytest

from tests.support.deployment import Deployment
from tests.support.redis import redis_url

pytestmark = pytest.mark.slow

BURST = 60  # the service's default: 60 at once, then one a second


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)
def test_two_processes_share_one_limit(deployment: Deployment) -> None:
    dep = deployment
    dep.env["URNE_RATE_LIMIT_URL"] = redis_url()
    first = dep.serve()
    second = dep.serve()
    clients = [httpx2.Client(base_url=s.url, timeout=30) for s in (first, second)]
    answered = {0: 0, 1: 0}
    refused = None
    start = time.monotonic()
    for n in range(3 * BURST):
        which = n % 2
        r = clients[which].post(
            "/entries", content=b"not an entry", headers={"Content-Type": "application/json"}
        )
        if r.status_code == 429:
            refused = (n, r)
            break
        assert r.status_code == 400, r.text  # refused for what it is, a token taken
        answered[which] += 1
    elapsed = time.monotonic() - start
    for c in clients:
        c.close()
    assert refused is not None, "no request was limited"
    n, r = refused
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    # one bucket of 60 for both, refilled at one a second meanwhile; a bucket
    # per process would have let about twice as many through
    assert BURST <= n <= BURST + elapsed + 2, (n, elapsed)
    assert answered[0] >= BURST // 2 - 1 and answered[1] >= BURST // 2 - 1
