"""The witness over HTTP (C2SP tlog-witness), on the standard library's
threading HTTP server: nothing of the server side of Urne is needed.

- ``POST /add-checkpoint``: :meth:`Witness.add_checkpoint`; 200 with the
  cosignature line, or the refusal's status with a one-line
  ``text/plain`` reason; 409 answers ``text/x.tlog.size`` with the stored
  size and a newline, as the specification requires.
- ``GET /<hex SHA-256 of the origin>/checkpoint``: the last checkpoint the
  witness cosigned for that log, with the log's signature and its own
  cosignature (the specification's monitoring endpoint), 404 before the
  first.
- ``GET /``: the witness's key and the logs it follows, as text.

A body is read only up to :data:`MAX_BODY` bytes (413 beyond), with a
Content-Length (411 without); a connection idle for ``timeout`` seconds is
closed.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from urne.verifier.witness.core import MAX_BODY, Witness, WitnessRefusal, origin_hash

__all__ = ["WitnessServer"]

_TEXT = "text/plain; charset=utf-8"
_LENGTH = re.compile(r"[0-9]{1,9}")


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"
    server_version = "urne-witness"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(
        self, status: int, body: str, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if self.path != "/add-checkpoint":
            self.close_connection = True  # its body, unread, is no next request
            self._send(404, "no such endpoint\n")
            return
        length = self.headers.get("Content-Length", "")
        if _LENGTH.fullmatch(length) is None:
            self.close_connection = True
            self._send(411, "a Content-Length is required\n")
            return
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._send(413, f"a request is at most {MAX_BODY} bytes\n")
            return
        body = self._read(int(length))
        if body is None:
            self.close_connection = True
            self._send(408, "the request body did not arrive in time\n")
            return
        try:
            line = self.server.witness.add_checkpoint(body)
        except WitnessRefusal as exc:
            if exc.status == 409:
                self._send(409, f"{exc.stored_size}\n", "text/x.tlog.size")
            else:
                self._send(exc.status, f"{exc.code}: {' '.join(str(exc).split())}\n")
            return
        self._send(200, line)

    def _read(self, n: int) -> bytes | None:
        """``n`` bytes of body within the server's timeout for the whole of
        it (a client sending a byte at a time holds no thread for long)."""
        deadline = time.monotonic() + self.server.request_timeout
        chunks: list[bytes] = []
        while n > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.connection.settimeout(left)
            try:
                chunk = self.rfile.read1(n)
            except TimeoutError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        self.connection.settimeout(self.server.request_timeout)
        return b"".join(chunks)

    def do_GET(self) -> None:
        if self.headers.get("Content-Length") not in (None, "0"):
            self.close_connection = True  # a GET with a body: never read as a next request
        witness = self.server.witness
        if self.path == "/":
            logs = "".join(f"  {o}\n" for o in sorted(witness.logs))
            self._send(200, f"urne-witness {witness.signer.witness.vkey}\nlogs:\n{logs}")
            return
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[1] == "checkpoint":
            for origin in witness.logs:
                if origin_hash(origin) == parts[0]:
                    note = witness.store.get(origin).note
                    if note is not None:
                        self._send(200, note)
                        return
        self._send(404, "no such checkpoint\n")


class WitnessServer(ThreadingHTTPServer):
    """The HTTP witness on ``(host, port)`` (port 0: any free one)."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        witness: Witness,
        *,
        timeout: float = 10.0,
        verbose: bool = False,
    ) -> None:
        self.witness = witness
        self.verbose = verbose
        self.request_timeout = timeout
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.request_timeout)
        # The answer's head and body are two writes: without this, Nagle's
        # algorithm holds the body until the client acknowledges the head,
        # which a client delays (40 ms on Linux) on a keep-alive connection.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().finish_request(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}"

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        return thread
