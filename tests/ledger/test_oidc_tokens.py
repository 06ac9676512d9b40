"""The ID token's validation, claim by claim (OpenID Connect Core §3.1.3.7;
docs/spec/eligibility.md §2 step 3), on tokens made here with joserfc: what
a real provider would not send, and the pinned registration of a process."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from urne.ledger.errors import LedgerError
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.oidc import (
    MAX_ANSWER,
    IdentityRefused,
    ProviderClient,
    ProviderConfig,
    pin_registration,
)

ISSUER = "https://auth.example.org"
CLIENT = "urne-client"
NONCE = "n" * 43


class Provider(ProviderClient):
    """A provider whose discovery and JWKS are given, not fetched; ``served``
    is what a fetch of the JWKS would return (a rotation), counted."""

    def __init__(self, keys: KeySet, served: KeySet | None = None) -> None:
        super().__init__(
            ProviderConfig(ISSUER, CLIENT, "secret", ("openid",), ("https://v.example/cb",))
        )
        self.keys, self.served, self.fetched = keys, served or keys, 0

    def metadata(self) -> dict[str, Any]:
        return {"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks"}

    def keyset(self, *, refresh: bool = False) -> KeySet:
        if refresh:
            self.fetched += 1
            self.keys = self.served
        return self.keys


def rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


KEY = rsa("k1")


def token(key: Any = KEY, alg: str = "RS256", **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "pairwise-sub",
        "iat": now,
        "exp": now + 60,
        "nonce": NONCE,
        "acr": "eidas2",
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"alg": alg, "kid": getattr(key, "kid", None) or "k1"}
    return jwt.encode(header, claims, key, algorithms=[alg])


def refused(provider: Provider, value: str) -> str:
    with pytest.raises(IdentityRefused) as caught:
        provider.validate_id_token(value, NONCE)
    return caught.value.code


def test_a_good_token_gives_its_claims() -> None:
    claims = Provider(KeySet([KEY])).validate_id_token(token(), NONCE)
    assert claims["sub"] == "pairwise-sub" and claims["acr"] == "eidas2"
    # clocks a little apart: within the leeway
    now = int(time.time())
    late = token(exp=now - 30, iat=now - 90)
    assert Provider(KeySet([KEY])).validate_id_token(late, NONCE)["sub"] == "pairwise-sub"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"iss": "https://evil.example"}, "id_token_issuer"),
        ({"iss": [ISSUER]}, "id_token_invalid"),  # a list holding the value is not it
        ({"nonce": [NONCE]}, "id_token_invalid"),
        ({"nonce": "another-request"}, "id_token_nonce"),
        ({"aud": "another-client"}, "id_token_audience"),
        ({"aud": [CLIENT, "another-client"]}, "id_token_audience"),  # no azp
        ({"aud": [CLIENT, "another-client"], "azp": "another-client"}, "id_token_audience"),
        ({"azp": "another-client"}, "id_token_audience"),  # azp checked whenever present
        ({"exp": int(time.time()) - 3600}, "id_token_expired"),
        ({"iat": None}, "id_token_invalid"),
        ({"sub": None}, "id_token_invalid"),
        ({"sub": "x" * 256}, "id_token_invalid"),
    ],
)
def test_each_claim_is_checked(changes: dict[str, Any], code: str) -> None:
    assert refused(Provider(KeySet([KEY])), token(**changes)) == code


def test_several_audiences_with_this_client_as_azp_pass() -> None:
    value = token(aud=[CLIENT, "another-client"], azp=CLIENT)
    assert Provider(KeySet([KEY])).validate_id_token(value, NONCE)["azp"] == CLIENT


def test_the_client_secret_is_no_signing_key() -> None:
    """HS256 with the client secret: accepted by a verifier that lets the
    token choose its algorithm; never here."""
    secret = OctKey.import_key("secret" * 6, parameters={"kid": "k1"})
    assert refused(Provider(KeySet([KEY])), token(secret, "HS256")) == "id_token_alg"


def test_a_key_outside_the_jwks_under_a_known_kid_is_a_bad_signature() -> None:
    assert refused(Provider(KeySet([KEY])), token(rsa("k1"))) == "id_token_signature"


def test_an_unknown_kid_fetches_the_jwks_once_then_refuses_or_accepts() -> None:
    rotated = rsa("k2")
    stale = Provider(KeySet([KEY]))
    assert refused(stale, token(rotated)) == "id_token_signature"
    assert stale.fetched == 1
    fresh = Provider(KeySet([KEY]), served=KeySet([KEY, rotated]))
    assert fresh.validate_id_token(token(rotated), NONCE)["sub"] == "pairwise-sub"
    assert fresh.fetched == 1


def test_a_process_keeps_the_registration_its_people_were_vouched_for_under(
    tmp_path: Path,
) -> None:
    keyring = IssuerKeyring(tmp_path / "keys")
    first = ProviderConfig(ISSUER, CLIENT, "s", ("openid",), ("https://v.example/cb",))
    pin_registration(keyring, "p1", first)
    pin_registration(keyring, "p1", first)  # the same: fine
    moved = ProviderConfig(ISSUER, "production-client", "s", ("openid",), first.redirect_uris)
    with pytest.raises(LedgerError) as caught:
        pin_registration(keyring, "p1", moved)
    assert caught.value.code == "provider_not_configured"
    assert "twice" in str(caught.value)
    pin_registration(keyring, "p2", moved)  # another process: its own pin
    assert (keyring.key_dir / "oidc" / "p1.json").stat().st_mode & 0o077 == 0


@contextmanager
def endless_answer(head: bytes = b"") -> Iterator[tuple[str, list[int]]]:
    """A server answering any GET or POST with ``head`` and then ten times
    MAX_ANSWER bytes of JSON whitespace: its address, and what it sent."""
    sent: list[int] = []

    class Endless(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            chunk = b" " * 65536
            try:
                self.wfile.write(head)
                for _ in range(10 * MAX_ANSWER // len(chunk)):
                    self.wfile.write(chunk)
                    sent.append(len(chunk))
            except OSError:
                return

        do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sent
    finally:
        server.shutdown()
        server.server_close()


def test_a_provider_answer_is_read_up_to_a_bound() -> None:
    """A discovery document (or JWKS, or userinfo) larger than MAX_ANSWER is
    refused after reading a little past the bound, never read whole."""
    with endless_answer() as (issuer, sent):
        client = ProviderClient(ProviderConfig(issuer, CLIENT, "s", ("openid",), ("x",)))
        with pytest.raises(LedgerError) as caught:
            client.metadata()
        assert caught.value.code == "provider_unavailable"
        assert f"{MAX_ANSWER:,} bytes" in str(caught.value)
    assert sum(sent) < 10 * MAX_ANSWER  # the server was cut off, not read to its end


def test_the_token_endpoint_answer_is_read_up_to_a_bound() -> None:
    """The token answer, read through Authlib's session, is cut off past
    MAX_ANSWER too: the provider is unavailable, and the rest is never read."""
    with endless_answer(b'{"access_token": "a", "token_type": "Bearer", "x": "') as (url, sent):

        class Provider(ProviderClient):
            def metadata(self) -> dict[str, Any]:
                return {"issuer": ISSUER, "token_endpoint": url + "/token"}

        config = ProviderConfig(ISSUER, CLIENT, "s", ("openid",), ("https://v.example/cb",))
        with pytest.raises(LedgerError) as caught:
            Provider(config).exchange("code", "v" * 43, "https://v.example/cb")
        assert caught.value.code == "provider_unavailable"
        assert f"more than {MAX_ANSWER:,} bytes" in str(caught.value)
    assert sum(sent) < 10 * MAX_ANSWER  # the server was cut off, not read to its end


@contextmanager
def token_endpoint(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[ProviderClient]:
    """A provider whose token endpoint answers with ``answer``."""

    class Endpoint(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            answer(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/token"

    class Provider(ProviderClient):
        def metadata(self) -> dict[str, Any]:
            return {"issuer": ISSUER, "token_endpoint": url}

    try:
        yield Provider(ProviderConfig(ISSUER, CLIENT, "s", ("openid",), ("https://v.example/cb",)))
    finally:
        server.shutdown()
        server.server_close()


def test_a_compressed_chunked_token_answer_is_read_whole() -> None:
    body = gzip.compress(
        json.dumps({"access_token": "a", "token_type": "Bearer", "id_token": "t"}).encode()
    )

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.protocol_version = "HTTP/1.1"
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-encoding", "gzip")
        handler.send_header("transfer-encoding", "chunked")
        handler.send_header("connection", "close")
        handler.end_headers()
        for i in range(0, len(body), 7):
            part = body[i : i + 7]
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        handler.wfile.write(b"0\r\n\r\n")

    with token_endpoint(answer) as provider:
        token = provider.exchange("code", "v" * 43, "https://v.example/cb")
    assert token["id_token"] == "t" and token["access_token"] == "a"


def test_a_token_answer_cut_short_is_the_provider_unavailable() -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", "1000")
        handler.end_headers()
        handler.wfile.write(b'{"access_token": "a"')  # and the connection closes

    with token_endpoint(answer) as provider, pytest.raises(LedgerError) as caught:
        provider.exchange("code", "v" * 43, "https://v.example/cb")
    assert caught.value.code == "provider_unavailable"
