"""Requests signed by a registered institution, as both sides compute them:
an RFC 9421 (HTTP Message Signatures) profile with an RFC 9530
``Content-Digest`` (docs/spec/api.md §6).

A signed request carries three headers::

    Content-Digest: sha-256=:<base64 of SHA-256(body)>:
    Signature-Input: urne=("@method" "@authority" "@path" "content-digest");\
created=<unix seconds>;nonce="<base64 of 16-64 random bytes>";keyid="<institution name>";\
alg="ed25519"
    Signature: urne=:<base64 of the Ed25519 signature>:

The signature is over the signature base of RFC 9421 §2.5, one line per
covered component and then the parameters, joined by ``"\\n"`` (no final
newline)::

    "@method": POST
    "@authority": vote.example.org
    "@path": /institution/whoami
    "content-digest": sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:
    "@signature-params": ("@method" "@authority" "@path" "content-digest");created=...;\
nonce="...";keyid="...";alg="ed25519"

``@authority`` (RFC 9421 §2.2.3) is the service's public authority, the
``host[:port]`` of the URL the institution uses, normalised as RFC 9110 §4.2.3
says (host in lower case, no default port): :func:`url_authority`. Covering it
binds a request to one service, so that an institution registered with the
same key on two services cannot have a request meant for one replayed to the
other. The service does not take the value from the request's ``Host`` header,
which whoever sends the request chooses: it rebuilds the signature base with
its own configured authority (``URNE_PUBLIC_AUTHORITY``; by default the address it
listens on).

The institution's key also signs its log entries; the two never collide: an
entry's signing input starts with ``urne/v1/`` (docs/spec/entries.md §1), a
signature base with ``"@``.

The service (``urne.api.auth.signed``) checks, in this order, each refusal storing nothing:

1. the three headers are there and well-formed (RFC 8941 structured fields,
   exactly the four components above, exactly the four parameters), else
   401 ``unsigned_request``;
2. ``keyid`` is a registered institution, else 401 ``unknown_institution``;
3. ``created`` is within :data:`WINDOW` seconds of the server's clock, else
   401 ``stale_request``;
4. the signature verifies under the institution's key, with the service's own
   authority as ``@authority``, else 401 ``wrong_authority`` if it verifies with
   the request's ``Host`` instead (a request signed for another service), else
   401 ``bad_request_signature``;
5. only then is the body read: at most the route's limit, else 413
   ``body_too_large``, and its SHA-256 must be the ``Content-Digest`` the
   signature covers, else 400 ``bad_content_digest``. So no body is read for
   anyone but an institution, or whoever replays one of its requests within
   the window (and is then refused as a replay or for the digest);
6. the nonce has not been used by this institution (the nonces are kept in the
   database, so across restarts and service processes), else 409
   ``replayed_request``. Only an authentic request records its nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ALG",
    "COMPONENTS",
    "LABEL",
    "MAX_SIGNED_BODY",
    "WINDOW",
    "MalformedField",
    "SignatureParams",
    "check_authority",
    "content_digest",
    "http_authority",
    "parse_dictionary",
    "parse_signature_input",
    "signature_base",
    "single_bytes",
    "url_authority",
]

#: The signature's label in ``Signature-Input`` and ``Signature``.
LABEL = "urne"
ALG = "ed25519"
#: The covered components, in this order.
COMPONENTS = ("@method", "@authority", "@path", "content-digest")
#: Seconds a request is fresh for, either side of the server's clock.
WINDOW = 300
#: The default body limit of a signed route (a roll import allows more).
MAX_SIGNED_BODY = 64 * 1024
_NONCE_MIN, _NONCE_MAX = 16, 64
_PARAMS = ("created", "nonce", "keyid", "alg")


# --------------------------------------------------------------------------
# RFC 8941 structured fields: just what the profile uses
# --------------------------------------------------------------------------


class MalformedField(ValueError):
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
            raise MalformedField(f"expected {c!r} at position {self.i}")
        self.i += 1

    def spaces(self, chars: str = " ") -> None:
        while self.peek() and self.peek() in chars:
            self.i += 1

    def match(self, pattern: re.Pattern[str]) -> str:
        m = pattern.match(self.s, self.i)
        if not m or not m.group():
            raise MalformedField(f"unexpected text at position {self.i}")
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
                    raise MalformedField("unterminated string")
                self.i += 1
                if ch == "\\":
                    esc = self.peek()
                    if esc not in ('"', "\\"):
                        raise MalformedField("bad escape in a string")
                    out.append(esc)
                    self.i += 1
                elif ch == '"':
                    return "".join(out)
                elif not (" " <= ch <= "~"):
                    raise MalformedField("a string is printable ASCII")
                else:
                    out.append(ch)
        if c == ":":
            self.i += 1
            text = self.match(_B64) if self.peek() != ":" else ""
            self.expect(":")
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise MalformedField("bad base64 in a byte sequence") from exc
        if c == "?":
            self.i += 1
            v = self.peek()
            if v not in ("0", "1"):
                raise MalformedField("a boolean is ?0 or ?1")
            self.i += 1
            return v == "1"
        if c == "-" or c.isdigit():
            text = self.match(_INT)
            if self.peek() == ".":
                raise MalformedField("decimals are not used here")
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
                raise MalformedField(f"parameter {key!r} is given twice")
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
                    raise MalformedField("parameters on an inner list's items are not used here")
                if self.peek() not in (" ", ")"):
                    raise MalformedField("an inner list's items are separated by spaces")
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
                raise MalformedField("a trailing comma")
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


def parse_dictionary(values: Sequence[str]) -> dict[str, _Member]:
    """An RFC 8941 dictionary spread over one or more header lines."""
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
        member's value: ``("@method" "@authority" "@path" "content-digest");created=...``."""
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


