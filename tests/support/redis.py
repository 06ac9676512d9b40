"""The real Redis server the rate-limit tests use."""

from __future__ import annotations

import os

import pytest

REDIS_URL = os.environ.get("URNE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_url() -> str:
    """The Redis server's URL; skips when it does not answer, except under
    CI=true, where it fails: a shared limit must never pass by not running."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.exceptions.RedisError, OSError) as exc:
        msg = f"Redis not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    finally:
        client.close()
    return REDIS_URL
