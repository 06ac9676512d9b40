"""The service's check of a request signed by a registered institution: a
FastAPI dependency over the profile of ``urne.api.signing`` (docs/spec/api.md §6),
which also holds the order of the checks and their refusals.

The ``@authority`` the signature must cover is the service's own public
authority, never the request's ``Host`` header (which the sender chooses):
``app.state.public_authority`` (``URNE_PUBLIC_AUTHORITY``), else the address of
the socket the request arrived on, which is where ``urne serve`` listens
(:func:`service_authority`)."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from urne.api.deps import read_body
from urne.api.errors import ApiError, BadRequest, Conflict, PayloadTooLarge, Unauthorized
from urne.api.signing import (
    MAX_SIGNED_BODY,
    WINDOW,
    http_authority,
    parse_signature_input,
    signature_base,
    single_bytes,
)
from urne.ledger.institutions.registry import use_nonce

__all__ = ["SignedRequest", "service_authority", "signed"]


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """An authentic request: who signed it (its name and its key, as the log
    registered them), and its body (exactly as signed)."""

    institution: str
    body: bytes
    key: bytes


def _unsigned(message: str) -> ApiError:
    return Unauthorized(
        "unsigned_request",
        f"{message}; institution requests are signed (docs/spec/api.md §6)",
        headers={"WWW-Authenticate": 'Signature realm="urne"'},
    )


def service_authority(request: Request) -> str:
    """This service's public authority, the ``@authority`` an institution must
    have signed (RFC 9421 §2.2.3): the configured one, else the address of the
    socket the request arrived on (ASGI ``server``), normalised as clients
    normalise theirs (:func:`urne.api.signing.http_authority`)."""
    configured: str | None = getattr(request.app.state, "public_authority", None)
    if configured:
        return configured
    server = request.scope.get("server")
    if not server or server[1] is None:  # a Unix socket: no address a client could name
        raise Unauthorized(
            "wrong_authority",
            "this service does not know its public authority; "
            "its operator sets URNE_PUBLIC_AUTHORITY (docs/guides/operating.md)",
        )
    return http_authority(request.scope.get("scheme", "http"), str(server[0]), int(server[1]))


def _host_authority(request: Request) -> str | None:
    """The authority the request's ``Host`` header names, normalised; only to
    tell a request signed for another service from a forged one."""
    host = request.headers.get("host", "")
    try:
        parts = urllib.parse.urlsplit(f"//{host}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    return http_authority(request.scope.get("scheme", "http"), name, port) if name else None


def _verifies(key: bytes, base: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(key).verify(base, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def signed(max_body: int = MAX_SIGNED_BODY) -> Callable[[Request], Awaitable[SignedRequest]]:
    """A dependency that admits only a request signed by a registered
    institution (the checks are in the module docstring)."""

    async def check(request: Request) -> SignedRequest:
        headers = request.headers
        try:
            params = parse_signature_input(headers.getlist("signature-input"))
            signature = single_bytes(headers.getlist("signature"), "Signature", 64)
            digests = headers.getlist("content-digest")
            claimed = single_bytes(digests, "Content-Digest", hashlib.sha256().digest_size)
        except ValueError as exc:
            raise _unsigned(f"missing or ill-formed signature headers ({exc})") from exc
        engine = request.app.state.roll
        found = await run_in_threadpool(request.app.state.civic.institution, params.keyid)
        if found is None:
            raise Unauthorized(
                "unknown_institution",
                f"no institution {params.keyid!r} is registered on this log",
            )
        key = found.key
        now = int(time.time())
        if abs(now - params.created) > WINDOW:
            raise Unauthorized(
                "stale_request",
                f"the request was signed at {params.created}, the server's time is {now}: "
                f"more than {WINDOW} s apart (check the clock)",
            )
        authority = service_authority(request)
        method, path = request.method, request.url.path
        digest = ", ".join(d.strip() for d in digests)
        if not _verifies(key, signature_base(method, authority, path, digest, params), signature):
            # Signed for the authority the sender put in Host, but that is not
            # this service: a request meant for another service (RFC 9421 §2.2.3).
            sent = _host_authority(request)
            if (
                sent is not None
                and sent != authority
                and _verifies(key, signature_base(method, sent, path, digest, params), signature)
            ):
                raise Unauthorized(
                    "wrong_authority",
                    f"the request was signed for the service at {sent!r}; this service is "
                    f"{authority!r}: sign for the URL of the service you send it to",
                )
            raise Unauthorized(
                "bad_request_signature",
                f"the signature does not verify under the key of {params.keyid!r} "
                f"for a request to {authority!r}",
            )
        # Only now, for a request its institution signed, is the body read:
        # the signature covers the Content-Digest, and the digest the body.
        body = await read_body(
            request,
            max_body,
            PayloadTooLarge("body_too_large", f"this request's body is at most {max_body} bytes"),
        )
        if not hmac.compare_digest(hashlib.sha256(body).digest(), claimed):
            raise BadRequest("bad_content_digest", "the body's SHA-256 is not the Content-Digest")
        fresh = await run_in_threadpool(
            use_nonce, engine, params.keyid, params.nonce, params.created, now=now, window=WINDOW
        )
        if not fresh:
            raise Conflict("replayed_request", "this request's nonce was used already")
        return SignedRequest(params.keyid, body, key)

    return check
