"""Issuance requests per second through an identity provider, next to the
code-based issuance, measured in the same run.

Against the real ``urne serve`` on SQLite (a fresh directory; rate limit and
access log off) and the tests' OpenID Provider (``tests/support/oidc``: node
oidc-provider configured like FranceConnect, on loopback), the institution
opens two petitions with ``urne process open``: one with a roll of one-time
codes (``urne roll import``), one whose manifest names the provider
(docs/spec/eligibility.md). Then, with the same ``--concurrency`` client
threads and ``--n`` distinct people each time:

- (a) codes: ``POST /issuance/{pid}`` with a code and ``B``;
- (b) provider, the whole flow a citizen goes through: ``POST
  /issuance/{pid}/authorize``, the login at the provider (its authorization
  endpoint, its login form, the redirects back to the wallet), then ``POST
  /issuance/{pid}/identity``, in which the issuer redeems the code at the
  provider's token endpoint, fetches the userinfo, checks the ID token, the
  rule and the subject, and signs;
- (c) the issuer's share alone: ``POST /identity`` only, for codes obtained
  (not timed) by logins in batches of ``--batch`` just before, since the
  provider's codes live 60 seconds;
- (d) the provider's part of (c): the same token request and userinfo, made
  by the bench itself with the issuer's client credentials, on codes obtained
  the same way.

The bench's browser is the tests' ``OidcProvider.login``: it walks the
provider's login form with one TLS context shared among its clients (httpx
makes a new one for each client otherwise, about 29 ms of CPU, on a
plain-HTTP loopback provider, which would be counted against the machine).
``B`` is made before the clock starts; everything after it is checked: every
answer of (a), (b) and (c) unblinded and verified under the issuer's key, (d)
must return an ID token and the claims, and the service must count exactly
the credentials it gave. Each kind also gets the CPU milliseconds per request
of the service (its process tree), the provider and the bench's own client
threads, over its timed windows. ``--repeat`` runs the four kinds that many
times, interleaved, each time with new people, and keeps the best rate.

    python bench/identity_issuance_bench.py                 # --n 300 --concurrency 8
    python bench/identity_issuance_bench.py --n 1000 --repeat 3

Needs Node.js and npm (``npm ci`` runs once in ``tests/support/oidc``) and
the test extra (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2
import requests

from bench.load_bench import tree_cpu
from tests.support import identity
from tests.support.deployment import Deployment, Server
from tests.support.identity import REDIRECT, WalletRequest, new_client, rule, write_providers
from tests.support.oidc_provider import OIDC_DIR, OidcClient, OidcProvider, start_provider
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.verifier.citizen.blinding import unblind
from urne.verifier.civic.entries import b64decode, b64encode
from urne.verifier.credentials.credential import verify_credential

CODES_PID = "bench-codes"
PROVIDER_PID = "bench-provider"
INSTITUTION = "bench-council"
WARM_UP = 8
_T = "%Y-%m-%dT%H:%M:%SZ"
KINDS = {
    "a": "(a) code: POST /issuance",
    "b": "(b) provider: the whole flow",
    "c": "(c) POST /identity alone",
    "d": "(d) the provider's token + userinfo",
}


# -- CPU of the processes ---------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def provider_pid() -> int:
    """The provider's node process: a child of this one running provider.mjs."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if _stat(int(entry))[1] != me:
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"provider.mjs") for arg in cmdline):
            return int(entry)
    raise SystemExit("the provider's node process was not found")


@dataclass
class Meter:
    """Wall and CPU seconds over the timed windows of one kind."""

    service: int
    provider: int
    wall: float = 0.0
    cpu: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    @contextmanager
    def window(self) -> Iterator[None]:
        before = (tree_cpu(self.service), tree_cpu(self.provider), time.process_time())
        start = time.perf_counter()
        yield
        self.wall += time.perf_counter() - start
        after = (tree_cpu(self.service), tree_cpu(self.provider), time.process_time())
        self.cpu = [c + b - a for c, a, b in zip(self.cpu, before, after, strict=True)]


# -- the citizens' side -----------------------------------------------------------------


def check(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"FAILED: {what}")


def answered(r: httpx2.Response, status: int = 200) -> Any:
    check(r.status_code == status, f"{r.request.url}: {r.status_code} {r.text}")
    return r.json()


