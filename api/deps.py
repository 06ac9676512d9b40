"""FastAPI dependencies: what the routes work on, request bodies, and the rate limit.

The app keeps its services on ``app.state`` (``urne.api.main.create_app`` puts them
there): ``log``, ``civic`` (the :class:`~urne.ledger.civic.record.CivicRecord` on the log),
``roll`` (the issuance database) and ``keyring`` (the issuer keys),
``rate_limiter`` (``None`` when off) and ``public_authority``.

Bodies. No route declares a body parameter: FastAPI reads such a body whole,
whatever its size, before any dependency runs, so a rate-limited client could
still make the service hold hundreds of megabytes and answer 400, not 429.
Each route that takes a body reads it itself, with :func:`read_body` (or
:func:`read_json`), after its dependencies (the rate limit, an institution's
signature) have admitted the request.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine

from urne.api.errors import ApiError, BadRequest, PayloadTooLarge, TooManyRequests
from urne.api.ratelimit import Buckets
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log
from urne.ledger.log.witnessing import Witnessing

__all__ = [
    "CivicDep",
    "KeyringDep",
    "LogDep",
    "RateLimit",
    "RateLimited",
    "RollDep",
    "TokenBuckets",
    "WitnessingDep",
    "get_civic",
    "get_keyring",
    "get_log",
    "get_roll",
    "get_witnessing",
    "parse_model",
    "rate_limited",
    "read_body",
    "read_json",
]


async def get_log(request: Request) -> Log:
    log: Log = request.app.state.log
    return log


async def get_witnessing(request: Request) -> Witnessing | None:
    witnessing: Witnessing | None = getattr(request.app.state, "witnessing", None)
    return witnessing


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
    exceed ``limit`` bytes: by its Content-Length, else while it streams in.

    At most ``limit`` bytes and one more chunk are ever held, whatever the
    client announces: a chunked body has no Content-Length (RFC 9112 §7.1),
    and the header is never taken for a bound on what arrives: the bytes are
    counted as they come."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


_Model = TypeVar("_Model", bound=BaseModel)


def _is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type (RFC 6839 §3.1), with any parameters."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def parse_model(model: type[_Model], body: bytes) -> _Model:
    """``body`` (JSON) as ``model``, or 400 ``invalid_parameter`` naming each problem."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise BadRequest("invalid_parameter", problems) from exc


async def read_json(request: Request, model: type[_Model], limit: int) -> _Model:
    """A JSON body of at most ``limit`` bytes (else 413 ``body_too_large``,
    after at most ``limit`` bytes and one chunk) as ``model``; a body sent as
    another media type is 400 ``invalid_parameter``, as FastAPI's own body
    parameters answer."""
    if not _is_json(request.headers.get("content-type", "")):
        raise BadRequest("invalid_parameter", "body: send a JSON object as application/json")
    too_large = PayloadTooLarge("body_too_large", f"this request's body is at most {limit} bytes")
    return parse_model(model, await read_body(request, limit, too_large))


LogDep = Annotated[Log, Depends(get_log)]
WitnessingDep = Annotated[Witnessing | None, Depends(get_witnessing)]
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

    async def take_async(self, key: str) -> float:
        """:meth:`take`, as the route's dependency calls it (the shared buckets
        of ``urne.api.ratelimit`` answer the same)."""
        return self.take(key)


async def rate_limited(request: Request) -> None:
    """Refuse with 429 ``rate_limited`` when the client's bucket is empty.

    A dependency of the route, so it runs before the route reads the body.
    The address is the connection's (ASGI ``client``), which uvicorn replaces
    with the ``X-Forwarded-For`` one only from the proxies it is told to trust
    (``urne serve --forwarded-allow-ips``, none by default): otherwise a client
    could pick a fresh address, and a fresh bucket, for every request.
    """
    buckets: Buckets | None = request.app.state.rate_limiter
    if buckets is None:
        return
    wait = await buckets.take_async(request.client.host if request.client else "")
    if wait:
        raise TooManyRequests(
            "rate_limited",
            f"too many requests from this address; try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )


RateLimited = Depends(rate_limited)
