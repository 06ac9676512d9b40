"""Four findings of a security review, each replayed as the attack it was.

- Bodies of any size (finding 7): FastAPI read a body parameter whole, before
  the rate limit, so a client out of tokens could still make the service hold
  300 MiB and got 400, not 429. The attack is replayed at the ASGI interface,
  with a body that a generator hands over chunk by chunk, counting what the
  service takes from it.
- The rate limit bypassed with ``X-Forwarded-For`` (finding 8): uvicorn
  believes the header from 127.0.0.1 unless told otherwise. Replayed through a
  real uvicorn server on 127.0.0.1, configured as ``urne serve`` configures it.
- A signed institution request replayed to another service (finding 12): the
  signature did not cover the service (RFC 9421 §2.2.3 ``@authority``).
- The SQLite database and its WAL readable by everyone (finding 13).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.support.service import assert_error
from urne.api.cli.main import app as urne
from urne.api.cli.operator import serve_options
from urne.api.client import InstitutionKey, ServiceError, UrneClient, sign_request
from urne.api.deps import RateLimit
from urne.api.main import create_app
from urne.api.routes.civic import MAX_ENTRY_SIZE
from urne.api.routes.institution import MAX_ROLL_BODY
from urne.api.routes.issuance import MAX_CREDENTIAL_BODY
from urne.api.signing import check_authority, parse_signature_input, url_authority
from urne.ledger.civic.authority import register_institution
from urne.ledger.db.settings import Settings
from urne.ledger.institutions.registry import use_nonce
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import open_roll, roll_size
from urne.ledger.log import Log

PID = "consulta-2026"
MIB = 1024 * 1024
#: The size of each chunk the attacking client sends.
CHUNK = 64 * 1024
#: The body of the report: 300 MiB.
ATTACK = 300 * MIB
#: An address of the documentation range (RFC 5737), as the client's.
CLIENT = ("192.0.2.7", 40000)


# --------------------------------------------------------------------------
# Finding 7: bodies are read after the rate limit, and never beyond the limit
# --------------------------------------------------------------------------


class Body:
    """A request body that a generator makes on demand, and how much of it the
    service has taken (the ASGI ``receive`` callable)."""

    def __init__(self, size: int) -> None:
        self._chunks = itertools.islice(itertools.repeat(b"x" * CHUNK), size // CHUNK)
        self.consumed = 0
        self._ended = False

    async def receive(self) -> dict[str, Any]:
        if self._ended:
            return {"type": "http.disconnect"}
        chunk = next(self._chunks, None)
        if chunk is None:
            self._ended = True
            return {"type": "http.request", "body": b"", "more_body": False}
        self.consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}


def call(
    app: FastAPI, path: str, body: Body, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """``POST path`` straight through the app's ASGI interface; the status and
    the JSON answer."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": CLIENT,
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, body.receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(answer)


#: How the attacker frames the body: chunked (no length), a Content-Length
#: that says less than is sent, one that says the truth.
FRAMINGS = {
    "chunked": {"transfer-encoding": "chunked"},
    "lying_length": {"content-length": "100"},
    "true_length": {"content-length": str(ATTACK)},
}
JSON = {"content-type": "application/json"}


@pytest.fixture
def issuance_app(tmp_path: Path) -> Iterator[FastAPI]:
    """An issuance-only service (no log) with a rate limit of one request."""
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    app = create_app(
        casting=False,
        roll=roll,
        keyring=IssuerKeyring(tmp_path / "keys"),
        rate_limit=RateLimit(burst=1, per_second=0.001),
    )
    yield app
    roll.dispose()


@pytest.fixture
def casting_app(tmp_path: Path) -> Iterator[FastAPI]:
    """A service with the log (and issuance, and the institutions' routes)
    with a rate limit of one request, and an institution ``city-hall``
    registered on the log (key in ``app.state.test_key``)."""
    log = Log.open(
        f"sqlite:///{tmp_path / 'log.db'}", key_dir=tmp_path / "keys", origin="hardening.test/log"
    )
    app = create_app(log, rate_limit=RateLimit(burst=1, per_second=0.001))
    key = InstitutionKey.generate("city-hall")
    register_institution(app.state.civic, key.name, key.public_key)
    app.state.test_key = key
    yield app
    log.close()


