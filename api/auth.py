"""Requests signed by a registered institution: an RFC 9421 (HTTP Message
Signatures) profile with an RFC 9530 ``Content-Digest`` (docs/api.md §6).

A signed request carries three headers::

    Content-Digest: sha-256=:<base64 of SHA-256(body)>:
    Signature-Input: urne=("@method" "@path" "content-digest");created=<unix seconds>;\
nonce="<base64 of 16-64 random bytes>";keyid="<institution name>";alg="ed25519"
    Signature: urne=:<base64 of the Ed25519 signature>:

The signature is over the signature base of RFC 9421 §2.5, one line per
covered component and then the parameters, joined by ``"\\n"`` (no final
newline)::

    "@method": POST
    "@path": /institution/whoami
    "content-digest": sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:
    "@signature-params": ("@method" "@path" "content-digest");created=...;nonce="...";\
keyid="...";alg="ed25519"

The institution's key also signs its log entries; the two never collide: an
entry's signing input starts with ``urne/v1/`` (docs/entries.md §1), a
signature base with ``"@``.

:func:`signed` checks, in this order, each refusal storing nothing:

1. the three headers are there and well-formed (RFC 8941 structured fields,
   exactly the three components above, exactly the four parameters), else
   401 ``unsigned_request``; the body is at most the route's limit, else 413
   ``body_too_large``;
2. ``keyid`` is a registered institution, else 401 ``unknown_institution``;
3. the body's SHA-256 is the ``Content-Digest``, else 400 ``bad_content_digest``;
4. ``created`` is within :data:`WINDOW` seconds of the server's clock, else
   401 ``stale_request``;
5. the signature verifies under the institution's key, else 401
   ``bad_request_signature``;
6. the nonce has not been used by this institution (the nonces are kept in the
   database, so across restarts and service processes), else 409
   ``replayed_request``. Only an authentic request records its nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from urne.api.deps import read_body
from urne.api.errors import ApiError
from urne.ledger.institutions.registry import institution_key, use_nonce

__all__ = [
    "ALG",
    "COMPONENTS",
    "LABEL",
    "MAX_SIGNED_BODY",
    "WINDOW",
    "SignatureParams",
    "SignedRequest",
    "content_digest",
    "parse_signature_input",
    "signature_base",
    "signed",
]

#: The signature's label in ``Signature-Input`` and ``Signature``.
LABEL = "urne"
ALG = "ed25519"
#: The covered components, in this order.
COMPONENTS = ("@method", "@path", "content-digest")
#: Seconds a request is fresh for, either side of the server's clock.
WINDOW = 300
#: The default body limit of a signed route (a roll import allows more).
MAX_SIGNED_BODY = 64 * 1024
_NONCE_MIN, _NONCE_MAX = 16, 64
_PARAMS = ("created", "nonce", "keyid", "alg")


# --------------------------------------------------------------------------
# RFC 8941 structured fields: just what the profile uses
# --------------------------------------------------------------------------


class _Ill(ValueError):
    """A header that is not the structured field the profile expects."""


BareItem = int | str | bytes | bool
_Member = tuple[list[BareItem] | BareItem, list[tuple[str, BareItem]]]
_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_INT = re.compile(r"-?[0-9]{1,15}")
_B64 = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def expect(self, c: str) -> None:
        if self.peek() != c:
            raise _Ill(f"expected {c!r} at position {self.i}")
        self.i += 1

    def spaces(self, chars: str = " ") -> None:
        while self.peek() and self.peek() in chars:
            self.i += 1

    def match(self, pattern: re.Pattern[str]) -> str:
        m = pattern.match(self.s, self.i)
        if not m or not m.group():
            raise _Ill(f"unexpected text at position {self.i}")
        self.i = m.end()
        return m.group()

    def bare_item(self) -> BareItem:
        c = self.peek()
        if c == '"':
            self.i += 1
            out = []
            while True:
                ch = self.peek()
                if not ch:
                    raise _Ill("unterminated string")
                self.i += 1
                if ch == "\\":
                    esc = self.peek()
                    if esc not in ('"', "\\"):
                        raise _Ill("bad escape in a string")
                    out.append(esc)
                    self.i += 1
                elif ch == '"':
                    return "".join(out)
                elif not (" " <= ch <= "~"):
                    raise _Ill("a string is printable ASCII")
                else:
                    out.append(ch)
        if c == ":":
            self.i += 1
            text = self.match(_B64) if self.peek() != ":" else ""
            self.expect(":")
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise _Ill("bad base64 in a byte sequence") from exc
        if c == "?":
            self.i += 1
            v = self.peek()
            if v not in ("0", "1"):
                raise _Ill("a boolean is ?0 or ?1")
            self.i += 1
            return v == "1"
        if c == "-" or c.isdigit():
            text = self.match(_INT)
            if self.peek() == ".":
                raise _Ill("decimals are not used here")
            return int(text)
        return _Token(self.match(_TOKEN))

    def params(self) -> list[tuple[str, BareItem]]:
        out: list[tuple[str, BareItem]] = []
        while self.peek() == ";":
            self.i += 1
            self.spaces()
            key = self.match(_KEY)
            value: BareItem = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            if any(k == key for k, _ in out):
                raise _Ill(f"parameter {key!r} is given twice")
            out.append((key, value))
        return out

    def member(self) -> _Member:
        if self.peek() == "(":
            self.i += 1
            items: list[BareItem] = []
            while True:
                self.spaces()
                if self.peek() == ")":
                    self.i += 1
                    break
                items.append(self.bare_item())
                if self.params():
                    raise _Ill("parameters on an inner list's items are not used here")
                if self.peek() not in (" ", ")"):
                    raise _Ill("an inner list's items are separated by spaces")
            return items, self.params()
        return self.bare_item(), self.params()

    def dictionary(self) -> dict[str, _Member]:
        out: dict[str, _Member] = {}
        self.spaces()
        while self.peek():
            key = self.match(_KEY)
            if self.peek() == "=":
                self.i += 1
                out[key] = self.member()
            else:
                out[key] = (True, self.params())
            self.spaces(" \t")
            if not self.peek():
                break
            self.expect(",")
            self.spaces(" \t")
            if not self.peek():
                raise _Ill("a trailing comma")
        return out


class _Token(str):
    """An RFC 8941 token (serialised bare, unlike a string)."""


def _serialise_item(v: BareItem) -> str:
    if isinstance(v, bool):
        return "?1" if v else "?0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return ":" + base64.b64encode(v).decode("ascii") + ":"
    if isinstance(v, _Token):
        return str(v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dictionary(values: Sequence[str]) -> dict[str, _Member]:
    return _Parser(", ".join(values)).dictionary()


# --------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureParams:
    """The parameters of the ``urne`` signature."""

    created: int
    nonce: bytes
    keyid: str
    #: the parameters' order in ``Signature-Input``, kept in the signature base
    order: tuple[str, ...] = _PARAMS

    def serialise(self) -> str:
        """The ``@signature-params`` value, which is also the ``Signature-Input``
        member's value: ``("@method" "@path" "content-digest");created=...``."""
        inner = " ".join(_serialise_item(c) for c in COMPONENTS)
        values: dict[str, BareItem] = {
            "created": self.created,
            "nonce": base64.b64encode(self.nonce).decode("ascii"),
            "keyid": self.keyid,
            "alg": ALG,
        }
        return f"({inner})" + "".join(f";{k}={_serialise_item(values[k])}" for k in self.order)


