"""Reading a log that may be hostile, within bounds (docs/spec/verification.md §2c).

An observer reads the log from a server it does not trust, so an answer is read
only as far as its format allows and only for as long as the observer allows:

- **bytes**: each answer is read in pieces and given up as soon as it holds
  more than the most its kind can hold (:class:`Limits`): a tile of ``W``
  hashes is exactly ``32·W`` bytes, an entry bundle of ``W`` entries at most
  ``W·(2 + 65,535)`` (docs/spec/checkpoints-and-tiles.md §3.3), a checkpoint
  and a proof answer fixed bounds derived in §2c. An endless body costs at most
  that many bytes, never the memory of the machine;
- **time**: each request has a deadline, from the connection to the last byte
  (not only a timeout per socket operation, which a server defeats by sending
  one byte just before each one expires). A request that passes it is given up
  and its connection shut.

Whatever goes wrong is a :class:`FetchError` ("could not check", docs/design.md
§6) with one of the codes below, so a caller tells an answer the format rules
out (:data:`TOO_LARGE`: for a tile or a bundle, the log served something wrong)
from a log that did not answer in time or at all.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from urne.verifier.errors import FetchError, FormatError
from urne.verifier.tlog.rfc9162 import HASH_SIZE
from urne.verifier.tlog.tiles import MAX_ENTRY_SIZE, parse_tile_path

__all__ = [
    "DEADLINE",
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "MAX_CHECKPOINT_BYTES",
    "MAX_PROOF_BYTES",
    "NOT_SERVED",
    "TOO_LARGE",
    "Limits",
    "fetch_url",
    "read_file",
]

#: The most bytes read of a checkpoint (docs/spec/verification.md §2c): its
#: text is the origin, a size of at most 19 digits and a 44-character root; a
#: signed note carries at most 100 signature lines
#: (docs/spec/checkpoints-and-tiles.md §1.1), each ``— name base64`` with 92
#: characters of base64 for Ed25519. 64 KiB holds all 100 with names of 500
#: bytes; Urne's own checkpoints are a few hundred bytes.
MAX_CHECKPOINT_BYTES = 65_536
#: The most bytes read of a proof answer (docs/spec/verification.md §2c):
#: ``{"size1", "size2", "root1", "root2", "proof"}`` (docs/spec/log.md §6) with
#: at most 2·63 hashes for trees below 2**63, each 44 characters of base64 and
#: its quotes and comma: under 6,600 bytes, with room for white space.
MAX_PROOF_BYTES = 16_384
#: Seconds one request may take, from connecting to its last byte.
DEFAULT_DEADLINE = 60.0
#: Seconds one socket operation (connect, one read) may wait.
DEFAULT_TIMEOUT = 30.0

#: The log answered that it has nothing at this path (an HTTP error status,
#: no such file).
NOT_SERVED = "not_served"
#: The answer holds more bytes than any answer of its kind can.
TOO_LARGE = "answer_too_large"
#: The answer was not complete within the deadline.
DEADLINE = "deadline_exceeded"

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    """The most bytes read of each kind of answer (docs/spec/verification.md §2c).

    Tiles and entry bundles are bounded by their width, named in their path;
    ``entry`` is the largest entry a bundle may hold. Smaller values serve tests
    and callers that know their log holds nothing larger."""

    checkpoint: int = MAX_CHECKPOINT_BYTES
    proof: int = MAX_PROOF_BYTES
    #: a page of ``log/cosigned``: at most 1,000 checkpoints of a few
    #: hundred bytes to 16 KiB (100 signature lines)
    cosigned: int = 1000 * (16 << 10)
    entry: int = MAX_ENTRY_SIZE

    def for_path(self, path: str) -> tuple[int, str]:
        """``(most bytes, what the answer is)`` for a tlog-tiles path or a proof
        query; any other path is bounded like a checkpoint."""
        if path.startswith("tile/"):
            try:
                ref = parse_tile_path(path)
            except FormatError:
                return self.checkpoint, "an answer"
            if ref.entries:
                return ref.width * (2 + self.entry), f"an entry bundle of {ref.width} entries"
            return ref.width * HASH_SIZE, f"a tile of {ref.width} hashes"
        if path.startswith("log/proof/"):
            return self.proof, "a proof answer"
        if path.startswith("log/cosigned"):
            return self.cosigned, "a page of cosigned checkpoints"
        if path == "checkpoint":
            return self.checkpoint, "a checkpoint"
        return self.checkpoint, "an answer"


def _too_large(where: str, limit: int, what: str) -> FetchError:
    return FetchError(
        f"{where}: more than {limit:,} bytes, the most {what} can hold", code=TOO_LARGE
    )


def read_file(path: Path, *, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path``, refused once they exceed ``max_bytes``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise FetchError(f"cannot read {path}: no such file", code=NOT_SERVED) from exc
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise _too_large(str(path), max_bytes, what)
    return data


# -- HTTP ----------------------------------------------------------------------------------


class _Request:
    """One GET, run in a thread of its own so that the caller waits no longer
    than the deadline whatever phase the request is in (connecting, TLS,
    headers, body); the sockets it opened are shut when the caller gives up,
    which ends the thread's blocking read at once."""

    def __init__(self, url: str, max_bytes: int, what: str, until: float, timeout: float) -> None:
        self.url, self.max_bytes, self.what = url, max_bytes, what
        self.until, self.timeout = until, timeout
        self.result: Future[bytes] = Future()
        self.lock = threading.Lock()
        self.sockets: list[Any] = []
        self.given_up = False

    def watch(self, sock: Any) -> None:
        with self.lock:
            self.sockets.append(sock)
            if self.given_up:
                _shut(sock)

    def give_up(self) -> None:
        with self.lock:
            self.given_up = True
            for sock in self.sockets:
                _shut(sock)

    def run(self) -> None:
        try:
            self.result.set_result(self.read())
        except BaseException as exc:  # handed to the caller, who maps it
            self.result.set_exception(exc)

    def read(self) -> bytes:
        # HTTP and HTTPS only, redirects included: no other scheme's reader,
        # which these bounds would not cover
        opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler(),
            urllib.request.UnknownHandler(),
            _HttpHandler(self),
            _HttpsHandler(self),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPRedirectHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        with opener.open(self.url, timeout=self.timeout) as resp:
            declared = resp.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise _too_large(f"GET {self.url}", self.max_bytes, self.what)
            pieces: list[bytes] = []
            total = 0
            while True:
                if time.monotonic() > self.until:
                    raise _Late()
                # read1: one socket read at most, so the deadline is checked
                # between any two pieces however slowly they come
                piece: bytes = resp.read1(min(_CHUNK, self.max_bytes + 1 - total))
                if not piece:
                    return b"".join(pieces)
                total += len(piece)
                if total > self.max_bytes:
                    raise _too_large(f"GET {self.url}", self.max_bytes, self.what)
                pieces.append(piece)