class Site:
    """The service, the provider, the issuer's client registration, the keys."""

    def __init__(
        self, http: httpx2.Client, provider: OidcProvider, client: OidcClient, codes: list[str]
    ) -> None:
        self.http = http
        self.provider = provider
        self.client = client
        self.codes = codes
        self.issuer_key = {
            pid: b64decode(answered(http.get(f"/issuance/{pid}"))["issuer"]["public_key"], "key")
            for pid in (CODES_PID, PROVIDER_PID)
        }
        self.next_login = 0
        self.next_code = 0
        self.lock = threading.Lock()

    def logins(self, n: int) -> list[str]:
        with self.lock:
            first, self.next_login = self.next_login, self.next_login + n
        return [f"citizen-{i}" for i in range(first + 1, first + n + 1)]

    def take_codes(self, n: int) -> list[str]:
        with self.lock:
            first, self.next_code = self.next_code, self.next_code + n
        check(first + n <= len(self.codes), "the roll has codes enough")
        return self.codes[first : first + n]

    def credential(self, wallet: WalletRequest, r: httpx2.Response) -> None:
        """The answer unblinded and checked, as the wallet does (after the clock)."""
        key = self.issuer_key[wallet.pid]
        signature = b64decode(answered(r)["blind_signature"], "answer")
        credential = unblind(wallet.blinding, signature, key)
        check(
            verify_credential(key, wallet.pid, wallet.pseudonym.public_key, credential),
            "the credential verifies under the issuer's key",
        )

    # the four requests, each timed by the caller

    def by_code(self, wallet: WalletRequest, code: str) -> httpx2.Response:
        body = {"code": code, "blinded": b64encode(wallet.blinding.blinded)}
        return self.http.post(f"/issuance/{CODES_PID}", json=body)

    def authorize(self, wallet: WalletRequest) -> str:
        url: str = answered(identity.authorize("", wallet, http=self.http))["url"]
        return url

    def log_in(self, wallet: WalletRequest, url: str, login: str) -> str:
        """The authorization code, from the provider's form; ``state`` checked."""
        query = parse_qs(urlsplit(self.provider.login(url, login)).query)
        check(query.get("state") == [wallet.state], f"the provider's answer: {query}")
        return query["code"][0]

    def redeem(self, wallet: WalletRequest, code: str) -> httpx2.Response:
        return identity.redeem("", wallet, code, http=self.http)

    def token_and_userinfo(
        self, wallet: WalletRequest, code: str, endpoints: dict[str, Any]
    ) -> Any:
        """What the issuer asks the provider inside ``POST /identity``, made
        here with its client's credentials (a connection per request, as the
        issuer's client does)."""
        token = requests.post(
            endpoints["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": wallet.verifier,
                "client_id": self.client.client_id,
                "client_secret": self.client.client_secret,
            },
            timeout=30.0,
        )
        check(token.status_code == 200, f"the token endpoint: {token.status_code} {token.text}")
        access_token = token.json()["access_token"]
        info = requests.get(
            endpoints["userinfo_endpoint"],
            headers={"authorization": f"Bearer {access_token}"},
            timeout=30.0,
        )
        check(info.status_code == 200, f"the userinfo: {info.status_code} {info.text}")
        return token.json(), info.json()


# -- the four kinds ---------------------------------------------------------------------


@dataclass
class Result:
    n: int
    wall: float
    cpu: list[float]
    steps: dict[str, float] = field(default_factory=dict)  # mean seconds by step

    @property
    def rate(self) -> float:
        return self.n / self.wall


def run_codes(site: Site, pool: ThreadPoolExecutor, meter: Meter, n: int) -> Result:
    wallets = [WalletRequest.new(CODES_PID) for _ in range(n)]
    codes = site.take_codes(n)

    def one(wallet: WalletRequest, code: str) -> tuple[httpx2.Response, float]:
        t0 = time.perf_counter()
        r = site.by_code(wallet, code)
        return r, time.perf_counter() - t0

    with meter.window():
        done = list(pool.map(one, wallets, codes))
    for wallet, (r, _) in zip(wallets, done, strict=True):
        site.credential(wallet, r)
    return Result(n, meter.wall, meter.cpu, {"POST /issuance": sum(t for _, t in done) / n})