def content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` of ``body``: ``sha-256=:<base64>:``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def signature_base(method: str, path: str, digest: str, params: SignatureParams) -> bytes:
    """The RFC 9421 §2.5 signature base of a request of this profile."""
    lines = [
        f'"@method": {method.upper()}',
        f'"@path": {path}',
        f'"content-digest": {digest.strip()}',
        f'"@signature-params": {params.serialise()}',
    ]
    return "\n".join(lines).encode("utf-8")


def parse_signature_input(values: Sequence[str]) -> SignatureParams:
    """The ``urne`` member of ``Signature-Input``; ``ValueError`` unless exactly the profile."""
    member = _dictionary(values).get(LABEL)
    if member is None:
        raise _Ill(f"Signature-Input has no {LABEL!r} signature")
    components, params = member
    if not isinstance(components, list) or tuple(components) != COMPONENTS:
        raise _Ill(f"the {LABEL!r} signature covers exactly {COMPONENTS}, in this order")
    if any(isinstance(c, _Token) for c in components):
        raise _Ill("components are strings")
    got = dict(params)
    if sorted(got) != sorted(_PARAMS) or len(params) != len(_PARAMS):
        raise _Ill(f"the parameters are exactly {', '.join(_PARAMS)}")
    created, nonce, keyid, alg = (got[k] for k in _PARAMS)
    if isinstance(created, bool) or not isinstance(created, int) or created < 0:
        raise _Ill("created is an integer, in unix seconds")
    for name, v in (("nonce", nonce), ("keyid", keyid), ("alg", alg)):
        if not isinstance(v, str) or isinstance(v, _Token):
            raise _Ill(f"{name} is a string")
    assert isinstance(nonce, str) and isinstance(keyid, str)
    if alg != ALG:
        raise _Ill(f'alg is "{ALG}"')
    try:
        raw_nonce = base64.b64decode(nonce, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Ill("the nonce is base64") from exc
    if not _NONCE_MIN <= len(raw_nonce) <= _NONCE_MAX:
        raise _Ill(f"the nonce is {_NONCE_MIN} to {_NONCE_MAX} random bytes")
    if base64.b64encode(raw_nonce).decode("ascii") != nonce:
        raise _Ill("the nonce is canonical base64")
    return SignatureParams(created, raw_nonce, keyid, tuple(k for k, _ in params))


def _single_bytes(values: Sequence[str], header: str, size: int | None) -> bytes:
    member = _dictionary(values).get(LABEL if header == "Signature" else "sha-256")
    if member is None:
        raise _Ill(f"{header} has no {LABEL if header == 'Signature' else 'sha-256'} member")
    value, params = member
    if not isinstance(value, bytes) or params:
        raise _Ill(f"{header}: the value is a byte sequence")
    if size is not None and len(value) != size:
        raise _Ill(f"{header}: expected {size} bytes")
    return value


# --------------------------------------------------------------------------
# The dependency
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """An authentic request: who signed it, and its body (exactly as signed)."""

    institution: str
    body: bytes


def _unsigned(message: str) -> ApiError:
    return ApiError(
        401,
        "unsigned_request",
        f"{message}; institution requests are signed (docs/api.md §6)",
        headers={"WWW-Authenticate": 'Signature realm="urne"'},
    )


def signed(max_body: int = MAX_SIGNED_BODY) -> Callable[[Request], Awaitable[SignedRequest]]:
    """A dependency that admits only a request signed by a registered
    institution (the checks are in the module docstring)."""

    async def check(request: Request) -> SignedRequest:
        headers = request.headers
        try:
            params = parse_signature_input(headers.getlist("signature-input"))
            signature = _single_bytes(headers.getlist("signature"), "Signature", 64)
            digests = headers.getlist("content-digest")
            claimed = _single_bytes(digests, "Content-Digest", hashlib.sha256().digest_size)
        except ValueError as exc:
            raise _unsigned(f"missing or ill-formed signature headers ({exc})") from exc
        engine = request.app.state.roll
        key = await run_in_threadpool(institution_key, engine, params.keyid)
        if key is None:
            raise ApiError(
                401, "unknown_institution", f"no institution {params.keyid!r} is registered here"
            )
        body = await read_body(
            request,
            max_body,
            ApiError(413, "body_too_large", f"this request's body is at most {max_body} bytes"),
        )
        if not hmac.compare_digest(hashlib.sha256(body).digest(), claimed):
            raise ApiError(
                400, "bad_content_digest", "the body's SHA-256 is not the Content-Digest"
            )
        now = int(time.time())
        if abs(now - params.created) > WINDOW:
            raise ApiError(
                401,
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
            raise ApiError(
                401,
                "bad_request_signature",
                f"the signature does not verify under the key of {params.keyid!r}",
            ) from exc
        fresh = await run_in_threadpool(
            use_nonce, engine, params.keyid, params.nonce, params.created, now=now, window=WINDOW
        )
        if not fresh:
            raise ApiError(409, "replayed_request", "this request's nonce was used already")
        return SignedRequest(params.keyid, body)

    return check
