"""FastAPI dependencies: what the routes work on, and the rate limit.

The app keeps its services on ``app.state`` (``urne.api.main.create_app`` puts them
there): ``log``, ``civic`` (the :class:`~urne.ledger.civic.record.CivicRecord` on the log),
``roll`` (the issuance database) and ``keyring`` (the issuer keys), and
``rate_limiter`` (``None`` when off).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from urne.api.errors import ApiError, TooManyRequests
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log

__all__ = [
    "CivicDep",
    "KeyringDep",
    "LogDep",
    "RateLimit",
    "RateLimited",
    "RollDep",
    "TokenBuckets",
    "get_civic",
    "get_keyring",
    "get_log",
    "get_roll",
    "rate_limited",
    "read_body",
]


async def get_log(request: Request) -> Log:
    log: Log = request.app.state.log
    return log


async def get_civic(request: Request) -> CivicRecord:
    civic: CivicRecord = request.app.state.civic
    return civic


async def get_roll(request: Request) -> Engine:
    roll: Engine = request.app.state.roll
    return roll


async def get_keyring(request: Request) -> IssuerKeyring:
    keyring: IssuerKeyring = request.app.state.keyring
    return keyring


async def read_body(request: Request, limit: int, too_large: ApiError) -> bytes:
    """The request's body, refused with ``too_large`` as soon as it is known to
    exceed ``limit`` bytes: by its Content-Length, else while it streams in
    (never held whole beyond the limit)."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


LogDep = Annotated[Log, Depends(get_log)]
CivicDep = Annotated[CivicRecord, Depends(get_civic)]
RollDep = Annotated[Engine, Depends(get_roll)]
KeyringDep = Annotated[IssuerKeyring, Depends(get_keyring)]


# --------------------------------------------------------------------------
# Rate limit
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket per client address: ``burst`` requests at once, then
    ``per_second`` on average. Generous by default: many citizens may share one
    address (a library, a school, a carrier's NAT)."""

    burst: float = 60.0
    per_second: float = 1.0
    #: addresses remembered at most; the least recently seen is forgotten first
    #: (which only gives it a full bucket again)
    max_clients: int = 100_000

    def __post_init__(self) -> None:
        if not (self.burst >= 1 and self.per_second > 0 and self.max_clients >= 1):
            raise ValueError("a rate limit needs burst >= 1, per_second > 0, max_clients >= 1")


class TokenBuckets:
    """In-memory token buckets keyed by client address.

    Privacy: the address is a key of this dictionary, in this process's memory,
    and nowhere else: never written to the database, a file or a log line.
    """

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if granted, else the seconds until one is."""
        limit, now = self.limit, self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (limit.burst, now))
            tokens = min(limit.burst, tokens + (now - last) * limit.per_second)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / limit.per_second
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > limit.max_clients:
                self._buckets.popitem(last=False)
            return wait


async def rate_limited(request: Request) -> None:
    """Refuse with 429 ``rate_limited`` when the client's bucket is empty.

    Behind a reverse proxy, run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` so that the address is the client's, not the proxy's.
    """
    buckets: TokenBuckets | None = request.app.state.rate_limiter
    if buckets is None:
        return
    wait = buckets.take(request.client.host if request.client else "")
    if wait:
        raise TooManyRequests(
            "rate_limited",
            f"too many requests from this address; try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )


RateLimited = Depends(rate_limited)