#: The port a URL of each scheme means when it names none (RFC 9110 §4.2.1, §4.2.2).
_DEFAULT_PORTS = {"http": 80, "https": 443}


def http_authority(scheme: str, host: str, port: int | None) -> str:
    """The ``@authority`` of a request to ``scheme://host:port`` (RFC 9421
    §2.2.3): normalised as RFC 9110 §4.2.3 says, the host in lower case (an
    IPv6 address in brackets, RFC 3986 §3.2.2) and no port where it is the
    scheme's default."""
    host = host.lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme.lower()):
        return host
    return f"{host}:{port}"


#: ``host[:port]``: a DNS name or IPv4 address, or an IPv6 address in brackets
#: (RFC 3986 §3.2.2), in lower case, then an optional port.
_AUTHORITY = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::([1-9][0-9]{0,4}))?"
)


def check_authority(value: str) -> str:
    """A service's configured public authority, in the form clients sign it
    (:func:`http_authority`): ``host[:port]`` in lower case, with no default
    port (80, 443), which a client's URL never names after normalisation
    (RFC 9110 §4.2.3); ``ValueError`` otherwise."""
    v = value.strip().lower()
    m = _AUTHORITY.fullmatch(v)
    port = int(m.group(1)) if m and m.group(1) else None
    if m is None or (port is not None and not 1 <= port <= 65535):
        raise ValueError(
            f"public authority {value!r}: expected host[:port] as clients write it in the "
            "service's URL, e.g. 'vote.example.org' or '203.0.113.7:8000'"
        )
    if port in _DEFAULT_PORTS.values():
        raise ValueError(
            f"public authority {value!r}: leave out the default port; clients sign the "
            "authority without it (RFC 9110 §4.2.3)"
        )
    return v


def url_authority(url: str) -> str:
    """The ``@authority`` of requests to the service at ``url``
    (``http(s)://host[:port][/prefix]``); ``ValueError`` if it has none."""
    parts = urllib.parse.urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise ValueError(f"{url!r}: {exc}") from exc
    if parts.scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"{url!r}: expected http(s)://host[:port]")
    if not host.isascii():  # the Host header carries the IDNA form (RFC 5890)
        host = host.encode("idna").decode("ascii")
    return http_authority(parts.scheme, host, port)


def signature_base(
    method: str, authority: str, path: str, digest: str, params: SignatureParams
) -> bytes:
    """The RFC 9421 §2.5 signature base of a request of this profile."""
    lines = [
        f'"@method": {method.upper()}',
        f'"@authority": {authority}',
        f'"@path": {path}',
        f'"content-digest": {digest.strip()}',
        f'"@signature-params": {params.serialise()}',
    ]
    return "\n".join(lines).encode("utf-8")


def parse_signature_input(values: Sequence[str]) -> SignatureParams:
    """The ``urne`` member of ``Signature-Input``; ``ValueError`` unless exactly the profile."""
    member = parse_dictionary(values).get(LABEL)
    if member is None:
        raise MalformedField(f"Signature-Input has no {LABEL!r} signature")
    components, params = member
    if not isinstance(components, list) or tuple(components) != COMPONENTS:
        raise MalformedField(f"the {LABEL!r} signature covers exactly {COMPONENTS}, in this order")
    if any(isinstance(c, _Token) for c in components):
        raise MalformedField("components are strings")
    got = dict(params)
    if sorted(got) != sorted(_PARAMS) or len(params) != len(_PARAMS):
        raise MalformedField(f"the parameters are exactly {', '.join(_PARAMS)}")
    created, nonce, keyid, alg = (got[k] for k in _PARAMS)
    if isinstance(created, bool) or not isinstance(created, int) or created < 0:
        raise MalformedField("created is an integer, in unix seconds")
    for name, v in (("nonce", nonce), ("keyid", keyid), ("alg", alg)):
        if not isinstance(v, str) or isinstance(v, _Token):
            raise MalformedField(f"{name} is a string")
    assert isinstance(nonce, str) and isinstance(keyid, str)
    if alg != ALG:
        raise MalformedField(f'alg is "{ALG}"')
    try:
        raw_nonce = base64.b64decode(nonce, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedField("the nonce is base64") from exc
    if not _NONCE_MIN <= len(raw_nonce) <= _NONCE_MAX:
        raise MalformedField(f"the nonce is {_NONCE_MIN} to {_NONCE_MAX} random bytes")
    if base64.b64encode(raw_nonce).decode("ascii") != nonce:
        raise MalformedField("the nonce is canonical base64")
    return SignatureParams(created, raw_nonce, keyid, tuple(k for k, _ in params))


def single_bytes(values: Sequence[str], header: str, size: int | None) -> bytes:
    """The one byte-sequence member of ``Signature`` (``urne``) or
    ``Content-Digest`` (``sha-256``), of ``size`` bytes if given."""
    member = parse_dictionary(values).get(LABEL if header == "Signature" else "sha-256")
    if member is None:
        raise MalformedField(
            f"{header} has no {LABEL if header == 'Signature' else 'sha-256'} member"
        )
    value, params = member
    if not isinstance(value, bytes) or params:
        raise MalformedField(f"{header}: the value is a byte sequence")
    if size is not None and len(value) != size:
        raise MalformedField(f"{header}: expected {size} bytes")
    return value
