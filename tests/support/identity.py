"""A service whose process takes part through an identity provider
(docs/spec/eligibility.md), with the real test OpenID Provider beside it.

:func:`identity_site` starts the provider (``tests/support/oidc_provider.py``,
configured like FranceConnect's integration environment), a service on a
loopback port whose issuer is registered there as a client, and opens a
petition whose manifest names the provider and a rule: 16 or older on the
closing day, born in Paris (INSEE 75056), eIDAS substantial or high.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

from tests.support.civic import IN_2026, Citizen
from tests.support.oidc_provider import OidcClient, OidcProvider, start_provider
from tests.support.service import Served, served_app
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.verifier.citizen.blinding import BlindingState, Pseudonym, blind, unblind
from urne.verifier.citizen.identity import new_state, pkce_pair
from urne.verifier.civic.eligibility import credential_nonce
from urne.verifier.civic.entries import b64decode, b64encode
from urne.verifier.credentials.credential import credential_message, verify_credential

#: The wallet page's callback and urne-wallet's, registered without a port.
PAGE_CALLBACK = "http://127.0.0.1/oidc/callback"
WALLET_CALLBACK = "http://127.0.0.1/urne-wallet/callback"
#: The loopback callback the tests' wallets name (urne-wallet's path, a fixed port:
#: nothing listens there, the tests read the provider's redirect themselves).
REDIRECT = "http://127.0.0.1:47001/urne-wallet/callback"
#: The claims' scopes, FranceConnect-style: one per claim the rule reads.
SCOPES = ["openid", "birthdate", "birthplace"]
PARIS = "75056"


def rule(provider: OidcProvider, **changes: Any) -> dict[str, Any]:
    """The manifest's ``eligibility``: 16 or older, born in Paris, eidas2+."""
    out: dict[str, Any] = {
        "provider": provider.issuer,
        "name": "FranceConnect",
        "acr": ["eidas2", "eidas3"],
        "rules": [
            {"claim": "birthdate", "min_age": 16},
            {"claim": "birthplace", "in": [PARIS, "75101", "75102"]},
        ],
    }
    out.update(changes)
    return out


def new_client(**kwargs: Any) -> OidcClient:
    """The issuer's registration: the page's and the CLI's callbacks."""
    return OidcClient(
        client_id="urne-" + secrets.token_hex(4),
        client_secret=secrets.token_urlsafe(32),
        redirect_uris=[PAGE_CALLBACK, WALLET_CALLBACK],
        **kwargs,
    )


