"""Logging in at an identity provider from ``urne-wallet`` (docs/spec/eligibility.md §2).

The wallet runs the authorization code flow as a native application does
(RFC 8252): a PKCE verifier (RFC 7636, S256) and a ``state`` of its own, a
``nonce`` bound to its blinded point, and a callback on the loopback
interface, at ``http://127.0.0.1:<port>`` + :data:`CALLBACK_PATH`, which the
issuer registers at its provider without a port. The citizen logs in in
their own browser; the provider sends the browser back to that callback with
the authorization code, which only this process, listening on loopback,
receives. The code, the verifier and the blinded point then go to the issuer,
which redeems the code with its client secret.

Nothing here needs more than the standard library: the wallet never handles
a token, and the issuer validates the ID token (``urne.ledger.issuance.oidc``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from urne.verifier.errors import UrneError

__all__ = [
    "CALLBACK_PATH",
    "Callback",
    "IdentityLogin",
    "IdentityLoginError",
    "LoopbackCallback",
    "new_state",
    "pkce_pair",
]

#: The path of the wallet's loopback callback (the issuer registers
#: ``http://127.0.0.1`` + this path at its provider, any port admitted).
CALLBACK_PATH = "/urne-wallet/callback"


class IdentityLoginError(UrneError):
    """The login at the provider did not come back as it should (``login_failed``,
    ``login_timeout``, ``bad_state``)."""

    code = "login_failed"


def _printable(text: str) -> str:
    """The provider's words, for a terminal: no control characters (an
    escape sequence in ``error_description`` would drive the terminal)."""
    return "".join(c if c.isprintable() else "?" for c in text[:300])


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier (64 unreserved characters: 384 random bits) and its
    S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def new_state() -> str:
    """The request's ``state``: 256 random bits, checked when the browser returns."""
    return secrets.token_urlsafe(32)


@dataclass(slots=True)
class IdentityLogin:
    """How the wallet lets the citizen log in: ``open`` shows them the
    provider's page (a browser, or the address printed), ``port`` is the
    loopback callback's (0: any free one), ``timeout`` how long to wait.
    ``logout`` is set to the provider's end-session address once answered."""

    open: Callable[[str], None]
    port: int = 0
    timeout: float = 300.0
    logout: str | None = None


@dataclass(frozen=True, slots=True)
class Callback:
    """What the provider sent back: the code, or its error."""

    code: str | None
    error: str | None
    description: str | None


_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>urne-wallet</title></head>
<body><main><h1>{title_fr}</h1><p lang="en">{title_en}</p></main></body></html>
"""


class LoopbackCallback:
    """A one-shot HTTP listener on 127.0.0.1 for the provider's redirect.

    It answers only :data:`CALLBACK_PATH` with the expected ``state``
    (compared in constant time); any other request gets 404 and is ignored,
    so a page that guesses the port cannot end the wait with a code of its
    own choosing."""

    def __init__(self, state: str, *, port: int = 0) -> None:
        self.state = state
        #: the one path answered: :data:`CALLBACK_PATH` until the issuer names
        #: the provider's own callback under it (:meth:`expect`)
        self.path = CALLBACK_PATH
        #: the provider the answer must come from, when it names itself (RFC 9207)
        self.issuer: str | None = None
        self._done = threading.Event()
        self._result: Callback | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return  # the query holds the authorization code: never printed

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query, max_num_fields=8)
                got = (query.get("state") or [""])[0]
                iss = query["iss"][0] if "iss" in query else None
                if (
                    url.path != outer.path
                    or not hmac.compare_digest(got.encode(), outer.state.encode())
                    or (iss is not None and outer.issuer is not None and iss != outer.issuer)
                ):
                    # another path is another provider's callback (a mix-up,
                    # RFC 9700 §4.4), another state or issuer not this login's
                    self.send_error(404)
                    return
                code = query["code"][0] if "code" in query else None
                error = query["error"][0] if "error" in query else None
                described = query["error_description"][0] if "error_description" in query else None
                ok = code is not None and error is None
                body = _PAGE.format(
                    title_fr=html.escape(
                        "Connexion reçue : vous pouvez fermer cette fenêtre et revenir au terminal."
                        if ok
                        else "La connexion n'a pas abouti : revenez au terminal."
                    ),
                    title_en=html.escape(
                        "Login received: you may close this window and go back to the terminal."
                        if ok
                        else "The login did not succeed: go back to the terminal."
                    ),
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("cache-control", "no-store")
                self.send_header("referrer-policy", "no-referrer")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if not outer._done.is_set():
                    outer._result = Callback(code if ok else None, error, described)
                    outer._done.set()

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def expect(self, redirect_uri: str, issuer: str | None = None) -> None:
        """Answer only at ``redirect_uri`` (the provider's own callback the
        issuer resolved: this listener's, at :data:`CALLBACK_PATH` or under
        it), and, if the provider names itself, only for ``issuer``."""
        u = urlsplit(redirect_uri)
        base = f"http://127.0.0.1:{self._server.server_address[1]}"
        if (
            not redirect_uri.startswith(base + CALLBACK_PATH)
            or u.query
            or u.fragment
            or not (u.path == CALLBACK_PATH or u.path.startswith(CALLBACK_PATH + "/"))
        ):
            raise IdentityLoginError(
                f"the issuer named a callback that is not this command's: {redirect_uri!r}",
                code="login_failed",
            )
        self.path = u.path
        self.issuer = issuer

    def wait(self, timeout: float, tick: Callable[[], None] | None = None) -> str:
        """The authorization code, once the browser is back; raises
        :class:`IdentityLoginError` on the provider's error or after
        ``timeout`` seconds."""
        waited = 0.0
        while not self._done.wait(min(1.0, max(timeout - waited, 0.0))):
            waited += 1.0
            if tick is not None:
                tick()
            if waited >= timeout:
                raise IdentityLoginError(
                    f"no answer from the identity provider within {timeout:.0f} s: join again "
                    "to log in again (nothing was spent)",
                    code="login_timeout",
                )
        found = self._result
        assert found is not None
        if found.code is None:
            why = _printable(found.error or "no code")
            more = f": {_printable(found.description)}" if found.description else ""
            raise IdentityLoginError(
                f"the identity provider answered {why}{more}; nothing was spent",
                code="login_failed",
            )
        return found.code

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackCallback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
