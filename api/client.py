"""A small client of the Urne API, for the operator's command line and tests.

Standard library only (``urllib.request``). With an :class:`InstitutionKey`,
requests to ``/institution/...`` are signed as docs/spec/api.md §6 specifies
(:func:`sign_request`, usable with any HTTP client). Every refusal comes back as
a :class:`ServiceError` carrying the status and the API's stable error code.
It needs no server-side package: an institution runs it from its own machine.

Institution key file (``urne institution keygen``), ``0600``::

    {"name": "<institution name>", "secret_key": "<base64 of the 32-byte Ed25519 seed>"}
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from urne.api.signing import (
    LABEL,
    SignatureParams,
    check_authority,
    content_digest,
    signature_base,
    url_authority,
)
from urne.verifier.citizen.keyfile import UnsafeKeyFile, read_private, write_new
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.civic.entries import b64decode, b64encode
from urne.verifier.errors import UrneError

__all__ = ["InstitutionKey", "ServiceError", "UrneClient", "sign_request"]

_TIMEOUT = 60.0
#: Seconds waited at most for one rate-limited request before giving up.
_MAX_RETRY_WAIT = 120.0


class ServiceError(UrneError):
    """A refused or failed request: ``status`` (0 if the server was not
    reached or its answer made no sense), the API's ``code`` and a message
    for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if status else message, code=code)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class InstitutionKey:
    """An institution's name and Ed25519 key (its requests' ``keyid`` and signer)."""

    name: str
    key: AuthorKey

    @classmethod
    def generate(cls, name: str) -> InstitutionKey:
        return cls(name, AuthorKey.generate())

    @property
    def public_key(self) -> bytes:
        return self.key.public_key

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key file ``0600``; an existing file is never overwritten
        (``FileExistsError``)."""
        doc = {"name": self.name, "secret_key": b64encode(self.key.seed)}
        write_new(path, json.dumps(doc))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> InstitutionKey:
        """Read a key file; ``ValueError`` if it is not one or if group or
        others may read it."""
        try:
            text = read_private(path)
        except UnsafeKeyFile as exc:
            raise ValueError(str(exc)) from exc
        try:
            doc = json.loads(text)
            name, seed = doc["name"], b64decode(doc["secret_key"], "secret_key", size=32)
            if not isinstance(name, str) or set(doc) != {"name", "secret_key"}:
                raise ValueError
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f'{path} is not an institution key file {{"name", "secret_key"}}'
            ) from exc
        return cls(name, AuthorKey(seed))


def sign_request(
    key: InstitutionKey,
    method: str,
    path: str,
    body: bytes,
    *,
    authority: str,
    created: int | None = None,
    nonce: bytes | None = None,
) -> dict[str, str]:
    """The ``Content-Digest``, ``Signature-Input`` and ``Signature`` headers of a
    request (``path`` without the query) to the service whose public authority
    is ``authority`` (``host[:port]`` of its URL, normalised:
    :func:`urne.api.signing.url_authority`). The authority is signed so that
    the request is good for that service only (docs/spec/api.md §6)."""
    params = SignatureParams(
        created=int(time.time()) if created is None else created,
        nonce=secrets.token_bytes(16) if nonce is None else nonce,
        keyid=key.name,
    )
    digest = content_digest(body)
    signature = key.key.sign(signature_base(method, authority, path, digest, params))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params.serialise()}",
        "Signature": f"{LABEL}=:{base64.b64encode(signature).decode('ascii')}:",
    }


class UrneClient:
    """The API at ``base_url`` (e.g. ``http://127.0.0.1:8000``).

    Signed requests name the service by the authority of ``base_url``
    (``127.0.0.1:8000``), which must be the service's public authority;
    ``authority`` overrides it, for a service reached under another name
    than its public one (a tunnel, a test).

    ``retry_rate_limited``: on ``429 rate_limited``, wait as ``Retry-After``
    says and try again (at most ``_MAX_RETRY_WAIT`` seconds per request);
    ``on_rate_limited`` is told each wait.
    """

    def __init__(
        self,
        base_url: str,
        key: InstitutionKey | None = None,
        *,
        retry_rate_limited: bool = False,
        on_rate_limited: Callable[[float], None] | None = None,
        timeout: float = _TIMEOUT,
        authority: str | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"server URL {base_url!r}: expected http(s)://host[:port]")
        self.authority = check_authority(authority) if authority else url_authority(base_url)
        self.base_url = base_url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self.key = key
        self.retry_rate_limited = retry_rate_limited
        self.on_rate_limited = on_rate_limited
        self.timeout = timeout

    # -- plumbing -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        signed: bool = False,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        """One request; ``(status, body)`` of a 2xx answer, else :class:`ServiceError`."""
        waited = 0.0
        while True:
            headers = {"Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = content_type
            if signed:
                if self.key is None:
                    raise ServiceError(0, "no_key", "this request must be signed: give a key")
                headers.update(
                    sign_request(
                        self.key,
                        method,
                        self._prefix + path,
                        body or b"",
                        authority=self.authority,
                    )
                )
            req = urllib.request.Request(
                self.base_url + path, data=body, method=method, headers=headers
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as answer:
                    return answer.status, answer.read()
            except urllib.error.HTTPError as exc:
                data = exc.read()
                retry = exc.headers.get("Retry-After", "")
                if (
                    exc.code == 429
                    and self.retry_rate_limited
                    and retry.isdigit()
                    and waited + int(retry) <= _MAX_RETRY_WAIT
                ):
                    wait = max(1.0, float(retry))
                    if self.on_rate_limited is not None:
                        self.on_rate_limited(wait)
                    time.sleep(wait)
                    waited += wait
                    continue
                raise _error(exc.code, data) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ServiceError(0, "unreachable", f"{self.base_url}: {reason}") from None

    def get_bytes(self, path: str) -> bytes:
        return self.request("GET", path)[1]

    def get_text(self, path: str) -> str:
        return self.get_bytes(path).decode("utf-8")

    def get_json(self, path: str) -> Any:
        return _json(self.get_bytes(path))

    def post_json(self, path: str, obj: Any) -> Any:
        return _json(self.request("POST", path, json.dumps(obj).encode("utf-8"))[1])

    def institution(self, method: str, path: str, obj: Any | None = None) -> Any:
        """A signed request to ``/institution/{path}``."""
        body = b"" if obj is None else json.dumps(obj).encode("utf-8")
        return _json(
            self.request(
                method, f"/institution/{path}", body if obj is not None else None, signed=True
            )[1]
        )

    # -- the API --------------------------------------------------------------------------

    def whoami(self) -> str:
        name: str = self.institution("GET", "whoami")["name"]
        return name

    def create_issuer_key(
        self,
        process_id: str,
        *,
        threshold: int = 1,
        shares: int = 1,
        offices: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``{"process_id", "issuer", "share_public_keys"}``. With ``offices``
        (their public objects), the id is reserved for the offices' ceremony
        and no key is made (docs/spec/issuer-ceremony.md)."""
        pid = urllib.parse.quote(process_id, safe="")
        body: dict[str, Any] = {"threshold": threshold, "shares": shares}
        if offices is not None:
            body = {"threshold": threshold, "shares": len(offices), "offices": offices}
        answer: dict[str, Any] = self.institution("POST", f"processes/{pid}/issuer-key", body)
        return answer

    def import_roll(
        self, process_id: str, people: list[str], *, skip_existing: bool = False
    ) -> dict[str, Any]:
        """``{"process_id", "imported", "skipped", "codes"}``: the codes, once."""
        pid = urllib.parse.quote(process_id, safe="")
        answer: dict[str, Any] = self.institution(
            "POST", f"processes/{pid}/roll", {"people": people, "skip_existing": skip_existing}
        )
        return answer

    def replace_code(self, process_id: str, person: str) -> dict[str, Any]:
        """``{"process_id", "person", "code", "codes_replaced"}``: a new code, once."""
        pid = urllib.parse.quote(process_id, safe="")
        answer: dict[str, Any] = self.institution(
            "POST", f"processes/{pid}/roll/replace", {"person": person}
        )
        return answer

    def post_entry(self, entry: bytes) -> dict[str, Any]:
        """Append an entry (its exact bytes); the receipt (docs/spec/verification.md §1)."""
        receipt: dict[str, Any] = _json(self.request("POST", "/entries", entry)[1])
        return receipt

    def request_credential(
        self, process_id: str, code: str, blinded: bytes, *, share: int | None = None
    ) -> bytes:
        """The blind signature on ``blinded`` for the holder of ``code``."""
        ask: dict[str, Any] = {"code": code, "blinded": b64encode(blinded)}
        if share is not None:
            ask["share"] = share
        pid = urllib.parse.quote(process_id, safe="")
        answer = self.post_json(f"/issuance/{pid}", ask)
        return b64decode(answer.get("blind_signature"), "blind_signature")


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ServiceError(0, "bad_answer", "the server's answer is not JSON") from exc


def _error(status: int, data: bytes) -> ServiceError:
    try:
        err = json.loads(data)["error"]
        return ServiceError(status, str(err["code"]), str(err["message"]))
    except (ValueError, KeyError, TypeError):
        text = data[:200].decode("utf-8", "replace")
        return ServiceError(status, "http_error", f"HTTP {status}: {text}")
