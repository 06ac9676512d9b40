"""The test OpenID Provider behaves like FranceConnect's integration
environment where the relying party can tell: discovery, code flow with PKCE,
pairwise subjects, the level of assurance actually reached, identity claims
from userinfo only (JSON or signed JWT), single-use codes, and the tampered ID
tokens the refusal tests rely on."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from tests.support.oidc_provider import (
    FRANCECONNECT_ACCOUNTS,
    TAMPER_MODES,
    OidcClient,
    OidcProvider,
    start_provider,
)

RP = OidcClient("rp", "rp-secret", ["http://127.0.0.1/cb"])
OTHER_SECTOR = OidcClient("rp-localhost", "other-secret", ["http://localhost/cb"])
SIGNED = OidcClient("rp-signed", "signed-secret", ["http://127.0.0.1/signed"], userinfo_signed=True)
BASIC = OidcClient(
    "rp-basic",
    "basic-secret",
    ["http://127.0.0.1/basic"],
    token_endpoint_auth_method="client_secret_basic",
)
SCOPE = "openid given_name family_name birthdate birthplace birthcountry"


@pytest.fixture(scope="module")
def provider(oidc_installed: Path) -> Iterator[OidcProvider]:
    with start_provider([RP, OTHER_SECTOR, SIGNED, BASIC]) as running:
        yield running


@pytest.fixture(scope="module")
def discovery(provider: OidcProvider) -> dict[str, Any]:
    return provider.discovery()


@pytest.fixture(scope="module")
def keys(discovery: dict[str, Any]) -> KeySet:
    return KeySet.import_key_set(httpx2.get(discovery["jwks_uri"]).json())


@dataclass
class Login:
    """One authorization request and where the provider sent the browser back."""

    redirect_uri: str
    state: str
    nonce: str
    verifier: str
    returned: str

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.returned).query).items()}


def login(
    provider: OidcProvider,
    discovery: dict[str, Any],
    client: OidcClient,
    account: str,
    *,
    port: int = 54321,
    redirect_uri: str | None = None,
    scope: str = SCOPE,
    acr_values: str = "eidas2",
    pkce: bool = True,
) -> Login:
    if redirect_uri is None:
        base = urlsplit(client.redirect_uris[0])
        redirect_uri = f"{base.scheme}://{base.hostname}:{port}{base.path}"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": scope,
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "acr_values": acr_values,
    }
    if pkce:
        params["code_challenge"] = challenge.rstrip(b"=").decode()
        params["code_challenge_method"] = "S256"
    url = f"{discovery['authorization_endpoint']}?{urlencode(params)}"
    returned = provider.login(url, account)
    return Login(redirect_uri, params["state"], params["nonce"], verifier, returned)


def exchange(
    discovery: dict[str, Any],
    client: OidcClient,
    done: Login,
    *,
    verifier: str | None = None,
) -> httpx2.Response:
    data = {
        "grant_type": "authorization_code",
        "code": done.query["code"],
        "redirect_uri": done.redirect_uri,
        "code_verifier": verifier or done.verifier,
    }
    if client.token_endpoint_auth_method == "client_secret_basic":
        auth = httpx2.BasicAuth(client.client_id, client.client_secret)
        return httpx2.post(discovery["token_endpoint"], data=data, auth=auth)
    data |= {"client_id": client.client_id, "client_secret": client.client_secret}
    return httpx2.post(discovery["token_endpoint"], data=data)


def tokens(discovery: dict[str, Any], client: OidcClient, done: Login) -> dict[str, Any]:
    r = exchange(discovery, client, done)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def verified(token: str, keys: KeySet) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, keys, algorithms=["RS256"]).claims
    return claims


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")

    def part(text: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return value

    return part(header), part(payload), signature


# -- discovery ---------------------------------------------------------------------------


def test_discovery_advertises_what_franceconnect_does(discovery: dict[str, Any]) -> None:
    assert discovery["acr_values_supported"] == ["eidas1", "eidas2", "eidas3"]
    assert "pairwise" in discovery["subject_types_supported"]
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["response_types_supported"] == ["code"]
    assert "client_secret_post" in discovery["token_endpoint_auth_methods_supported"]
    assert {
        "openid",
        "given_name",
        "family_name",
        "birthdate",
        "birthplace",
        "birthcountry",
    } <= set(discovery["scopes_supported"])
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    assert discovery["userinfo_signing_alg_values_supported"] == ["RS256"]
    assert discovery["end_session_endpoint"].startswith(discovery["issuer"])


# -- the login -------------------------------------------------------------------------


@pytest.mark.parametrize("port", [8000, 61234])
def test_login_returns_to_the_loopback_redirect_uri_on_any_port(
    provider: OidcProvider, discovery: dict[str, Any], port: int
) -> None:
    done = login(provider, discovery, RP, "adult-paris", port=port)
    returned = urlsplit(done.returned)
    assert (returned.hostname, returned.port, returned.path) == ("127.0.0.1", port, "/cb")
    assert done.query["state"] == done.state
    assert done.query["iss"] == provider.issuer
    assert done.query["code"]


def test_an_unregistered_path_or_host_is_refused(
    provider: OidcProvider, discovery: dict[str, Any]
) -> None:
    for redirect_uri in ("http://127.0.0.1:8000/other", "http://localhost:8000/cb"):
        with pytest.raises(AssertionError, match="redirect_uri"):
            login(provider, discovery, RP, "adult-paris", redirect_uri=redirect_uri)


def test_an_unknown_login_is_refused_by_the_form(
    provider: OidcProvider, discovery: dict[str, Any]
) -> None:
    with pytest.raises(AssertionError, match="Identifiant inconnu : nobody"):
        login(provider, discovery, RP, "nobody")


def test_the_login_form_is_labelled_in_french(
    provider: OidcProvider, discovery: dict[str, Any]
) -> None:
    params = {"client_id": RP.client_id, "redirect_uri": "http://127.0.0.1:9/cb"}
    params |= {"response_type": "code", "scope": "openid", "code_challenge_method": "S256"}
    params["code_challenge"] = "x" * 43
    url = f"{discovery['authorization_endpoint']}?{urlencode(params)}"
    page = httpx2.get(url, follow_redirects=True)
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert '<label for="login">Identifiant</label>' in page.text
    assert '<input id="login" name="login"' in page.text
    assert '<button type="submit">Se connecter</button>' in page.text


def test_pkce_is_required(provider: OidcProvider, discovery: dict[str, Any]) -> None:
    done = login(provider, discovery, RP, "adult-paris", pkce=False)
    assert done.query["error"] == "invalid_request"
    assert "code" not in done.query


# -- tokens and claims ---------------------------------------------------------------


def test_the_id_token_verifies_and_carries_nonce_acr_and_a_pairwise_sub(
    provider: OidcProvider, discovery: dict[str, Any], keys: KeySet
) -> None:
    done = login(provider, discovery, RP, "adult-paris")
    claims = verified(tokens(discovery, RP, done)["id_token"], keys)
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == RP.client_id
    assert claims["nonce"] == done.nonce
    assert claims["acr"] == "eidas2"
    account_sub = FRANCECONNECT_ACCOUNTS["adult-paris"]["sub"]
    assert claims["sub"] != account_sub
    assert claims["sub"] == provider.pairwise_sub(account_sub, RP.redirect_uris[0])
    # identity claims come from userinfo only
    assert "birthdate" not in claims
    assert "given_name" not in claims


def test_the_sub_is_stable_for_a_client_and_differs_across_sectors(
    provider: OidcProvider, discovery: dict[str, Any], keys: KeySet
) -> None:
    def sub(client: OidcClient) -> str:
        done = login(provider, discovery, client, "born-lyon")
        value: str = verified(tokens(discovery, client, done)["id_token"], keys)["sub"]
        return value

    first, again, elsewhere = sub(RP), sub(RP), sub(OTHER_SECTOR)
    assert first == again
    assert elsewhere != first


@pytest.mark.parametrize(
    ("account", "asked", "reached"),
    [("adult-paris", "eidas3", "eidas2"), ("eidas1-only", "eidas2", "eidas1")],
)
def test_the_acr_is_the_level_reached_not_the_level_asked(
    provider: OidcProvider,
    discovery: dict[str, Any],
    keys: KeySet,
    account: str,
    asked: str,
    reached: str,
) -> None:
    done = login(provider, discovery, RP, account, acr_values=asked)
    assert verified(tokens(discovery, RP, done)["id_token"], keys)["acr"] == reached


def test_userinfo_gives_the_requested_identity_claims(
    provider: OidcProvider, discovery: dict[str, Any], keys: KeySet
) -> None:
    done = login(provider, discovery, RP, "minor-15", scope="openid birthdate birthplace")
    body = tokens(discovery, RP, done)
    r = httpx2.get(
        discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    info = r.json()
    assert info["sub"] == verified(body["id_token"], keys)["sub"]
    assert (info["birthdate"], info["birthplace"]) == ("2011-06-15", "75056")
    assert "family_name" not in info  # scope not asked for


def test_a_synthetic_citizen_logs_in(
    provider: OidcProvider, discovery: dict[str, Any], keys: KeySet
) -> None:
    done = login(provider, discovery, RP, "citizen-42")
    body = tokens(discovery, RP, done)
    assert verified(body["id_token"], keys)["acr"] == "eidas2"
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    info = httpx2.get(discovery["userinfo_endpoint"], headers=auth).json()
    assert info["birthdate"] == "1980-01-01"
    assert (info["birthplace"], info["birthcountry"]) == ("75056", "99100")
    assert (info["given_name"], info["family_name"]) == ("Citoyen", "42")


def test_the_userinfo_can_be_a_signed_jwt(
    provider: OidcProvider, discovery: dict[str, Any], keys: KeySet
) -> None:
    done = login(provider, discovery, SIGNED, "born-lyon")
    body = tokens(discovery, SIGNED, done)
    r = httpx2.get(
        discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/jwt")
    info = verified(r.text, keys)
    assert (info["iss"], info["aud"]) == (provider.issuer, SIGNED.client_id)
    assert info["birthplace"] == "69123"


def test_client_secret_basic_when_the_client_is_registered_so(
    provider: OidcProvider, discovery: dict[str, Any]
) -> None:
    done = login(provider, discovery, BASIC, "adult-paris")
    assert "id_token" in tokens(discovery, BASIC, done)


def test_a_code_is_single_use(provider: OidcProvider, discovery: dict[str, Any]) -> None:
    done = login(provider, discovery, RP, "adult-paris")
    assert exchange(discovery, RP, done).status_code == 200
    again = exchange(discovery, RP, done)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_a_wrong_pkce_verifier_is_refused(
    provider: OidcProvider, discovery: dict[str, Any]
) -> None:
    done = login(provider, discovery, RP, "adult-paris")
    r = exchange(discovery, RP, done, verifier=secrets.token_urlsafe(48))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


# -- tampered ID tokens ---------------------------------------------------------------


@pytest.mark.parametrize("mode", TAMPER_MODES)
def test_each_tamper_account_gets_its_modified_id_token(
    provider: OidcProvider, discovery: dict[str, Any], keys: KeySet, mode: str
) -> None:
    done = login(provider, discovery, RP, f"tamper-{mode}")
    token = tokens(discovery, RP, done)["id_token"]
    header, payload, signature = unverified(token)
    if mode == "none":
        assert header["alg"] == "none"
        assert signature == ""
        assert payload["nonce"] == done.nonce
        return
    if mode == "forged":
        assert header["kid"] == keys.keys[0].kid  # points at the real key
        with pytest.raises(BadSignatureError):
            verified(token, keys)
        assert payload["nonce"] == done.nonce
        return
    claims = verified(token, keys)  # still validly signed by the real key
    expected = {
        "aud": ("aud", "another-client"),
        "nonce": ("nonce", "not-the-nonce"),
        "iss": ("iss", "http://evil.example"),
    }
    if mode == "expired":
        assert claims["iat"] < claims["exp"] < time.time()
        assert claims["nonce"] == done.nonce
    else:
        name, value = expected[mode]
        assert claims[name] == value
    assert claims["acr"] == "eidas2"