def _empty_bucket(app: FastAPI) -> None:
    """The client has spent its tokens already (a burst of one)."""
    app.state.rate_limiter.take(CLIENT[0])
    assert app.state.rate_limiter.take(CLIENT[0]) > 0


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_a_rate_limited_client_gets_429_before_its_body_is_read(
    issuance_app: FastAPI, casting_app: FastAPI, framing: str
) -> None:
    roll_path = f"/institution/processes/{PID}/roll"
    key = casting_app.state.test_key
    signed = {**JSON, **sign_request(key, "POST", roll_path, b"{}", authority="testserver")}
    for app, path, headers in [
        (issuance_app, f"/issuance/{PID}", JSON),
        (casting_app, "/entries", JSON),
        (casting_app, roll_path, signed),  # an institution's route too, signed or not
        (casting_app, f"/institution/processes/{PID}/issuer-key", JSON),  # unsigned
    ]:
        _empty_bucket(app)
        body = Body(ATTACK)
        status, answer = call(app, path, body, {**headers, **FRAMINGS[framing]})
        assert (status, answer["error"]["code"]) == (429, "rate_limited"), (path, answer)
        assert body.consumed == 0, path


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_an_oversize_body_is_413_after_at_most_the_limit_and_one_chunk(
    issuance_app: FastAPI, casting_app: FastAPI, framing: str
) -> None:
    issuance_app.state.rate_limiter = casting_app.state.rate_limiter = None
    key = casting_app.state.test_key
    roll_path = f"/institution/processes/{PID}/roll"
    signed = sign_request(key, "POST", roll_path, b"{}", authority="testserver")
    cases = [
        (issuance_app, f"/issuance/{PID}", JSON, MAX_CREDENTIAL_BODY, "body_too_large"),
        (casting_app, f"/issuance/{PID}", JSON, MAX_CREDENTIAL_BODY, "body_too_large"),
        (casting_app, "/entries", JSON, MAX_ENTRY_SIZE, "entry_too_large"),
        (casting_app, roll_path, {**JSON, **signed}, MAX_ROLL_BODY, "body_too_large"),
    ]
    for app, path, headers, limit, code in cases:
        body = Body(ATTACK)
        status, answer = call(app, path, body, {**headers, **FRAMINGS[framing]})
        assert (status, answer["error"]["code"]) == (413, code), (path, answer)
        if framing == "true_length":
            assert body.consumed == 0, path  # refused on the announced length alone
        else:
            assert limit < body.consumed <= limit + CHUNK, (path, body.consumed)


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_a_signed_route_reads_no_body_before_the_signature_verifies(
    casting_app: FastAPI, framing: str
) -> None:
    """A roll import takes 16 MiB; only a request its institution signed
    gets that far. The signature covers the Content-Digest, so it is checked
    first and the body against the digest after."""
    casting_app.state.rate_limiter = None  # the signature is what is tested here
    key = casting_app.state.test_key
    path = f"/institution/processes/{PID}/roll"
    impostor = InstitutionKey(key.name, InstitutionKey.generate("x").key)
    stranger = InstitutionKey.generate("stranger")
    for signer, code in [(impostor, "bad_request_signature"), (stranger, "unknown_institution")]:
        signed = sign_request(signer, "POST", path, b"{}", authority="testserver")
        body = Body(ATTACK)
        status, answer = call(casting_app, path, body, {**JSON, **signed, **FRAMINGS[framing]})
        assert (status, answer["error"]["code"]) == (401, code), answer
        assert body.consumed == 0


