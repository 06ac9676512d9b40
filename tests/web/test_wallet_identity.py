"""Taking part through an identity provider in the browser
(docs/spec/eligibility.md, docs/guides/web.md §3a): the wallet page's "Take
part with FranceConnect", the login at the provider, the callback page, and
the process page's counts, in Chromium, in English and in French.

The provider is the real test OpenID Provider (node oidc-provider configured
like FranceConnect, tests/support/oidc_provider.py), logged into through its
own form as its fictional accounts; the service runs for real on a loopback
port with the provider registered for its issuer (tests/support/identity.py).
Each successful login uses a process of its own, since a person is answered
once per process; the refusals use ``petition-fc``, which they leave at 0."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests.support.axe import run_axe
from tests.support.identity import IdentitySite, identity_site
from tests.support.paths import ROOT
from urne.api.take_part import CSP as WALLET_CSP
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.civic.entries import b64decode, decode_entry
from urne.verifier.credentials.credential import verify_credential

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-GB", "fr": "fr-FR"}
#: Chromium's console line for a request answered with a refusal: expected
#: where a test provokes one.
NETWORK_LINE = "Failed to load resource"
VECTORS = ROOT / "docs" / "spec" / "eligibility-vectors.json"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentitySite]:
    with identity_site(tmp_path_factory.mktemp("identity-web")) as s:
        yield s


class Citizen:
    """One browser (a fresh profile, in ``lang``) on the service and the provider."""

    def __init__(self, browser: Any, site: IdentitySite, lang: str = "en", width: int = 1280):
        self.site = site
        self.context = browser.new_context(
            locale=LOCALES[lang], viewport={"width": width, "height": 900}
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.context.on("request", lambda r: self.requests.append(r.url))

    def _console(self, message: Any) -> None:
        where = str((message.location or {}).get("url", ""))
        # the provider's own pages are not ours to judge (it has no favicon)
        if message.type == "error" and not where.startswith(self.site.provider.issuer):
            self.errors.append(message.text)

    def take_part(self, pid: str) -> None:
        self.page.goto(f"{self.site.url}/p/{pid}/take-part")
        self.page.wait_for_selector("body[data-ready=yes]")

    def at_provider(self) -> None:
        self.page.wait_for_selector("#login")
        assert self.page.url.startswith(self.site.provider.issuer + "/")

    def log_in(self, login: str) -> None:
        """At the provider's form: the login, then "Se connecter"."""
        self.at_provider()
        self.page.fill("#login", login)
        self.page.get_by_role("button", name="Se connecter").click()

    def joined(self, pid: str) -> None:
        """Back on the wallet page, holding the credential."""
        self.page.wait_for_url(f"{self.site.url}/p/{pid}/take-part")
        self.page.wait_for_selector("body[data-ready=yes][data-wallet=joined]")

    def refused(self) -> tuple[str, str]:
        """The code and the sentence the callback page stopped with."""
        box = self.page.wait_for_selector("#callback-message[data-kind=error]")
        return box.get_attribute("data-code") or "", box.inner_text()

    def sign(self) -> Receipt:
        """Sign; the receipt the page checked, as the log holds it."""
        self.page.click("#cast")
        self.page.locator("#receipt-list li").first.wait_for()
        assert self.page.get_attribute("#receipt-verdict", "data-result") == "valid"
        index = int(self.page.locator("#receipt-list li").last.get_attribute("data-index") or "")
        return Receipt.from_json(self.site.served.log.receipt(index).to_json())

    def authorization_requests(self) -> list[str]:
        """The authorization requests the browser made at the provider."""
        endpoint = self.site.provider.discovery()["authorization_endpoint"]
        return [u for u in self.requests if u.startswith(endpoint + "?")]

    def close(self, *, network_errors: bool = False) -> None:
        errors = [e for e in self.errors if not (network_errors and NETWORK_LINE in e)]
        ours = (self.site.url, self.site.provider.issuer, "blob:", "data:")
        outside = [u for u in self.requests if not u.startswith(ours)]
        self.context.close()
        assert not errors, f"errors in the browser console: {errors}"
        assert not outside, f"requests to anyone but the service and the provider: {outside}"


