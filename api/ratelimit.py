"""Rate limits shared by every service process, in Redis.

One ``urne serve`` keeps its token buckets in its own memory
(``urne.api.deps.TokenBuckets``). Several processes behind one database each
keep their own, so a client would get one bucket per process. With
``URNE_RATE_LIMIT_URL`` (``redis://host:port/db``), every process takes its
tokens from the same buckets in Redis instead:

- one bucket per client address, refilled at ``per_second`` up to ``burst``,
  taken atomically by one Lua script (Redis runs a script alone), with Redis's
  clock (``TIME``), so that the processes' clocks do not matter;
- the key is ``urne:rate:`` and an HMAC-SHA-256 of the address under a secret
  the processes share (a ``0600`` file in the key directory, made once):
  Redis, its snapshots and its replicas never hold an address;
- each key expires once its bucket would be full again, so nothing is kept of
  a client who stopped asking;
- when Redis does not answer, the process falls back to its own buckets (a
  limit per process, as without Redis) and says so in its log, at most once a
  minute: the service stays up, and limited.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from pathlib import Path
from typing import Any, Protocol

from urne.verifier.citizen.keyfile import private_dir, read_private, write_new

__all__ = ["Buckets", "RedisBuckets", "rate_limit_secret"]

_log = logging.getLogger("urne.ratelimit")

SECRET_FILE = "rate-limit.key"
_PREFIX = "urne:rate:"

#: KEYS[1] the bucket; ARGV burst, per_second. Returns the seconds to wait
#: (as text: Lua numbers would be cut to integers), "0" when a token was taken.
_TAKE = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(b[1]) or burst
local last = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'last', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return string.format('%.6f', wait)
"""


class Buckets(Protocol):
    async def take_async(self, key: str) -> float: ...


class _Limit(Protocol):
    @property
    def burst(self) -> float: ...

    @property
    def per_second(self) -> float: ...


def rate_limit_secret(key_dir: Path) -> bytes:
    """The secret that keys the buckets' names: read from ``key_dir``, or made
    there once (``0600``; of two processes making it at once, one wins)."""
    path = key_dir / SECRET_FILE
    try:
        text = read_private(path)
    except FileNotFoundError:
        private_dir(key_dir)
        with contextlib.suppress(FileExistsError):
            write_new(path, secrets.token_hex(32))
        text = read_private(path)
    secret = bytes.fromhex(text.strip())
    if len(secret) != 32:
        raise ValueError(f"{path}: expected 32 bytes in hex")
    return secret


class RedisBuckets:
    """Token buckets in Redis at ``url``, shared by every process using it;
    ``fallback`` (this process's own buckets) while Redis does not answer."""

    def __init__(self, limit: _Limit, url: str, secret: bytes, fallback: Any) -> None:
        import redis.asyncio

        self.limit = limit
        self.url = url
        self._secret = secret
        self._fallback = fallback
        self._redis = redis.asyncio.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._take = self._redis.register_script(_TAKE)
        self._warned = 0.0

    def bucket(self, address: str) -> str:
        """The Redis key of ``address``'s bucket: never the address itself."""
        mac = hmac.new(self._secret, address.encode("utf-8"), hashlib.sha256).hexdigest()
        return _PREFIX + mac[:32]

    async def take_async(self, key: str) -> float:
        """Take one token for ``key`` (an address): 0.0 if granted, else the
        seconds until one is."""
        import redis.exceptions

        try:
            wait = await self._take(
                keys=[self.bucket(key)], args=[self.limit.burst, self.limit.per_second]
            )
        except (redis.exceptions.RedisError, OSError) as exc:
            now = time.monotonic()
            if now - self._warned > 60:
                self._warned = now
                _log.warning(
                    "rate limit: Redis at %s does not answer (%s); this process limits alone",
                    self.url,
                    exc,
                )
            return float(self._fallback.take(key))
        return float(wait)

    async def close(self) -> None:
        await self._redis.aclose()