def test_a_credential_request_still_parses_as_before(issuance_app: FastAPI) -> None:
    """The body read by the route itself keeps the refusals FastAPI gave."""
    issuance_app.state.rate_limiter = None
    with TestClient(issuance_app) as c:
        assert_error(c.post(f"/issuance/{PID}", json={"code": "x"}), 400, "invalid_parameter")
        r = c.post(f"/issuance/{PID}", content=b'{"code": "x", "blinded": "AA=="}')
        assert_error(r, 400, "invalid_parameter")  # not sent as JSON
        r = c.post(f"/issuance/{PID}", json={"code": "0000-0000-0000", "blinded": "AA=="})
        assert_error(r, 404, "unknown_process")  # read, parsed and handed to the issuer
        schema = c.get("/openapi.json").json()["paths"]["/issuance/{process_id}"]["post"]
        body = schema["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == ["code", "blinded"] and body["additionalProperties"] is False
        assert {"413", "429"} <= set(schema["responses"])


# --------------------------------------------------------------------------
# Finding 8: X-Forwarded-For only from the proxies named
# --------------------------------------------------------------------------


def serve_in_thread(app: FastAPI, settings: Settings) -> Iterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1, with the options
    ``urne serve`` passes (:func:`urne.api.cli.operator.serve_options`)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = serve_options(settings, "127.0.0.1", port, access_log=False)
    server = uvicorn.Server(uvicorn.Config(app, **{**options, "log_level": "warning"}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def _statuses(url: str, forwarded_for: list[str]) -> list[int]:
    body = {"code": "0000-0000-0000", "blinded": "AA=="}
    with httpx2.Client(base_url=url) as http:
        return [
            http.post(f"/issuance/{PID}", json=body, headers={"X-Forwarded-For": ip}).status_code
            for ip in forwarded_for
        ]


def test_by_default_x_forwarded_for_gets_no_fresh_bucket(
    issuance_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bypass: every request names another address. With no proxy
    trusted, they all share the connection's bucket, even if uvicorn's own
    environment variable says to trust every sender."""
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    monkeypatch.delenv("URNE_FORWARDED_ALLOW_IPS", raising=False)
    settings = Settings()
    assert settings.forwarded_allow_ips == ""
    assert serve_options(settings, "127.0.0.1", 8000, access_log=True)["proxy_headers"] is False
    for url in serve_in_thread(issuance_app, settings):
        statuses = _statuses(url, [f"203.0.113.{i}" for i in range(1, 6)])
    assert statuses == [404, 429, 429, 429, 429]


def test_a_trusted_proxy_is_believed(issuance_app: FastAPI) -> None:
    settings = Settings(forwarded_allow_ips="127.0.0.1")
    for url in serve_in_thread(issuance_app, settings):
        statuses = _statuses(url, [f"203.0.113.{i}" for i in range(1, 6)])
        again = _statuses(url, ["203.0.113.1"])
    assert statuses == [404] * 5  # a bucket per client behind the proxy
    assert again == [429]  # and the first one's is empty


def test_forwarded_allow_ips_is_checked() -> None:
    assert Settings(forwarded_allow_ips=" 10.0.0.1, 10.1.0.0/16 ").forwarded_allow_ips == (
        "10.0.0.1,10.1.0.0/16"
    )
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(forwarded_allow_ips="proxy.example")


# --------------------------------------------------------------------------
# Finding 12: the signature covers the service's authority
# --------------------------------------------------------------------------


def _institution_service(tmp_path: Path, name: str, key: InstitutionKey) -> Iterator[TestClient]:
    """A service at ``http://{name}`` with a log and a database of its own,
    where ``key`` is registered and has reserved ``PID`` with its issuer key."""
    keys = tmp_path / f"{name}-keys"
    log = Log.open(f"sqlite:///{tmp_path / f'{name}.db'}", key_dir=keys, origin=f"{name}/log")
    app = create_app(log, keyring=IssuerKeyring(keys), rate_limit=None, public_authority=name)
    register_institution(app.state.civic, key.name, key.public_key)
    app.state.test_roll = app.state.roll
    with TestClient(app, base_url=f"http://{name}") as client:
        path = f"/institution/processes/{PID}/issuer-key"
        headers = sign_request(key, "POST", path, b"{}", authority=name)
        assert client.post(path, content=b"{}", headers=headers).status_code == 201
        yield client
    log.close()


def test_a_request_signed_for_one_service_is_refused_by_another(tmp_path: Path) -> None:
    """The report's replay: one institution key on two services, a roll import
    signed for A sent to B. B refuses it whatever ``Host`` it carries and
    imports nobody; A, the service it was signed for, takes it."""
    key = InstitutionKey.generate("city-hall")
    for a in _institution_service(tmp_path, "a.example", key):
        for b in _institution_service(tmp_path, "b.example", key):
            path = f"/institution/processes/{PID}/roll"
            body = json.dumps({"people": ["ES-0001", "ES-0002"]}).encode()
            signed = sign_request(key, "POST", path, body, authority="a.example")
            # verbatim, Host: a.example included
            r = b.post(path, content=body, headers={**signed, "Host": "a.example"})
            assert_error(r, 401, "wrong_authority")
            assert "'a.example'" in r.json()["error"]["message"]
            assert "'b.example'" in r.json()["error"]["message"]
            # retargeted at B's own name: nothing shows where it was meant to go
            r = b.post(path, content=body, headers=signed)
            assert_error(r, 401, "bad_request_signature")
            assert roll_size(b.app.state.test_roll, PID) == 0  # type: ignore[attr-defined]
            # the same request, to the service it was signed for
            r = a.post(path, content=body, headers=signed)
            assert r.status_code == 201, r.text
            assert roll_size(a.app.state.test_roll, PID) == 2  # type: ignore[attr-defined]
            # and B still refuses it afterwards
            r = b.post(path, content=body, headers={**signed, "Host": "a.example"})
            assert_error(r, 401, "wrong_authority")
            assert roll_size(b.app.state.test_roll, PID) == 0  # type: ignore[attr-defined]


def test_a_service_is_not_fooled_by_the_host_header(tmp_path: Path) -> None:
    """A behind a proxy, configured as ``a.example``, while a request reaches
    it with another Host: what counts is the configured authority."""
    key = InstitutionKey.generate("city-hall")
    for a in _institution_service(tmp_path, "a.example", key):
        path = "/institution/whoami"
        signed = sign_request(key, "GET", path, b"", authority="a.example")
        assert a.get(path, headers={**signed, "Host": "127.0.0.1:8000"}).status_code == 200
        signed = sign_request(key, "GET", path, b"", authority="127.0.0.1:8000")
        r = a.get(path, headers={**signed, "Host": "127.0.0.1:8000"})
        assert_error(r, 401, "wrong_authority")


def test_the_profile_covers_the_authority() -> None:
    key = InstitutionKey.generate("city-hall")
    headers = sign_request(
        key,
        "POST",
        "/institution/x",
        b"{}",
        authority="vote.example.org",
        created=1700000000,
        nonce=b"k" * 16,
    )
    assert headers["Signature-Input"] == (
        'urne=("@method" "@authority" "@path" "content-digest");created=1700000000;'
        'nonce="a2tra2tra2tra2tra2traw==";keyid="city-hall";alg="ed25519"'
    )
    parse_signature_input([headers["Signature-Input"]])
    # the profile before @authority was covered is no longer accepted
    old = headers["Signature-Input"].replace('"@authority" ', "")
    with pytest.raises(ValueError):
        parse_signature_input([old])


@pytest.mark.parametrize(
    ("url", "authority"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("https://Vote.Example.org:443/urne", "vote.example.org"),
        ("http://vote.example.org:80", "vote.example.org"),
        ("https://vote.example.org:8443/", "vote.example.org:8443"),
        ("http://[::1]:8000", "[::1]:8000"),
        ("https://bürgerhaus.example", "xn--brgerhaus-q9a.example"),
    ],
)
def test_the_authority_is_normalised_as_rfc_9110_says(url: str, authority: str) -> None:
    """RFC 9110 §4.2.3: lower case, no default port."""
    assert url_authority(url) == authority
    assert check_authority(authority) == authority
    assert UrneClient(url).authority == authority


@pytest.mark.parametrize(
    "value", ["http://vote.example.org", "vote.example.org/", "vote.example.org:443", "a b", ""]
)
def test_a_public_authority_that_no_client_signs_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        check_authority(value)
    if value.strip():
        with pytest.raises(ValueError):
            Settings(public_authority=value)


def test_unconfigured_the_authority_is_the_address_reached(tmp_path: Path) -> None:
    """With no public authority, a real server checks against the address of
    the socket the request arrived on: ``http://127.0.0.1:<port>``, which is
    what ``urne serve`` listens on and prints."""
    log = Log.open(
        f"sqlite:///{tmp_path / 'log.db'}", key_dir=tmp_path / "keys", origin="hardening.test/log"
    )
    app = create_app(log, keyring=IssuerKeyring(tmp_path / "keys"), rate_limit=None)
    key = InstitutionKey.generate("city-hall")
    register_institution(app.state.civic, key.name, key.public_key)
    for url in serve_in_thread(app, Settings()):
        assert UrneClient(url, key).whoami() == "city-hall"
        port = url.rpartition(":")[2]
        elsewhere = UrneClient(url, key, authority=f"localhost:{port}")
        with pytest.raises(ServiceError) as refused:
            elsewhere.whoami()
        # sent to 127.0.0.1 (its Host), signed for localhost: the service
        # cannot tell where it was meant to go, but says what it expects
        assert (refused.value.status, refused.value.code) == (401, "bad_request_signature")
        assert f"'127.0.0.1:{port}'" in refused.value.message
    log.close()


# --------------------------------------------------------------------------
# urne serve: the options reach uvicorn and the app
# --------------------------------------------------------------------------


@pytest.fixture
def served_by_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``uvicorn.run`` replaced by a stand-in that records its arguments and
    runs the app's start-up and shut-down."""
    monkeypatch.setenv("URNE_DATABASE_URL", f"sqlite:///{tmp_path / 'urne.db'}")
    monkeypatch.setenv("URNE_ISSUANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'issuance.db'}")
    monkeypatch.setenv("URNE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("URNE_CREDENTIAL_PROCESSES", "0")
    for name in ("URNE_PUBLIC_AUTHORITY", "URNE_FORWARDED_ALLOW_IPS", "URNE_HOST", "URNE_PORT"):
        monkeypatch.delenv(name, raising=False)
    calls: list[dict[str, Any]] = []

    def run(app: FastAPI, **options: Any) -> None:
        with TestClient(app):
            calls.append({"app": app, **options})

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def test_urne_serve_trusts_no_proxy_and_signs_for_where_it_listens(
    served_by_cli: list[dict[str, Any]],
) -> None:
    r = CliRunner().invoke(urne, ["serve", "--port", "8123"])
    assert r.exit_code == 0, r.output
    (call_,) = served_by_cli
    assert call_["proxy_headers"] is False and call_["forwarded_allow_ips"] == []
    assert call_["app"].state.public_authority == "127.0.0.1:8123"
    assert "institution requests are signed for 127.0.0.1:8123" in r.output


def test_urne_serve_behind_a_proxy(
    served_by_cli: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["serve", "--forwarded-allow-ips", "127.0.0.1", "--public-authority", "Vote.Example.org"]
    r = CliRunner().invoke(urne, args)
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("URNE_FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    monkeypatch.setenv("URNE_PUBLIC_AUTHORITY", "vote.example.org:8443")
    r = CliRunner().invoke(urne, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 0, r.output
    first, second = served_by_cli
    assert first["proxy_headers"] is True and first["forwarded_allow_ips"] == ["127.0.0.1"]
    assert first["app"].state.public_authority == "vote.example.org"
    assert second["forwarded_allow_ips"] == ["10.0.0.0/8"]
    assert second["app"].state.public_authority == "vote.example.org:8443"
    r = CliRunner().invoke(urne, ["serve", "--forwarded-allow-ips", "the-proxy"])
    assert r.exit_code == 2 and "not an IP address" in r.output
    r = CliRunner().invoke(urne, ["serve", "--public-authority", "https://vote.example.org"])
    assert r.exit_code == 2 and "public_authority" in r.output


# --------------------------------------------------------------------------
# Finding 13: the SQLite files are the owner's only
# --------------------------------------------------------------------------


def _modes(path: Path) -> dict[str, int]:
    return {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in sorted(path.parent.iterdir())
        if p.name.startswith(path.name)
    }


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_the_database_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "data" / "urne.db"
    log = Log.open(f"sqlite:///{db}", key_dir=tmp_path / "keys", origin="perm.test/log")
    roll = open_roll(f"sqlite:///{db}")
    try:
        log.append_many([b'{"a": 1}', b'{"b": 2}'])
        now = int(time.time())
        assert use_nonce(roll, "city-hall", b"\x01" * 16, now, now=now, window=300)
        modes = _modes(db)  # while open: SQLite removes the WAL at the last close
        assert set(modes) == {"urne.db", "urne.db-wal", "urne.db-shm"}
        assert db.with_name("urne.db-wal").stat().st_size > 0
        assert modes == dict.fromkeys(modes, 0o600)
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    finally:
        roll.dispose()
        log.close()


@pytest.mark.usefixtures("umask_022")
def test_an_existing_database_readable_by_others_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "urne.db"
    log = Log.open(f"sqlite:///{db}", key_dir=tmp_path / "keys", origin="perm.test/log")
    log.append(b'{"a": 1}')
    for p in tmp_path.glob("urne.db*"):
        p.chmod(0o644)  # as an older version left it
    held = _modes(db)
    assert "urne.db-wal" in held and set(held.values()) == {0o644}
    with caplog.at_level(logging.WARNING, logger="urne.ledger"):
        again = Log.open(f"sqlite:///{db}", key_dir=tmp_path / "keys", origin="perm.test/log")
    try:
        again.append(b'{"b": 2}')
        modes = _modes(db)
        assert modes == dict.fromkeys(modes, 0o600)
        assert "could be read by group or others" in caplog.text
    finally:
        again.close()
        log.close()