class _Late(Exception):
    """The request's own thread saw the deadline pass."""


def _shut(sock: Any) -> None:
    # the plain socket's shutdown, also under TLS: it wakes a blocked read
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


if TYPE_CHECKING:  # a mixin: typed as the base it is mixed into
    _Connection = http.client.HTTPConnection
else:
    _Connection = object


class _Watched(_Connection):
    """Connects as its HTTP or HTTPS base does, then hands the socket to the
    request's watch, which shuts it when the deadline passes."""

    def __init__(self, host: str, *, request: _Request, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.request_watch = request

    def connect(self) -> None:
        super().connect()
        self.request_watch.watch(self.sock)


class _HttpConnection(_Watched, http.client.HTTPConnection):
    pass


class _HttpsConnection(_Watched, http.client.HTTPSConnection):
    pass


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's trust store, loaded once, when a first HTTPS log is read."""
    return ssl.create_default_context()


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, request: _Request) -> None:
        super().__init__()
        self.request_watch = request

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        watch = self.request_watch

        def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            return _HttpConnection(host, request=watch, **kwargs)

        return self.do_open(connection, req)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, request: _Request) -> None:
        super().__init__(context=_tls())
        self.request_watch = request

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        watch = self.request_watch

        def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            return _HttpsConnection(host, request=watch, context=_tls(), **kwargs)

        return self.do_open(connection, req)


def fetch_url(
    url: str,
    *,
    max_bytes: int,
    what: str = "an answer",
    deadline: float = DEFAULT_DEADLINE,
    timeout: float = DEFAULT_TIMEOUT,
) -> bytes:
    """GET ``url``: at most ``max_bytes`` of body, complete within ``deadline``
    seconds, each socket operation within ``timeout``. Redirects and the
    environment's proxies are followed as by ``urllib``, within the same
    deadline. Every failure is a :class:`FetchError` with a one-line message."""
    until = time.monotonic() + deadline
    request = _Request(url, max_bytes, what, until, min(timeout, deadline))
    thread = threading.Thread(target=request.run, name="urne-fetch", daemon=True)
    thread.start()
    try:
        return request.result.result(timeout=deadline)
    except FutureTimeout as exc:
        request.give_up()
        raise _late(url, deadline) from exc
    except _Late as exc:
        raise _late(url, deadline) from exc
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(f"GET {url}: HTTP {exc.code}", code=NOT_SERVED) from exc
    except urllib.error.URLError as exc:
        raise FetchError(f"GET {url}: {_one_line(exc.reason)}") from exc
    except Exception as exc:  # OSError, HTTPException, ValueError (a bad URL), ...
        if time.monotonic() > until:
            raise _late(url, deadline) from exc
        raise FetchError(f"GET {url}: {_one_line(exc) or type(exc).__name__}") from exc


def _late(url: str, deadline: float) -> FetchError:
    return FetchError(f"GET {url}: no complete answer within {deadline:g} s", code=DEADLINE)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