def write_providers(
    keyring: IssuerKeyring,
    provider: OidcProvider,
    client: OidcClient,
    *,
    scopes: list[str] | None = None,
) -> Path:
    """``<key_dir>/oidc-providers.json`` (0600) naming ``client`` at ``provider``."""
    path = keyring.key_dir / "oidc-providers.json"
    keyring.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {
        "format": "urne/v1/oidc-providers",
        "providers": [
            {
                "issuer": provider.issuer,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "scopes": SCOPES if scopes is None else scopes,
                "redirect_uris": client.redirect_uris,
                "token_endpoint_auth_method": client.token_endpoint_auth_method,
            }
        ],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    return path


@dataclass
class IdentitySite:
    """The running service, its provider, and the open process ``pid``."""

    served: Served
    provider: OidcProvider
    client: OidcClient
    pid: str

    @property
    def url(self) -> str:
        return self.served.url

    def open(self, pid: str, ptype: str = "petition", **manifest: Any) -> str:
        """Another process through the provider (``eligibility`` overridable)."""
        manifest.setdefault("eligibility", rule(self.provider))
        self.served.open(pid, ptype, people=0, **manifest)
        return pid


@contextmanager
def identity_site(
    directory: Path, *, userinfo_signed: bool = False, pid: str = "petition-fc"
) -> Iterator[IdentitySite]:
    """The provider, the service (clock in 2026) and a petition through the provider."""
    client = new_client(userinfo_signed=userinfo_signed)
    with ExitStack() as stack:
        provider = stack.enter_context(start_provider([client]))
        served = stack.enter_context(served_app(directory, clock=IN_2026))
        write_providers(served.keyring, provider, client)
        site = IdentitySite(served, provider, client, pid)
        site.open(pid)
        yield site


@dataclass
class WalletRequest:
    """One wallet's request through the provider: the pseudonym, ``B``, the
    PKCE verifier and the state (docs/spec/eligibility.md §2)."""

    pid: str
    pseudonym: Pseudonym
    blinding: BlindingState
    verifier: str
    challenge: str
    state: str

    @classmethod
    def new(cls, pid: str) -> WalletRequest:
        pseudonym = Pseudonym.generate()
        blinding, _ = blind(credential_message(pid, pseudonym.public_key))
        verifier, challenge = pkce_pair()
        return cls(pid, pseudonym, blinding, verifier, challenge, new_state())

    def again(self) -> WalletRequest:
        """The same B (a lost answer, asked again after logging in again)."""
        verifier, challenge = pkce_pair()
        return WalletRequest(
            self.pid, self.pseudonym, self.blinding, verifier, challenge, new_state()
        )

    @property
    def blinded(self) -> bytes:
        return self.blinding.blinded


def _post(base: str, path: str, body: dict[str, Any], http: httpx2.Client | None) -> Any:
    if http is not None:
        return http.post(base + path, json=body)
    return httpx2.post(base + path, json=body, timeout=30)


def authorize(
    base: str, req: WalletRequest, *, http: httpx2.Client | None = None, **changes: Any
) -> httpx2.Response:
    """``POST /issuance/{pid}/authorize`` as the wallet sends it (``changes``
    replace fields; ``http``: a client of the caller's, else a new connection)."""
    body = {
        "redirect_uri": REDIRECT,
        "state": req.state,
        "nonce": credential_nonce(req.pid, req.blinded),
        "code_challenge": req.challenge,
        **changes,
    }
    answer: httpx2.Response = _post(base, f"/issuance/{req.pid}/authorize", body, http)
    return answer


def log_in(
    base: str,
    provider: OidcProvider,
    req: WalletRequest,
    login: str,
    *,
    http: httpx2.Client | None = None,
) -> str:
    """The authorization code, after logging in as ``login`` at the provider;
    the redirect URI and the state checked as the wallet checks them."""
    r = authorize(base, req, http=http)
    assert r.status_code == 200, r.text
    back = urlsplit(provider.login(r.json()["url"], login))
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    query = parse_qs(back.query)
    assert query["state"] == [req.state]
    return query["code"][0]


def redeem(
    base: str,
    req: WalletRequest,
    code: str,
    *,
    http: httpx2.Client | None = None,
    **changes: Any,
) -> httpx2.Response:
    """``POST /issuance/{pid}/identity`` with the code (``changes`` replace fields)."""
    body = {
        "code": code,
        "code_verifier": req.verifier,
        "redirect_uri": REDIRECT,
        "blinded": b64encode(req.blinded),
        **changes,
    }
    answer: httpx2.Response = _post(base, f"/issuance/{req.pid}/identity", body, http)
    return answer


def credential_from(req: WalletRequest, r: httpx2.Response, issuer_key: bytes) -> bytes:
    """The credential of an answer, unblinded and checked as the wallet does."""
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    answer = b64decode(r.json()["blind_signature"], "answer")
    credential = unblind(req.blinding, answer, issuer_key)
    assert verify_credential(issuer_key, req.pid, req.pseudonym.public_key, credential)
    return credential


def take_part(
    base: str,
    provider: OidcProvider,
    pid: str,
    login: str,
    issuer_key: bytes,
    *,
    http: httpx2.Client | None = None,
) -> Citizen:
    """A citizen through the provider, the whole wallet's half of the flow."""
    req = WalletRequest.new(pid)
    r = redeem(base, req, log_in(base, provider, req, login, http=http), http=http)
    return Citizen(pid, req.pseudonym, credential_from(req, r, issuer_key))


def nonce_for(process_id: str, blinded: bytes) -> str:
    """What the wallet sends as the nonce (docs/spec/eligibility.md §2)."""
    return credential_nonce(process_id, blinded)


def blinded_text(blinded: bytes) -> str:
    return b64encode(blinded)
