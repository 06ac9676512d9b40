"""The rate limit shared by several service processes, in a real Redis
(``urne.api.ratelimit``): one bucket per address whichever process answers,
no address in Redis, buckets that expire, and a process that keeps limiting on
its own when Redis does not answer."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
import redis

from tests.support.redis import redis_url
from urne.api.deps import RateLimit, TokenBuckets
from urne.api.ratelimit import SECRET_FILE, RedisBuckets, rate_limit_secret


@pytest.fixture
def url() -> str:
    return redis_url()


def _pair(url: str, limit: RateLimit) -> tuple[RedisBuckets, RedisBuckets]:
    """Two processes' buckets: the same Redis, the same secret."""
    secret = secrets.token_bytes(32)
    return (
        RedisBuckets(limit, url, secret, fallback=TokenBuckets(limit)),
        RedisBuckets(limit, url, secret, fallback=TokenBuckets(limit)),
    )


def test_two_processes_share_one_bucket_per_address(url: str) -> None:
    limit = RateLimit(burst=3, per_second=0.001)
    a, b = _pair(url, limit)

    async def run() -> list[float]:
        try:
            waits = [
                await a.take_async("203.0.113.7"),
                await b.take_async("203.0.113.7"),
                await a.take_async("203.0.113.7"),
                await b.take_async("203.0.113.7"),  # the fourth, from either process
                await b.take_async("198.51.100.1"),  # another address: its own bucket
            ]
        finally:
            await a.close()
            await b.close()
        return waits

    waits = asyncio.run(run())
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 990 < waits[3] <= 1000  # one token a thousand seconds
    assert waits[4] == 0.0


def test_redis_holds_no_address_and_forgets_the_bucket(url: str) -> None:
    limit = RateLimit(burst=2, per_second=1.0)
    a, _ = _pair(url, limit)
    address = "192.0.2.44"

    async def run() -> None:
        try:
            await a.take_async(address)
        finally:
            await a.close()

    asyncio.run(run())
    client = redis.Redis.from_url(url)
    try:
        key = a.bucket(address)
        assert address not in key and key.startswith("urne:rate:")
        stored = client.hgetall(key)
        assert set(stored) == {b"tokens", b"last"} and float(stored[b"tokens"]) == 1.0
        assert not any(address.encode() in v for v in stored.values())
        ttl = client.pttl(key)
        assert 0 < ttl <= 2000  # full again after a second, forgotten a second later
    finally:
        client.delete(a.bucket(address))
        client.close()


def test_without_redis_each_process_limits_on_its_own() -> None:
    limit = RateLimit(burst=2, per_second=0.001)
    local = TokenBuckets(limit)
    down = RedisBuckets(limit, "redis://127.0.0.1:1/0", secrets.token_bytes(32), local)

    async def run() -> list[float]:
        try:
            return [await down.take_async("203.0.113.9") for _ in range(3)]
        finally:
            await down.close()

    waits = asyncio.run(run())
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0
    assert "203.0.113.9" in local  # the process's own buckets took over


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = rate_limit_secret(keys)
    assert rate_limit_secret(keys) == first and len(first) == 32
    assert (keys / SECRET_FILE).stat().st_mode & 0o077 == 0