def run_flow(site: Site, pool: ThreadPoolExecutor, meter: Meter, n: int) -> Result:
    wallets = [WalletRequest.new(PROVIDER_PID) for _ in range(n)]
    logins = site.logins(n)

    def one(
        wallet: WalletRequest, login: str
    ) -> tuple[httpx2.Response, tuple[float, float, float]]:
        t0 = time.perf_counter()
        url = site.authorize(wallet)
        t1 = time.perf_counter()
        code = site.log_in(wallet, url, login)
        t2 = time.perf_counter()
        r = site.redeem(wallet, code)
        return r, (t1 - t0, t2 - t1, time.perf_counter() - t2)

    with meter.window():
        done = list(pool.map(one, wallets, logins))
    for wallet, (r, _) in zip(wallets, done, strict=True):
        site.credential(wallet, r)
    names = ("authorize", "login at the provider", "POST /identity")
    steps = {name: sum(times[k] for _, times in done) / n for k, name in enumerate(names)}
    return Result(n, meter.wall, meter.cpu, steps)


def codes_in_batches(
    site: Site,
    pool: ThreadPoolExecutor,
    meter: Meter,
    n: int,
    batch: int,
    timed: Callable[[WalletRequest, str], Any],
) -> list[tuple[WalletRequest, Any, float]]:
    """Log ``n`` people in, ``batch`` at a time (not timed), and run ``timed``
    on each batch's codes at once (timed, in ``meter``)."""
    out: list[tuple[WalletRequest, Any, float]] = []
    for start in range(0, n, batch):
        size = min(batch, n - start)
        wallets = [WalletRequest.new(PROVIDER_PID) for _ in range(size)]
        logins = site.logins(size)
        codes = list(
            pool.map(lambda w, login: site.log_in(w, site.authorize(w), login), wallets, logins)
        )

        def one(wallet: WalletRequest, code: str) -> tuple[Any, float]:
            t0 = time.perf_counter()
            got = timed(wallet, code)
            return got, time.perf_counter() - t0

        with meter.window():
            done = list(pool.map(one, wallets, codes))
        out += [(w, got, t) for w, (got, t) in zip(wallets, done, strict=True)]
    return out


def run_identity(site: Site, pool: ThreadPoolExecutor, meter: Meter, n: int, batch: int) -> Result:
    done = codes_in_batches(site, pool, meter, n, batch, site.redeem)
    for wallet, r, _ in done:
        site.credential(wallet, r)
    return Result(n, meter.wall, meter.cpu, {"POST /identity": sum(t for *_, t in done) / n})


def run_provider_share(
    site: Site, pool: ThreadPoolExecutor, meter: Meter, n: int, batch: int
) -> Result:
    endpoints = site.provider.discovery()

    def timed(wallet: WalletRequest, code: str) -> Any:
        return site.token_and_userinfo(wallet, code, endpoints)

    done = codes_in_batches(site, pool, meter, n, batch, timed)
    for _, (token, info), _ in done:
        check(token.get("id_token", "").count(".") == 2, "the provider returned an ID token")
        check({"birthdate", "birthplace"} <= set(info), f"the provider's claims: {info}")
    return Result(n, meter.wall, meter.cpu, {"token + userinfo": sum(t for *_, t in done) / n})


# -- the service and the provider -----------------------------------------------------------


def describe_petition(pid: str, provider: OidcProvider | None) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    spec: dict[str, Any] = {
        "id": pid,
        "type": "petition",
        "title": {"en": f"Benchmark petition {pid}"},
        "text": {"en": "A petition opened to measure issuance."},
        "opens": (now - timedelta(days=1)).strftime(_T),
        "closes": (now + timedelta(days=30)).strftime(_T),
        "officials": [],
        "proposals": [],
        "rule": {"threshold": 1},
    }
    if provider is not None:
        spec["eligibility"] = rule(provider)
    return spec


