"""The issuer's registrations at identity providers, ``oidc-providers.json``
(docs/spec/eligibility.md §5): read whole or refused whole, secret, and
checked when the service starts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from urne.api.main import create_app
from urne.ledger.errors import LedgerError
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.oidc import PROVIDERS_FILE, ProvidersFile, load_providers
from urne.ledger.log import Log
from urne.verifier.errors import UrneError

GOOD: dict[str, Any] = {
    "issuer": "https://auth.example.org",
    "client_id": "urne",
    "client_secret": "s3cret",
    "scopes": ["openid", "birthdate"],
    "redirect_uris": ["https://vote.example.org/oidc/callback", "http://127.0.0.1/cb"],
}


def write(path: Path, doc: object, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(doc if isinstance(doc, str) else json.dumps(doc))
    os.chmod(path, mode)
    return path


def providers(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"format": "urne/v1/oidc-providers", "providers": list(entries)}


def test_a_good_file_is_read_and_its_secret_never_shown(tmp_path: Path) -> None:
    found = load_providers(write(tmp_path / PROVIDERS_FILE, providers(GOOD)))
    config = found["https://auth.example.org"]
    assert config.client_id == "urne" and config.scopes == ("openid", "birthdate")
    assert config.token_endpoint_auth_method == "client_secret_post"
    assert "s3cret" not in repr(config)
    assert load_providers(tmp_path / "missing.json") == {}


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        {"providers": [GOOD]},  # no format
        providers({**GOOD, "extra": 1}),
        providers({**GOOD, "client_secret": ""}),
        providers({**GOOD, "scopes": ["birthdate"]}),
        providers({**GOOD, "redirect_uris": []}),
        providers({**GOOD, "token_endpoint_auth_method": "private_key_jwt"}),
        providers("not an object"),  # type: ignore[arg-type]
    ],
)
def test_a_damaged_file_is_refused_whole_without_the_directory(tmp_path: Path, doc: Any) -> None:
    with pytest.raises(LedgerError) as caught:
        load_providers(write(tmp_path / "keys" / PROVIDERS_FILE, doc))
    assert caught.value.code == "provider_not_configured"
    assert str(tmp_path) not in str(caught.value)  # the answer reaches citizens


def test_a_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / PROVIDERS_FILE, providers(GOOD), mode=0o644)
    with pytest.raises(UrneError) as caught:
        load_providers(path)
    assert caught.value.code == "provider_not_configured"
    assert "chmod 600" in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_redirect_uris_exact_or_loopback_on_any_port(tmp_path: Path) -> None:
    config = load_providers(write(tmp_path / PROVIDERS_FILE, providers(GOOD)))[GOOD["issuer"]]
    assert config.allows_redirect("https://vote.example.org/oidc/callback")
    assert config.allows_redirect("http://127.0.0.1:53124/cb")
    for uri in (
        "https://vote.example.org/oidc/callback/",
        "https://evil.example/oidc/callback",
        "http://127.0.0.1:53124/other",
        "http://127.0.0.1:53124/cb?x=1",
        "http://localhost:53124/cb",
        "http://127.0.0.1:notaport/cb",
        "https://127.0.0.1:53124/cb",
    ):
        assert not config.allows_redirect(uri), uri


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    keyring = IssuerKeyring(tmp_path / "keys")
    current = ProvidersFile(keyring)
    with pytest.raises(LedgerError):  # no file: no provider
        current.current().client(_eligibility("https://auth.example.org"))
    path = write(keyring.key_dir / PROVIDERS_FILE, providers(GOOD))
    first = current.current()
    assert first is current.current()  # unchanged: not read again
    write(path, providers({**GOOD, "issuer": "https://other.example.org"}))
    second = current.current()
    assert second is not first
    with pytest.raises(LedgerError):
        second.client(_eligibility("https://auth.example.org"))
    assert second.client(_eligibility("https://other.example.org")).config.client_id == "urne"


def _eligibility(provider: str) -> Any:
    from urne.verifier.civic.eligibility import parse_eligibility

    return parse_eligibility({"provider": provider, "name": "P", "rules": []})


def test_the_service_does_not_start_with_a_damaged_file(tmp_path: Path) -> None:
    log = Log.open(f"sqlite:///{tmp_path / 'log.db'}", key_dir=tmp_path / "keys", origin="o/log")
    try:
        keyring = IssuerKeyring(tmp_path / "keys")
        write(keyring.key_dir / PROVIDERS_FILE, "{not json")
        with pytest.raises(LedgerError) as caught:
            create_app(log, keyring=keyring, rate_limit=None)
        assert caught.value.code == "provider_not_configured"
        write(keyring.key_dir / PROVIDERS_FILE, providers(GOOD))
        with TestClient(create_app(log, keyring=keyring, rate_limit=None)) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        log.close()


def test_each_provider_has_callbacks_of_its_own(tmp_path: Path) -> None:
    """Two providers sharing a callback: a wallet could not tell which one
    sent the browser back (a mix-up, RFC 9700 §4.4): refused."""
    other = {**GOOD, "issuer": "https://other.example.org"}
    with pytest.raises(LedgerError) as caught:
        load_providers(write(tmp_path / PROVIDERS_FILE, providers(GOOD, other)))
    assert "callbacks of its own" in str(caught.value)
    own = {
        **other,
        "redirect_uris": [
            "https://vote.example.org/oidc/callback/other",
            "http://127.0.0.1/cb/other",
        ],
    }
    first = {**GOOD, "redirect_uris": ["https://vote.example.org/oidc/callback/first"]}
    found = load_providers(write(tmp_path / PROVIDERS_FILE, providers(first, own)))
    a, b = found[GOOD["issuer"]], found[other["issuer"]]
    base = "https://vote.example.org/oidc/callback"
    assert a.resolve_redirect(base) == base + "/first"
    assert b.resolve_redirect(base) == base + "/other"
    assert b.resolve_redirect("http://127.0.0.1:61234/cb") == "http://127.0.0.1:61234/cb/other"
    assert a.resolve_redirect("http://127.0.0.1:61234/cb") is None  # none registered
    assert a.resolve_redirect("https://evil.example/oidc/callback") is None
    assert a.resolve_redirect(base + "?x=1") is None
    # an exact registered one is itself
    assert b.resolve_redirect(base + "/other") == base + "/other"
