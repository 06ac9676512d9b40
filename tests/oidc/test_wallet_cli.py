"""``urne-wallet join --provider``: the citizen's command logs in at the real
OpenID Provider through a loopback callback (RFC 8252), gets a credential,
signs the petition and checks the receipt; a refusal is one line with its
code and a hint, and leaves the person free to try again."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest

from tests.support.deployment import console_script
from tests.support.identity import IdentitySite, identity_site
from urne.verifier.citizen.identity import CALLBACK_PATH, IdentityLogin, LoopbackCallback
from urne.verifier.citizen.wallet import Wallet
from urne.verifier.errors import UrneError


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentitySite]:
    with identity_site(tmp_path_factory.mktemp("identity-cli")) as s:
        yield s


def _wallet(*args: str | Path) -> list[str]:
    return [console_script("urne-wallet"), *map(str, args)]


def _join(
    site: IdentitySite, wallet: Path, pid: str, login: str
) -> subprocess.CompletedProcess[str]:
    """Run ``urne-wallet join --provider --no-browser``; play the browser: read
    the address it prints, log in there, follow the provider's redirect to
    the command's loopback callback."""
    proc = subprocess.Popen(
        _wallet("--wallet", wallet, "join", site.url, pid, "--provider", "--no-browser"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("  http"):
            back = site.provider.login(line.strip(), login)
            assert urlsplit(back).path == CALLBACK_PATH
            page = httpx.get(back)  # the browser, sent back to the command
            assert page.status_code == 200
            assert "vous pouvez fermer cette fenêtre" in page.text or "pas abouti" in page.text
            break
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines) + out, err)


def test_a_citizen_joins_with_the_provider_signs_and_checks_the_receipt(
    site: IdentitySite, tmp_path: Path
) -> None:
    pid = site.open("cli-fc")
    wallet = tmp_path / "wallet"
    done = _join(site, wallet, pid, "adult-paris")
    assert done.returncode == 0, done.stderr
    assert f"joined {pid}" in done.stdout
    assert "log out at the identity provider" in done.stdout
    saved = json.loads((wallet / f"{pid}.json").read_text())
    assert saved["credential"] and saved["blinding"] is None
    signed = subprocess.run(
        _wallet("--wallet", wallet, "sign", pid), capture_output=True, text=True, timeout=60
    )
    assert signed.returncode == 0, signed.stderr
    checked = subprocess.run(
        _wallet("--wallet", wallet, "receipts", pid), capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert "ok" in checked.stdout.lower()
    info = httpx.get(f"{site.url}/issuance/{pid}").json()
    assert (info["subjects"], info["credentials_issued"]) == (1, 1)
    tally = httpx.get(f"{site.url}/processes/{pid}").json()["tally"]
    assert tally["signatures"] == 1


def test_an_ineligible_citizen_gets_one_line_and_spends_nothing(
    site: IdentitySite, tmp_path: Path
) -> None:
    pid = site.open("cli-fc-minor")
    done = _join(site, tmp_path / "w", pid, "minor-15")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "(ineligible)" in line
    assert "organisers" in line  # the hint
    assert httpx.get(f"{site.url}/issuance/{pid}").json()["subjects"] == 0
    # the same wallet, then an eligible person on it: nothing was spent
    again = _join(site, tmp_path / "w", pid, "adult-paris")
    assert again.returncode == 0, again.stderr


def test_code_and_provider_are_exclusive(site: IdentitySite, tmp_path: Path) -> None:
    both = subprocess.run(
        _wallet("--wallet", tmp_path, "join", site.url, site.pid, "--provider", "--code", "X"),
        capture_output=True,
        text=True,
    )
    neither = subprocess.run(
        _wallet("--wallet", tmp_path, "join", site.url, site.pid), capture_output=True, text=True
    )
    for done in (both, neither):
        assert done.returncode == 2
        assert "either --code" in done.stderr


def test_the_loopback_callback_takes_only_its_own_state() -> None:
    """A page that guesses the port cannot hand the command a code of its choosing."""
    with LoopbackCallback("the-state-" + "x" * 30) as cb:
        base = cb.redirect_uri
        assert base.startswith("http://127.0.0.1:") and base.endswith(CALLBACK_PATH)
        assert httpx.get(base + "?code=evil&state=wrong").status_code == 404
        assert httpx.get(base.replace(CALLBACK_PATH, "/") + "?code=evil").status_code == 404
        assert httpx.get(base + "?code=good&state=the-state-" + "x" * 30).status_code == 200
        assert cb.wait(5) == "good"


def test_the_providers_error_and_a_timeout_are_clear() -> None:
    state = "s" * 43
    with LoopbackCallback(state) as cb:
        httpx.get(
            f"{cb.redirect_uri}?error=access_denied&error_description=cancelled&state={state}"
        )
        with pytest.raises(UrneError) as caught:
            cb.wait(5)
        assert caught.value.code == "login_failed"
        assert "access_denied" in str(caught.value) and "cancelled" in str(caught.value)
    with LoopbackCallback(state) as cb, pytest.raises(UrneError) as caught:
        cb.wait(1)
    assert caught.value.code == "login_timeout"


def test_a_lost_answer_is_asked_again_with_the_same_point(
    site: IdentitySite, tmp_path: Path
) -> None:
    """The wallet keeps B until it holds the credential: a second join after a
    lost answer logs in again and gets the very same answer."""
    pid = site.open("cli-fc-lost")
    wallet = Wallet(tmp_path / "w")
    seen: list[str] = []

    def browser(url: str) -> None:
        seen.append(url)
        back = site.provider.login(url, "adult-paris")
        httpx.get(back)

    class Cut(Exception):
        pass

    original = Wallet._identity

    def lose_the_answer(self: Wallet, *args: object, **kwargs: object) -> bytes:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        raise Cut  # the answer reached the device, then the device lost it

    Wallet._identity = lose_the_answer  # type: ignore[method-assign]
    try:
        with pytest.raises(Cut):
            wallet.join(site.url, pid, None, login=IdentityLogin(open=browser))
    finally:
        Wallet._identity = original  # type: ignore[method-assign]
    kept = json.loads(wallet.path(pid).read_text())["blinding"]["blinded"]
    state, new = wallet.join(site.url, pid, None, login=IdentityLogin(open=browser))
    assert new and state.credential is not None
    nonces = [parse_qs(urlsplit(u).query)["nonce"][0] for u in seen]
    assert nonces[0] == nonces[1]  # the same B both times
    assert kept
    assert httpx.get(f"{site.url}/issuance/{pid}").json()["subjects"] == 1


def test_the_listener_answers_only_at_the_providers_own_callback() -> None:
    """The issuer names the provider's callback under the command's base path;
    the browser coming back anywhere else (another provider's callback: a
    mix-up), or from another issuer (RFC 9207), is not this login."""
    state = "t" * 43
    with LoopbackCallback(state) as cb:
        base = cb.redirect_uri
        cb.expect(base + "/franceconnect", "https://fc.example")
        assert httpx.get(f"{base}?code=x&state={state}").status_code == 404
        assert httpx.get(f"{base}/other?code=x&state={state}").status_code == 404
        wrong_iss = f"{base}/franceconnect?code=x&state={state}&iss=https://evil.example"
        assert httpx.get(wrong_iss).status_code == 404
        ok = f"{base}/franceconnect?code=good&state={state}&iss=https://fc.example"
        assert httpx.get(ok).status_code == 200
        assert cb.wait(5) == "good"
        with pytest.raises(UrneError):
            cb.expect("http://127.0.0.1:1/urne-wallet/callback", None)  # not this listener
