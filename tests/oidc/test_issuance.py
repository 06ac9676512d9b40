"""Issuance through a real OpenID Provider (docs/spec/eligibility.md §2, §6).

Every request goes through the provider started by the tests (node
oidc-provider, configured like FranceConnect's integration environment):
the wallet's half of the flow is done here as the wallets do it, the login
at the provider through its own form. Each refusal is replayed and must
spend nothing: no subject counted, and the same person can then take part.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest

from tests.support import identity
from tests.support.identity import (
    REDIRECT,
    IdentitySite,
    identity_site,
    new_client,
    nonce_for,
    rule,
    write_providers,
)
from tests.support.identity import WalletRequest as Request
from tests.support.oidc_provider import start_provider
from urne.verifier.citizen.blinding import Pseudonym, blind
from urne.verifier.civic.entries import b64encode
from urne.verifier.credentials.credential import credential_message


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentitySite]:
    with identity_site(tmp_path_factory.mktemp("identity")) as s:
        yield s


def authorize(site: IdentitySite, req: Request, **changes: Any) -> httpx.Response:
    return identity.authorize(site.url, req, **changes)


def log_in(site: IdentitySite, req: Request, login: str) -> str:
    return identity.log_in(site.url, site.provider, req, login)


def redeem(site: IdentitySite, req: Request, code: str, **changes: Any) -> httpx.Response:
    return identity.redeem(site.url, req, code, **changes)


def counts(site: IdentitySite, pid: str) -> dict[str, Any]:
    info: dict[str, Any] = httpx.get(f"{site.url}/issuance/{pid}").json()
    return info


def refused(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code, r.text
    assert error["message"]
    return str(error["message"])


def credential_of(site: IdentitySite, req: Request, r: httpx.Response) -> bytes:
    return identity.credential_from(req, r, site.served.keyring.public_key(req.pid))


def test_an_eligible_person_gets_one_credential_and_a_way_to_log_out(site: IdentitySite) -> None:
    pid = site.open("fc-ok")
    req = Request.new(pid)
    r = redeem(site, req, log_in(site, req, "adult-paris"))
    credential_of(site, req, r)
    answer = r.json()
    assert answer["provider"] == "FranceConnect"
    assert answer["logout"].startswith(site.provider.issuer)
    assert answer["id_token_hint"].count(".") == 2
    assert counts(site, pid) | {"issuer": None} == counts(site, pid) | {
        "issuer": None,
        "credentials_issued": 1,
        "subjects": 1,
        "roll_size": 0,
    }
    process = httpx.get(f"{site.url}/processes/{pid}").json()
    assert process["subjects"] == 1 and process["credentials_issued"] == 1
    assert process["eligibility"]["provider"] == site.provider.issuer


def test_the_authorization_request_is_the_one_the_spec_says(site: IdentitySite) -> None:
    req = Request.new(site.pid)
    r = authorize(site, req)
    assert r.status_code == 200, r.text
    url = urlsplit(r.json()["url"])
    assert f"{url.scheme}://{url.netloc}" == site.provider.issuer
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert q["response_type"] == "code"
    assert q["client_id"] == site.client.client_id
    assert q["redirect_uri"] == REDIRECT
    assert q["scope"].split() == ["openid", "birthdate", "birthplace"]
    assert q["state"] == req.state
    assert q["nonce"] == nonce_for(site.pid, req.blinded)
    assert q["code_challenge"] == req.challenge
    assert q["code_challenge_method"] == "S256"
    assert q["acr_values"] == "eidas2 eidas3"
    assert q["prompt"] == "login"


def test_a_lost_answer_is_given_again_to_the_same_person_for_the_same_point(
    site: IdentitySite,
) -> None:
    pid = site.open("fc-lost")
    req = Request.new(pid)
    first = credential_of(site, req, redeem(site, req, log_in(site, req, "adult-paris")))
    again = req.again()  # the answer was lost: log in again, same B
    second = credential_of(site, again, redeem(site, again, log_in(site, again, "adult-paris")))
    assert first == second
    assert counts(site, pid)["subjects"] == 1


def test_a_second_credential_for_the_same_person_is_refused(site: IdentitySite) -> None:
    pid = site.open("fc-twice")
    first = Request.new(pid)
    credential_of(site, first, redeem(site, first, log_in(site, first, "adult-paris")))
    other = Request.new(pid)  # another pseudonym, another B
    message = refused(
        redeem(site, other, log_in(site, other, "adult-paris")), 409, "already_issued"
    )
    assert "already" in message
    assert counts(site, pid)["subjects"] == 1
    # another person is not affected
    third = Request.new(pid)
    credential_of(site, third, redeem(site, third, log_in(site, third, "citizen-2")))
    assert counts(site, pid)["subjects"] == 2


def test_a_replayed_authorization_code_is_refused_by_the_provider(site: IdentitySite) -> None:
    pid = site.open("fc-replay")
    req = Request.new(pid)
    code = log_in(site, req, "adult-paris")
    credential_of(site, req, redeem(site, req, code))
    # someone who saw the code (a log line, a shoulder) tries it for their own B
    thief = Request.new(pid)
    refused(redeem(site, thief, code, code_verifier=req.verifier), 400, "code_refused")
    refused(redeem(site, req, code), 400, "code_refused")  # even with the same B
    assert counts(site, pid)["subjects"] == 1


def test_a_stolen_code_without_its_verifier_is_refused(site: IdentitySite) -> None:
    pid = site.open("fc-pkce")
    req = Request.new(pid)
    code = log_in(site, req, "adult-paris")
    thief = Request.new(pid)
    refused(redeem(site, thief, code), 400, "code_refused")  # the thief's own verifier
    assert counts(site, pid)["subjects"] == 0


def test_a_token_obtained_for_another_point_is_refused(site: IdentitySite) -> None:
    """The nonce binds the login to B: a code obtained for one B answers no other."""
    pid = site.open("fc-nonce-bound")
    req = Request.new(pid)
    code = log_in(site, req, "adult-paris")
    other = Request.new(pid)
    r = redeem(site, req, code, blinded=b64encode(other.blinded))
    refused(r, 400, "id_token_nonce")
    assert counts(site, pid)["subjects"] == 0


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("aud", "id_token_audience"),
        ("expired", "id_token_expired"),
        ("nonce", "id_token_nonce"),
        ("forged", "id_token_signature"),
        ("none", "id_token_alg"),
        ("iss", "id_token_issuer"),
    ],
)
def test_a_bad_id_token_is_refused_and_spends_nothing(
    site: IdentitySite, tamper: str, code: str
) -> None:
    """The provider's token answer rewritten on its way (tests/support/oidc/README.md):
    another audience, expired, another nonce, a key outside the JWKS, alg none,
    another issuer."""
    pid = site.open(f"fc-tamper-{tamper}")
    req = Request.new(pid)
    refused(redeem(site, req, log_in(site, req, f"tamper-{tamper}")), 400, code)
    assert counts(site, pid)["subjects"] == 0


@pytest.mark.parametrize(
    ("login", "status", "code", "named"),
    [
        ("minor-15", 403, "ineligible", "birthdate"),
        ("born-lyon", 403, "ineligible", "birthplace"),
        ("eidas1-only", 403, "acr_too_low", "eidas1"),
    ],
)
def test_an_ineligible_person_is_refused_and_spends_nothing(
    site: IdentitySite, login: str, status: int, code: str, named: str
) -> None:
    pid = site.open(f"fc-{login}")
    req = Request.new(pid)
    message = refused(redeem(site, req, log_in(site, req, login)), status, code)
    assert named in message
    assert "2011" not in message and "69123" not in message  # never the person's values
    assert counts(site, pid)["subjects"] == 0


def test_a_claim_the_rule_needs_and_the_provider_withholds(site: IdentitySite) -> None:
    pid = site.open(
        "fc-missing",
        eligibility=rule(site.provider, rules=[{"claim": "birthcountry", "in": ["99100"]}]),
    )
    req = Request.new(pid)  # the issuer asks only for birthdate and birthplace
    refused(redeem(site, req, log_in(site, req, "adult-paris")), 403, "claim_missing")
    assert counts(site, pid)["subjects"] == 0


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("redirect_uri", "https://evil.example/cb", "bad_redirect_uri"),
        ("redirect_uri", "http://127.0.0.1:47001/other", "bad_redirect_uri"),
        ("code_verifier", "short", "bad_code_verifier"),
        ("blinded", b64encode(b"\x00" * 48), "bad_blinded_point"),
        ("blinded", "not base64!", "bad_base64"),
    ],
)
def test_malformed_requests_are_refused_before_the_provider_is_asked(
    site: IdentitySite, field: str, value: str, code: str
) -> None:
    req = Request.new(site.pid)
    before = counts(site, site.pid)["subjects"]
    refused(redeem(site, req, "some-code", **{field: value}), 400, code)
    assert counts(site, site.pid)["subjects"] == before


def test_authorize_refuses_what_is_not_registered_or_not_a_provider_process(
    site: IdentitySite,
) -> None:
    req = Request.new(site.pid)
    refused(authorize(site, req, redirect_uri="https://evil.example/cb"), 400, "bad_redirect_uri")
    r = authorize(site, req, nonce="too-short")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter"
    codes = site.served.open("roll-only", "petition", people=1)
    assert len(codes) == 1
    refused(authorize(site, Request.new("roll-only")), 400, "not_an_identity_process")
    refused(redeem(site, Request.new("roll-only"), "x"), 400, "not_an_identity_process")
    refused(authorize(site, Request.new("no-such-process")), 404, "unknown_process")


def test_a_process_and_its_roll_count_apart_and_together(site: IdentitySite) -> None:
    """A process may take codes too, for those who cannot use the provider."""
    pid = "fc-and-roll"
    codes = site.served.open(pid, "petition", people=2, eligibility=rule(site.provider))
    req = Request.new(pid)
    credential_of(site, req, redeem(site, req, log_in(site, req, "adult-paris")))
    pseudonym = Pseudonym.generate()
    _, blinded = blind(credential_message(pid, pseudonym.public_key))
    r = httpx.post(
        f"{site.url}/issuance/{pid}", json={"code": codes[0], "blinded": b64encode(blinded)}
    )
    assert r.status_code == 200, r.text
    c = counts(site, pid)
    assert (c["credentials_issued"], c["subjects"], c["roll_size"]) == (2, 1, 2)


def test_the_userinfo_may_come_signed_as_franceconnect_v2_sends_it(tmp_path: Path) -> None:
    with identity_site(tmp_path, userinfo_signed=True) as signed:
        req = Request.new(signed.pid)
        credential_of(signed, req, redeem(signed, req, log_in(signed, req, "adult-paris")))
        minor = Request.new(signed.pid)
        refused(redeem(signed, minor, log_in(signed, minor, "minor-15")), 403, "ineligible")
        assert counts(signed, signed.pid)["subjects"] == 1


def test_an_unregistered_or_unreachable_provider_is_a_503(tmp_path: Path) -> None:
    with identity_site(tmp_path) as s:
        path = s.served.keyring.key_dir / "oidc-providers.json"
        req = Request.new(s.pid)
        code = log_in(s, req, "adult-paris")
        doc = json.loads(path.read_text())
        doc["providers"][0]["issuer"] = "https://elsewhere.example"
        path.write_text(json.dumps(doc))
        refused(redeem(s, req, code), 503, "provider_not_configured")
        os.chmod(path, 0o644)
        message = refused(redeem(s, req, code), 503, "provider_not_configured")
        assert "chmod 600" in message and str(path.parent) not in message
        assert counts(s, s.pid)["subjects"] == 0
    # the provider stopped: its discovery does not answer
    client = new_client()
    with start_provider([client]) as provider:
        issuer = provider.issuer
    with identity_site(tmp_path / "again") as s2:
        write_providers(s2.served.keyring, provider, client)
        pid = s2.open("fc-gone", eligibility=rule(provider))
        req = Request.new(pid)
        r = authorize(s2, req)
        refused(r, 503, "provider_unavailable")
        assert issuer in r.json()["error"]["message"]
