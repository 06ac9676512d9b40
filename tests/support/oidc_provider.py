"""A real OpenID Provider for the tests, configured like FranceConnect's
integration environment: node-oidc-provider (npm ``oidc-provider``, pinned in
``tests/support/oidc/package.json``) run by ``tests/support/oidc/provider.mjs``
on loopback, one process per ``start_provider`` block.

The tests register their own clients (the service under test and the wallet
listen on random ports: a loopback redirect URI registered without a port
accepts any port), log in without a browser through ``OidcProvider.login``,
and choose among ``FRANCECONNECT_ACCOUNTS``, fictional identities in the style
of FranceConnect's test identities, or any ``citizen-<N>`` login (a synthetic
adult born in Paris). The ``tamper-*`` accounts get a modified ID token from
the token endpoint, for the relying party's refusal tests.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

import httpx2
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.paths import ROOT

OIDC_DIR = ROOT / "tests" / "support" / "oidc"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
#: The tamper modes ``provider.mjs`` knows (an account's ``tamper`` field).
TAMPER_MODES = ("aud", "expired", "nonce", "forged", "none", "iss")


def _unavailable(message: str) -> NoReturn:
    """Skip, except under CI=true, where it fails: a login test must never
    pass by not running."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _installed_matches_pins(node_modules: Path) -> bool:
    pins: dict[str, str] = json.loads((OIDC_DIR / "package.json").read_text())["dependencies"]
    for name, version in pins.items():
        manifest = node_modules / name / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text()).get("version") != version:
            return False
    return True


