"""The citizen's side of the service's API (docs/spec/api.md §2-§4): reading a
process, asking for a blind credential, posting an entry, reading receipts.

Every answer is read only up to a bound (:data:`MAX_ANSWER`: the service's
answers to a citizen are a few kilobytes), every request has a timeout, and
the two ways a request fails stay apart:

- :class:`ServiceRefused`: the service answered with a refusal, ``{"error":
  {"code", "message"}}``; its ``code`` is the service's stable code
  (``unknown_code``, ``already_issued``, ``process_closed``, ...);
- :class:`~urne.verifier.errors.FetchError`: no answer (the service is down,
  the network cut, too slow, too long): nothing is known of the request.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from urne.verifier.errors import FetchError, UrneError

__all__ = ["MAX_ANSWER", "CitizenClient", "ServiceRefused"]

#: The most bytes read of one answer: a receipt, a process with its manifest
#: (at most 65,535 bytes of entry) and its tally, or a refusal.
MAX_ANSWER = 1 << 20


class ServiceRefused(UrneError):
    """The service refused the request: ``code`` is its code, ``http_status``
    the HTTP status it answered with."""

    code = "refused"
    status = 400

    def __init__(self, message: str, *, code: str, http_status: int) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status


class CitizenClient:
    """Requests to one Urne service, e.g. ``https://vote.example.org``."""

    def __init__(self, base: str, *, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{base!r} is not an http:// or https:// address of a service")
        self.base = base.rstrip("/")
        self.timeout = timeout

    def get_json(self, path: str) -> Any:
        return _json("GET", self.base + path, self._request("GET", path, None))

    def post_json(self, path: str, body: bytes) -> Any:
        return _json("POST", self.base + path, self._request("POST", path, body))

    def raw(self, path: str, *, max_bytes: int = MAX_ANSWER, head: bool = False) -> bytes:
        """The bytes of ``GET path``, at most ``max_bytes`` of them; with
        ``head``, the first ``max_bytes`` of a longer answer (the rest unread)
        instead of a FetchError."""
        return self._request("GET", path, None, max_bytes, head=head)

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        max_bytes: int = MAX_ANSWER,
        *,
        head: bool = False,
    ) -> bytes:
        url = self.base + path
        request = urllib.request.Request(
            url,
            data=body,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                data: bytes = answer.read(max_bytes + 1)
        except urllib.error.HTTPError as exc:
            raise _refusal(method, url, exc) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FetchError(
                f"{method} {url}: no answer ({' '.join(str(reason).split())})"
            ) from exc
        if len(data) > max_bytes:
            if head:
                return data[:max_bytes]
            raise FetchError(f"{method} {url}: an answer of more than {max_bytes:,} bytes")
        return data


def _json(method: str, url: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:  # not JSON, not UTF-8: not an answer of an Urne service
        raise FetchError(f"{method} {url}: the answer is not JSON") from exc


def _refusal(method: str, url: str, exc: urllib.error.HTTPError) -> UrneError:
    """The service's refusal as a :class:`ServiceRefused` (its code, status and
    message), or, for an answer that is not Urne's error body, a FetchError."""
    try:
        body = exc.read(MAX_ANSWER + 1)
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return FetchError(f"{method} {url}: HTTP {exc.code} without an Urne error body")
    finally:
        exc.close()
    return ServiceRefused(" ".join(message.split()), code=code, http_status=exc.code)