@contextmanager
def deployment(people: int) -> Iterator[tuple[Site, Server]]:
    """``urne serve`` on SQLite with both petitions open, the provider beside it."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="urne-idbench-")))
        dep = Deployment(
            "sqlite",
            f"sqlite:///{workdir / 'urne.db'}",
            workdir,
            f"sqlite:///{workdir / 'roll.db'}",
        )
        dep.urne("init")
        key = workdir / "institution.key"
        out = dep.urne("institution", "keygen", INSTITUTION, "--out", key).stdout
        [public] = [line.split()[-1] for line in out.splitlines() if line.startswith("public key:")]
        dep.urne("institution", "add", INSTITUTION, public)
        client = new_client()
        provider = stack.enter_context(start_provider([client]))
        write_providers(IssuerKeyring(dep.key_dir), provider, client)
        server = dep.serve("--no-rate-limit", "--no-access-log")
        stack.callback(server.stop, check=False)
        as_institution = ("--server", server.url, "--key", key)
        for pid, by in ((CODES_PID, None), (PROVIDER_PID, provider)):
            description = workdir / f"{pid}.json"
            description.write_text(json.dumps(describe_petition(pid, by)))
            dep.urne("process", "open", description, *as_institution)
        people_csv, codes_csv = workdir / "people.csv", workdir / "codes.csv"
        people_csv.write_text("person\n" + "".join(f"p{i}\n" for i in range(people)))
        dep.urne("roll", "import", CODES_PID, people_csv, "--codes-out", codes_csv, *as_institution)
        with open(codes_csv, newline="", encoding="utf-8") as fh:
            codes = [row["code"] for row in csv.DictReader(fh)]
        http = stack.enter_context(httpx2.Client(base_url=server.url, timeout=60.0))
        yield Site(http, provider, client, codes), server


def versions() -> str:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    pins = json.loads((OIDC_DIR / "package.json").read_text())["dependencies"]
    return f"node {node}, oidc-provider {pins['oidc-provider']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="requests of each kind (default 300)")
    ap.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each kind, best kept")
    ap.add_argument(
        "--batch", type=int, default=100, help="logins before each timed batch of (c) and (d)"
    )
    args = ap.parse_args()
    n, repeat = args.n, args.repeat
    print(f"Python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"{versions()}; the service: urne serve on SQLite, {args.concurrency} client threads")
    print(f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}\n")

    with (
        deployment(n * repeat + WARM_UP) as (site, server),
        ThreadPoolExecutor(args.concurrency) as pool,
    ):
        assert server.proc is not None
        pids = (server.proc.pid, provider_pid())
        warm = Meter(*pids)  # connections, the provider's discovery and keys: not counted
        run_codes(site, pool, warm, WARM_UP)
        run_flow(site, pool, warm, WARM_UP)
        best: dict[str, Result] = {}
        for _ in range(repeat):
            for kind, result in (
                ("a", run_codes(site, pool, Meter(*pids), n)),
                ("b", run_flow(site, pool, Meter(*pids), n)),
                ("c", run_identity(site, pool, Meter(*pids), n, args.batch)),
                ("d", run_provider_share(site, pool, Meter(*pids), n, args.batch)),
            ):
                if kind not in best or result.rate > best[kind].rate:
                    best[kind] = result
        counts = {pid: answered(site.http.get(f"/issuance/{pid}")) for pid in site.issuer_key}
        issued_by_code = counts[CODES_PID]["credentials_issued"]
        by_provider = counts[PROVIDER_PID]
        check(issued_by_code == repeat * n + WARM_UP, f"credentials by code: {issued_by_code}")
        expected = 2 * repeat * n + WARM_UP
        check(
            by_provider["credentials_issued"] == by_provider["subjects"] == expected,
            f"credentials through the provider: {by_provider}",
        )

    print(
        f"{'kind':<38}{'n':>6}{'requests/s':>12}{'mean ms':>10}"
        f"{'CPU ms/request: service':>26}{'provider':>10}{'bench':>8}"
    )
    for kind, title in KINDS.items():
        r = best[kind]
        service, provider, bench = (1000 * c / r.n for c in r.cpu)
        mean = 1000 * sum(r.steps.values())
        print(
            f"{title:<38}{r.n:>6}{r.rate:>12.1f}{mean:>10.1f}"
            f"{service:>26.2f}{provider:>10.2f}{bench:>8.2f}"
        )
    a, b, c, d = (best[k] for k in "abcd")
    print(
        f"\ncodes against the provider's whole flow, (a)/(b): {a.rate / b.rate:.1f}x; "
        f"against POST /identity alone, (a)/(c): {a.rate / c.rate:.1f}x"
    )
    flow = sum(b.steps.values())
    print(f"(b), a citizen's wait by step (mean of {n}, {args.concurrency} at once):")
    for step, t in b.steps.items():
        print(f"  {step:<24}{1000 * t:>8.1f} ms {100 * t / flow:>5.1f}%")
    identity, share = c.steps["POST /identity"], d.steps["token + userinfo"]
    print(
        f"(c) POST /identity takes {1000 * identity:.1f} ms, of which the provider's token "
        f"request and userinfo alone, (d), take {1000 * share:.1f} ms "
        f"({100 * share / identity:.0f}%)"
    )
    step, t = max(b.steps.items(), key=lambda kv: kv[1])
    print(f"(b) is dominated by {step} ({100 * t / flow:.0f}% of a citizen's wait)")
    print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(
        f"\ncredentials issued: {issued_by_code:,} by code, "
        f"{by_provider['credentials_issued']:,} through the provider to "
        f"{by_provider['subjects']:,} distinct people, every one checked"
    )


if __name__ == "__main__":
    main()