def ensure_installed() -> Path:
    """``node_modules`` of ``tests/support/oidc``, installed with ``npm ci``
    from the lock file when missing or not at the pinned versions (under a
    file lock: parallel test workers install once)."""
    node_modules = OIDC_DIR / "node_modules"
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable("Node.js and npm are needed for the test OpenID Provider (oidc-provider)")
    if _installed_matches_pins(node_modules):
        return node_modules
    tag = hashlib.sha256(str(OIDC_DIR).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"urne-oidc-npm-{tag}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed_matches_pins(node_modules):
            try:
                r = subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                    cwd=OIDC_DIR,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                _unavailable(f"npm ci in tests/support/oidc failed: {exc}")
            if r.returncode != 0 or not _installed_matches_pins(node_modules):
                _unavailable(
                    f"npm ci in tests/support/oidc failed (exit code {r.returncode}):\n"
                    f"{r.stdout}{r.stderr}"
                )
    return node_modules


# -- accounts ------------------------------------------------------------------------------


def _adult(sub: str, given_name: str, family_name: str, **extra: str) -> dict[str, str]:
    account = {
        "sub": sub,
        "given_name": given_name,
        "family_name": family_name,
        "birthdate": "1975-03-14",
        "birthplace": "75056",  # Paris (INSEE code of the commune)
        "birthcountry": "99100",  # France (INSEE code of the country)
        "gender": "female",
        "email": f"{sub}@example.org",
        "acr": "eidas2",
    }
    account.update(extra)
    return account


#: Fictional identities, by login name. ``sub`` is the account id before the
#: provider makes it pairwise; each ``tamper-*`` account is a Paris adult at
#: eidas2 whose ID token is modified on its way out of the token endpoint.
FRANCECONNECT_ACCOUNTS: dict[str, dict[str, str]] = {
    "adult-paris": _adult("fc-adult-paris", "Marianne Louise", "DURAND"),
    "minor-15": _adult(
        "fc-minor-15", "Lucas", "MARTIN", birthdate="2011-06-15", gender="male"
    ),  # 15 years old on 2026-12-01
    "born-lyon": _adult(
        "fc-born-lyon",
        "Jean-Pierre",
        "BERNARD",
        birthdate="1968-11-02",
        birthplace="69123",
        gender="male",
    ),
    "eidas1-only": _adult("fc-eidas1-only", "Sophie", "PETIT", acr="eidas1"),
    **{
        f"tamper-{mode}": _adult(f"fc-tamper-{mode}", "Eve", f"TAMPER-{mode.upper()}", tamper=mode)
        for mode in TAMPER_MODES
    },
}


# -- clients and keys ------------------------------------------------------------------


@dataclass
class OidcClient:
    """A relying party registered at the provider. A loopback redirect URI
    without a port (``http://127.0.0.1/cb``) accepts any port."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    userinfo_signed: bool = False
    token_endpoint_auth_method: str = "client_secret_post"
    post_logout_redirect_uris: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        """The client's metadata, as oidc-provider takes it."""
        metadata: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "response_types": ["code"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "subject_type": "pairwise",
            "id_token_signed_response_alg": "RS256",
        }
        if self.userinfo_signed:
            metadata["userinfo_signed_response_alg"] = "RS256"
        return metadata


def _b64url_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def rsa_private_jwk() -> dict[str, str]:
    """A fresh RSA-2048 private key as a JWK, with a random ``kid``, for RS256."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_numbers()
    public = private.public_numbers
    return {
        "kty": "RSA",
        "kid": secrets.token_urlsafe(12),
        "use": "sig",
        "alg": "RS256",
        "n": _b64url_int(public.n),
        "e": _b64url_int(public.e),
        "d": _b64url_int(private.d),
        "p": _b64url_int(private.p),
        "q": _b64url_int(private.q),
        "dp": _b64url_int(private.dmp1),
        "dq": _b64url_int(private.dmq1),
        "qi": _b64url_int(private.iqmp),
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _page_text(body: str) -> str:
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


# -- the provider ----------------------------------------------------------------------


class OidcProvider:
    """A running provider: its ``issuer`` URL, its ``accounts`` by login name
    (the ``citizen-<N>`` logins work too), and the browser-less login."""

    def __init__(self, issuer: str, accounts: dict[str, dict[str, str]], salt: str) -> None:
        self.issuer = issuer
        self.accounts = accounts
        self.pairwise_salt = salt

    def discovery(self) -> dict[str, Any]:
        """``/.well-known/openid-configuration``."""
        r = httpx2.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10.0)
        r.raise_for_status()
        document: dict[str, Any] = r.json()
        return document

    def pairwise_sub(self, account_sub: str, redirect_uri: str) -> str:
        """The ``sub`` a client whose first redirect URI is ``redirect_uri``
        receives for the account ``account_sub`` (the sector is that URI's host)."""
        sector = urlsplit(redirect_uri).netloc
        data = f"{account_sub}\n{sector}\n{self.pairwise_salt}".encode()
        return hashlib.sha256(data).hexdigest()

    def _is_own(self, url: str) -> bool:
        own, other = urlsplit(self.issuer), urlsplit(url)
        return (own.scheme, own.netloc) == (other.scheme, other.netloc)

    #: One TLS context for every login's client: httpx2 otherwise builds one per
    #: client (tens of milliseconds of CPU), although the provider is plain HTTP.
    TLS = ssl.create_default_context()

    def login(self, authorization_url: str, login: str) -> str:
        """Go through the authorization request as ``login`` with a fresh
        cookie jar, and return the URL the provider sends the browser back to
        (the client's redirect URI with ``code``, ``state`` and ``iss``, or
        with ``error``) without requesting it."""
        url, posted = authorization_url, False
        with httpx2.Client(follow_redirects=False, timeout=30.0, verify=self.TLS) as client:
            response = client.get(url)
            for _ in range(20):
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    if not self._is_own(url):
                        return url
                    response = client.get(url)
                    continue
                form = re.search(r'<form method="post" action="([^"]+)"', response.text)
                if response.status_code != 200 or form is None or posted:
                    raise AssertionError(
                        f"the provider answered {response.status_code} at {url}: "
                        f"{_page_text(response.text)}"
                    )
                url = urljoin(url, html.unescape(form.group(1)))
                response = client.post(url, data={"login": login})
                posted = True
        raise AssertionError(f"too many redirects at the provider, last at {url}")


@contextmanager
def start_provider(
    clients: list[OidcClient], accounts: dict[str, dict[str, str]] | None = None
) -> Iterator[OidcProvider]:
    """The provider on a free loopback port, with ``clients`` registered and
    ``accounts`` (``FRANCECONNECT_ACCOUNTS`` by default) able to log in;
    stopped on leaving the block."""
    ensure_installed()
    accounts = dict(FRANCECONNECT_ACCOUNTS if accounts is None else accounts)
    salt = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="urne-oidc-") as tmp:
        workdir = Path(tmp)
        for attempt in range(3):
            port = _free_port()
            issuer = f"http://127.0.0.1:{port}"
            config = {
                "port": port,
                "issuer": issuer,
                "clients": [c.metadata() for c in clients],
                "accounts": accounts,
                "jwks": {"keys": [rsa_private_jwk()]},
                "cookie_keys": [secrets.token_urlsafe(32), secrets.token_urlsafe(32)],
                "pairwise_salt": salt,
            }
            config_path = workdir / "config.json"
            config_path.write_text(json.dumps(config))
            out_path, err_path = workdir / f"stdout-{attempt}", workdir / f"stderr-{attempt}"
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                proc = subprocess.Popen(
                    ["node", str(OIDC_DIR / "provider.mjs"), str(config_path)],
                    cwd=OIDC_DIR,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                )
            try:
                why = _wait_ready(proc, out_path, issuer)
                if why is None:
                    yield OidcProvider(issuer, accounts, salt)
                    return
                stderr = err_path.read_text(errors="replace")
                if "EADDRINUSE" in stderr and attempt < 2:
                    continue  # another process took the port in between
                raise RuntimeError(f"the OpenID Provider {why}\n--- its stderr ---\n{stderr}")
            finally:
                _stop(proc)
    raise AssertionError("unreachable")


def _wait_ready(proc: subprocess.Popen[bytes], out_path: Path, issuer: str) -> str | None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if f"ready {issuer}\n" in out_path.read_text(errors="replace"):
            return None
        if proc.poll() is not None:
            return f"exited with code {proc.returncode} before it was ready"
        time.sleep(0.05)
    return f"was not ready within {START_TIMEOUT:.0f} s"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
