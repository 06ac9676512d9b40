"""The service's check of a request signed by a registered institution: a
FastAPI dependency over the profile of ``urne.api.signing`` (docs/spec/api.md §6),
which also holds the order of the checks and their refusals."""

from __future__ import annotations

import hashlib
import hmac
import time
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
    parse_signature_input,
    signature_base,
    single_bytes,
)
from urne.ledger.institutions.registry import institution_key, use_nonce

__all__ = ["SignedRequest", "signed"]


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """An authentic request: who signed it, and its body (exactly as signed)."""

    institution: str
    body: bytes


def _unsigned(message: str) -> ApiError:
    return Unauthorized(
        "unsigned_request",
        f"{message}; institution requests are signed (docs/spec/api.md §6)",
        headers={"WWW-Authenticate": 'Signature realm="urne"'},
    )


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
        key = await run_in_threadpool(institution_key, engine, params.keyid)
        if key is None:
            raise Unauthorized(
                "unknown_institution", f"no institution {params.keyid!r} is registered here"
            )
        body = await read_body(
            request,
            max_body,
            PayloadTooLarge("body_too_large", f"this request's body is at most {max_body} bytes"),
        )
        if not hmac.compare_digest(hashlib.sha256(body).digest(), claimed):
            raise BadRequest("bad_content_digest", "the body's SHA-256 is not the Content-Digest")
        now = int(time.time())
        if abs(now - params.created) > WINDOW:
            raise Unauthorized(
                "stale_request",
                f"the request was signed at {params.created}, the server's time is {now}: "
                f"more than {WINDOW} s apart (check the clock)",
            )
        base = signature_base(
            request.method, request.url.path, ", ".join(d.strip() for d in digests), params
        )
        try:
            nacl.signing.VerifyKey(key).verify(base, signature)
        except nacl.exceptions.BadSignatureError as exc:
            raise Unauthorized(
                "bad_request_signature",
                f"the signature does not verify under the key of {params.keyid!r}",
            ) from exc
        fresh = await run_in_threadpool(
            use_nonce, engine, params.keyid, params.nonce, params.created, now=now, window=WINDOW
        )
        if not fresh:
            raise Conflict("replayed_request", "this request's nonce was used already")
        return SignedRequest(params.keyid, body)

    return check