def counts(site: IdentitySite, pid: str) -> dict[str, Any]:
    info: dict[str, Any] = httpx2.get(f"{site.url}/issuance/{pid}").json()
    return info


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- from the button to a checked receipt ------------------------------------------------------

SIGNED = {
    "en": {
        "button": "Take part with FranceConnect",
        "logout": "Log out of FranceConnect",
        "what": "Your signature on “Process {pid}”",
        "counts": "1 credential issued to 1 distinct person vouched for by FranceConnect",
    },
    "fr": {
        "button": "Participer avec FranceConnect",
        "logout": "Se déconnecter de FranceConnect",
        "what": "Votre signature de la pétition «\u00a0Process {pid}\u00a0»",
        "counts": "1 attestation délivrée à 1 personne distincte authentifiée par FranceConnect",
    },
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_an_eligible_citizen_logs_in_signs_and_checks_the_receipt(
    browser: Any, site: IdentitySite, lang: str
) -> None:
    pid = site.open(f"fc-sign-{lang}")
    words = SIGNED[lang]
    c = Citizen(browser, site, lang)
    c.take_part(pid)
    assert c.page.get_attribute("html", "lang") == lang
    button = c.page.locator("#identity-login")
    assert button.inner_text() == words["button"]
    # the provider's button comes before the code's form
    assert c.page.evaluate(
        "document.querySelector('#identity-login').compareDocumentPosition("
        "document.querySelector('#code-form')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    button.click()
    c.log_in("adult-paris")
    c.joined(pid)
    # the code went to the service's issuer only, in a body: not left in the address bar
    assert "code=" not in c.page.url and "oidc-callback" not in c.page.url
    assert c.page.is_visible("#credential-held") and not c.page.is_visible("#step-code")
    assert counts(site, pid)["subjects"] == 1

    receipt = c.sign()
    check_receipt(receipt, site.served.log.verifier)
    entry = decode_entry(receipt.entry).obj
    assert entry["kind"] == "ballot" and entry["process"] == pid and "choice" not in entry
    key = site.served.keyring.public_key(pid)
    pseudonym = b64decode(entry["pseudonym"], "pseudonym")
    assert verify_credential(key, pid, pseudonym, b64decode(entry["credential"], "credential"))
    assert c.page.inner_text("#receipt-what") == words["what"].format(pid=pid)
    assert c.page.locator("#receipt-list li").count() == 1
    # the credential is the browser's: the record holds it, r is forgotten
    record = c.page.evaluate("""async () => (await import("/static/wallet/take-part.js")).load()""")
    assert record["credential"] == entry["credential"] and record["blinding"] is None

    # logging out at the provider, offered for this tab's session
    logout = c.page.locator("#identity-logout-link")
    assert logout.is_visible() and logout.inner_text() == words["logout"]
    href = logout.get_attribute("href") or ""
    assert href.startswith(site.provider.issuer + "/")
    assert parse_qs(urlsplit(href).query)["id_token_hint"][0].count(".") == 2
    logout.click()
    c.page.wait_for_selector("text=Vous êtes déconnecté.")

    # the process page counts the credential and the person, in the page's language
    c.page.goto(f"{site.url}/p/{pid}")
    assert c.page.inner_text("#identity-credentials") == words["counts"]
    process = httpx2.get(f"{site.url}/processes/{pid}").json()
    assert process["credentials_issued"] == 1 and process["subjects"] == 1
    assert process["roll_size"] == 0
    assert process["eligibility"]["name"] == "FranceConnect"
    c.close()


# -- the refusals -------------------------------------------------------------------------------

INELIGIBLE = {
    "en": "FranceConnect says that you are not among the people who may take part",
    "fr": "FranceConnect indique que vous ne faites pas partie des personnes",
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_minor_is_refused_in_words_and_holds_no_credential(
    browser: Any, site: IdentitySite, lang: str
) -> None:
    c = Citizen(browser, site, lang, width=390)
    c.take_part(site.pid)
    c.page.click("#identity-login")
    c.log_in("minor-15")
    code, text = c.refused()
    assert code == "ineligible"
    assert text.startswith(INELIGIBLE[lang]), text
    assert "code=" not in c.page.url  # taken out of the address bar at once
    # axe-core on the refusal, on a phone
    result = run_axe(c.page)
    assert result["violations"] == []
    assert c.page.evaluate("document.documentElement.scrollWidth") <= 390
    # back to the wallet page: no credential, the sealed request kept for another try
    c.page.click("#callback-back-link")
    c.page.wait_for_url(f"{site.url}/p/{site.pid}/take-part")
    c.page.wait_for_selector("body[data-ready=yes]")
    assert c.page.get_attribute("body", "data-wallet") == "joining"
    assert c.page.is_visible("#identity-login") and not c.page.is_visible("#step-ballot")
    assert not c.page.is_visible("#identity-logout")
    info = counts(site, site.pid)
    assert info["subjects"] == 0 and info["credentials_issued"] == 0
    c.close(network_errors=True)  # the service's 403, in the console


def test_the_other_refusals_are_said_plainly(browser: Any, site: IdentitySite) -> None:
    """Too low a level of assurance, and a birthplace outside the rule."""
    for login, want, words in (
        ("eidas1-only", "acr_too_low", "This process asks for a stronger login"),
        ("born-lyon", "ineligible", INELIGIBLE["en"]),
    ):
        c = Citizen(browser, site)
        c.take_part(site.pid)
        c.page.click("#identity-login")
        c.log_in(login)
        code, text = c.refused()
        assert (code, text[: len(words)]) == (want, words)
        c.close(network_errors=True)
    assert counts(site, site.pid)["subjects"] == 0


def test_a_callback_with_no_login_under_way_or_another_state_sends_nothing(
    browser: Any, site: IdentitySite
) -> None:
    # opened in a tab that started no login (another browser, a link someone sent)
    c = Citizen(browser, site, "fr")
    c.page.goto(f"{site.url}/oidc/callback?code=not-yours&state=whatever")
    code, text = c.refused()
    assert code == "no_login" and text.startswith("Cet onglet n'a aucune connexion en cours")
    assert c.page.url == f"{site.url}/oidc/callback"
    assert c.page.is_visible("#callback-home") and not c.page.is_visible("#callback-back")
    c.close()

    # a login under way, and an answer that does not carry its state
    c = Citizen(browser, site)
    c.take_part(site.pid)
    c.page.click("#identity-login")
    c.at_provider()
    c.page.goto(f"{site.url}/oidc/callback?code=forged&state=someone-elses-state-0000")
    code, text = c.refused()
    assert code == "bad_state" and text.startswith("This answer is not the one this page asked")
    assert not [u for u in c.requests if u.endswith("/identity")]
    assert c.page.get_attribute("#callback-back-link", "href") == f"/p/{site.pid}/take-part"
    c.close()

    # the provider's own refusal (the citizen cancelled), with the state this tab drew
    c = Citizen(browser, site)
    c.take_part(site.pid)
    c.page.click("#identity-login")
    c.at_provider()
    state = parse_qs(urlsplit(c.authorization_requests()[0]).query)["state"][0]
    c.page.goto(
        f"{site.url}/oidc/callback?error=access_denied"
        f"&error_description=User+cancelled+the+login&state={state}"
    )
    code, text = c.refused()
    assert code == "login_failed"
    assert text.startswith("FranceConnect did not log you in (User cancelled the login).")
    assert not [u for u in c.requests if u.endswith("/identity")]
    c.close()
    assert counts(site, site.pid)["subjects"] == 0


def test_the_callback_page_never_writes_its_query(site: IdentitySite) -> None:
    secret = "SECRET-CODE-" + "x" * 20
    for lang in ("en", "fr"):
        r = httpx2.get(
            f"{site.url}/oidc/callback",
            params={"code": secret, "state": "s" * 43},
            headers={"Accept-Language": lang},
        )
        assert r.status_code == 200
        assert secret not in r.text and "state=" not in r.text
        assert f'<html lang="{lang}">' in r.text
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["content-security-policy"] == WALLET_CSP
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "<script>" not in r.text  # the import map and data blocks only
    # a process page is still a process page
    assert httpx2.get(f"{site.url}/p/{site.pid}").status_code == 200


def test_the_access_log_writes_the_callback_without_its_query(site: IdentitySite) -> None:
    line = '%s - "%s %s HTTP/%s" %d'
    args = ("-", "GET", "/oidc/callback?code=SECRET-CODE&state=s&iss=x", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 0, line, args, None)
    assert logging.getLogger("uvicorn.access").filter(record)
    assert record.getMessage() == '- - "GET /oidc/callback HTTP/1.1" 200'
    other = ("-", "GET", f"/p/{site.pid}/take-part?lang=fr", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 0, line, other, None)
    assert logging.getLogger("uvicorn.access").filter(record)
    assert f"/p/{site.pid}/take-part?lang=fr" in record.getMessage()


# -- the keyboard, axe, the protocol's values ----------------------------------------------------


def test_the_provider_button_with_the_keyboard_alone(browser: Any, site: IdentitySite) -> None:
    pid = site.open("fc-keyboard")
    c = Citizen(browser, site)
    c.take_part(pid)
    kb = c.page.keyboard

    def tab_to(selector: str) -> None:
        for _ in range(60):
            kb.press("Tab")
            if c.page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key")

    tab_to("#identity-login")
    assert c.page.evaluate("document.activeElement.tagName") == "BUTTON"
    kb.press("Enter")
    c.at_provider()
    c.page.focus("#login")
    kb.type("adult-paris")
    kb.press("Enter")
    c.joined(pid)
    tab_to("#cast")
    kb.press("Enter")
    c.page.wait_for_selector("#receipt-verdict[data-result=valid]")
    assert counts(site, pid)["subjects"] == 1
    c.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_axe_finds_no_violation_on_the_page_with_the_provider_button(
    browser: Any, site: IdentitySite, lang: str
) -> None:
    c = Citizen(browser, site, lang, width=390)
    c.take_part(site.pid)
    assert c.page.is_visible("#identity-login")
    result = run_axe(c.page)
    assert result["violations"] == []
    assert result["passes"] > 20
    assert c.page.evaluate("document.documentElement.scrollWidth") <= 390
    c.close()


def test_the_nonce_pkce_and_state_are_the_spec_s(browser: Any, site: IdentitySite) -> None:
    """The page's nonce is the vectors' (docs/spec/eligibility-vectors.json),
    its PKCE challenge the S256 of its verifier, and what it sends the
    service is what the spec says."""
    cases = json.loads(VECTORS.read_text())["nonce"]["cases"]
    c = Citizen(browser, site)
    c.take_part(site.pid)
    got = c.page.evaluate(
        """async (cases) => {
          const id = await import("/static/wallet/identity.js");
          const bytes = (h) => Uint8Array.from(h.match(/../g), (x) => parseInt(x, 16));
          const pkce = id.pkcePair();
          return {
            nonces: cases.map((k) => id.credentialNonce(k.process, bytes(k.blinded_hex))),
            pkce, state: id.newState(),
          };
        }""",
        cases,
    )
    assert got["nonces"] == [k["nonce"] for k in cases]
    verifier, challenge = got["pkce"]["verifier"], got["pkce"]["challenge"]
    assert len(verifier) == 64 and len(got["state"]) == 43
    assert challenge == _b64url(hashlib.sha256(verifier.encode()).digest())

    sent: list[dict[str, Any]] = []
    c.page.on(
        "request",
        lambda r: sent.append(json.loads(r.post_data or "{}")) if "/authorize" in r.url else None,
    )
    c.page.click("#identity-login")
    c.at_provider()
    (body,) = sent
    assert set(body) == {"redirect_uri", "state", "nonce", "code_challenge"}
    assert body["redirect_uri"] == f"{site.url}/oidc/callback"
    request = parse_qs(urlsplit(c.authorization_requests()[0]).query)
    assert request["state"] == [body["state"]] and request["nonce"] == [body["nonce"]]
    assert request["code_challenge"] == [body["code_challenge"]]
    c.close()


def test_the_guide_names_the_page(site: IdentitySite) -> None:
    """The citizens' guide quotes the French button as the page says it."""
    guide = (ROOT / "docs" / "guides" / "citizens.md").read_text(encoding="utf-8")
    page = httpx2.get(f"{site.url}/p/{site.pid}/take-part", headers={"Accept-Language": "fr"}).text
    assert "Participer avec FranceConnect" in page
    assert "« Participer avec FranceConnect »" in guide
