"""A petition signed by a thousand people vouched for by an identity provider,
through real processes and real HTTP only (docs/spec/eligibility.md).

The operator initialises the log, registers the service as a client of the
OpenID Provider (the test provider, configured like FranceConnect) and writes
``oidc-providers.json`` into the key directory, then runs ``urne serve``, the
log and the issuance database both on PostgreSQL. The institution opens with
``urne process open`` a petition whose description names the provider and its
rule (16 or older, born in Paris, eIDAS substantial or high) and a threshold of
1,000 signatures. A thousand simulated citizens, eight at a time, each do what
a wallet does: a fresh pseudonym and ``B``, the authorization request, the
login at the provider through its form, the credential redeemed, unblinded and
checked, then the signature. A minor, and a second attempt by someone who
already has a credential, are refused and spend nothing. The issuer's counts
and the threshold certificate are checked, the institution closes the petition
and publishes its result, and ``urne-verify audit`` checks the whole log,
pseudonyms against credentials issued included.

The per-address rate limit is off (``--no-rate-limit``): every citizen here
comes from one loopback address, and at one request a second the thousand
would take most of an hour. The SQLite deployment runs the same with 50
citizens and a threshold of 50.
"""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from tests.support import identity
from tests.support.deployment import Deployment, Laps, describe, expect
from tests.support.identity import WalletRequest, new_client, rule, write_providers
from tests.support.oidc_provider import FRANCECONNECT_ACCOUNTS, OidcProvider, start_provider
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.verifier.citizen import authoring
from urne.verifier.civic.entries import b64decode
from urne.verifier.credentials.credential import (
    ISSUER_PUBLIC_KEY_SIZE,
)

pytestmark = pytest.mark.slow  # real servers, a real provider, a thousand citizens

PID = "e2e-identity-petition"
#: Citizens who sign on each engine: the thousand on PostgreSQL, fewer on SQLite.
CITIZENS = {"postgres": 1000, "sqlite": 50}
#: How many citizens take part at once.
AT_ONCE = 8
NAME = "city-council"
_T = "%Y-%m-%dT%H:%M:%SZ"


def write_description(path: Path, provider: OidcProvider, closes: datetime, threshold: int) -> None:
    """The petition's description, as ``urne process open`` reads it."""
    now = datetime.now(UTC).replace(microsecond=0)
    spec = {
        "id": PID,
        "type": "petition",
        "title": {"en": "A covered market in the 11th"},
        "text": {"en": "We ask the council to build a covered market in the 11th district."},
        "opens": (now - timedelta(days=1)).strftime(_T),
        "closes": closes.strftime(_T),
        "officials": [],
        "proposals": [],
        "eligibility": rule(provider),
        "rule": {"threshold": threshold},
    }
    path.write_text(json.dumps(spec, indent=1), encoding="utf-8")


def accounts_for(closes: datetime) -> dict[str, dict[str, str]]:
    """The provider's accounts, the minor 15 years old on the closing day
    whatever the day the test runs (born on 1 January, 15 years before)."""
    minor = {**FRANCECONNECT_ACCOUNTS["minor-15"], "birthdate": f"{closes.year - 15}-01-01"}
    return {**FRANCECONNECT_ACCOUNTS, "minor-15": minor}


@dataclass
class Signed:
    login: str
    index: int


def take_part(http: httpx2.Client, provider: OidcProvider, issuer_key: bytes, login: str) -> Signed:
    """A credential through the provider, checked, then the signature."""
    citizen = identity.take_part("", provider, PID, login, issuer_key, http=http)
    leaf = authoring.signature(PID, citizen.pseudonym, citizen.credential)
    receipt = expect(
        http.post("/entries", content=leaf, headers={"Content-Type": "application/json"}), 201
    )
    assert base64.b64decode(receipt["entry"]) == leaf
    return Signed(login, receipt["index"])


def log_in_and_redeem(http: httpx2.Client, provider: OidcProvider, login: str) -> httpx2.Response:
    """A new wallet's request, its login at the provider and the code redeemed."""
    req = WalletRequest.new(PID)
    code = identity.log_in("", provider, req, login, http=http)
    return identity.redeem("", req, code, http=http)


def test_a_thousand_people_vouched_for_by_a_provider_reach_a_petitions_threshold(
    deployment: Deployment,
) -> None:
    dep = deployment
    citizens = CITIZENS[dep.engine]
    logins = [f"citizen-{i}" for i in range(1, citizens + 1)]
    lap = Laps()
    closes = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)

    # 1. The operator: a new log, the institution's key registered, the service
    #    registered as a client at the provider and that registration written
    #    into the key directory (0600: it holds the client secret), the server.
    r = dep.urne("init")
    [vkey] = [
        line.split()[-1] for line in r.stdout.splitlines() if line.startswith("verifier key:")
    ]
    key_file = dep.workdir / "institution.key"
    r = dep.urne("institution", "keygen", NAME, "--out", key_file)
    [public_key] = [
        line.split()[-1] for line in r.stdout.splitlines() if line.startswith("public key:")
    ]
    dep.urne("institution", "add", NAME, public_key)
    client = new_client()
    with ExitStack() as stack:
        provider = stack.enter_context(start_provider([client], accounts_for(closes)))
        path = write_providers(IssuerKeyring(dep.key_dir), provider, client)
        assert path.stat().st_mode & 0o777 == 0o600
        server = dep.serve("--no-rate-limit", "--no-access-log")
        http = stack.enter_context(httpx2.Client(base_url=server.url, timeout=30.0))
        lap("operator, provider and server")

        # 2. The institution opens the petition with its own command line.
        description = dep.workdir / "petition.json"
        write_description(description, provider, closes, threshold=citizens)
        receipts = dep.workdir / "receipts"
        receipts.mkdir()
        out = dep.urne(
            "process", "open", description, "--server", server.url, "--key", key_file,
            "--receipt", receipts / "open.json",
        ).stdout  # fmt: skip
        assert f"opened {PID}: manifest at index" in out, out
        process = expect(http.get(f"/processes/{PID}"), 200)
        assert process["eligibility"] == rule(provider)
        assert process["rule"] == {"threshold": citizens}
        issuer_key = b64decode(
            process["issuer"]["public_key"], "issuer.public_key", size=ISSUER_PUBLIC_KEY_SIZE
        )
        manifest_index = json.loads((receipts / "open.json").read_text())["index"]
        lap("institution opens the petition")

        # 3. The citizens, several at once: each logs in at the provider,
        #    obtains a credential, checks it and signs.
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            signed = list(
                pool.map(lambda login: take_part(http, provider, issuer_key, login), logins)
            )
        took = time.monotonic() - started
        indices = sorted(s.index for s in signed)
        assert len(set(indices)) == citizens
        assert indices == list(range(manifest_index + 1, manifest_index + 1 + citizens))
        print(f"{citizens} citizens through the provider: {citizens / took:.1f} per second")
        lap(f"{citizens:,} citizens log in and sign")

        # 4. Refused, spending nothing: a minor, and a second credential for
        #    someone who has one (another pseudonym, another B).
        size = expect(http.get("/log"), 200)["size"]
        before = expect(http.get(f"/issuance/{PID}"), 200)
        minor = log_in_and_redeem(http, provider, "minor-15")
        assert "birthdate" in expect(minor, 403, "ineligible")["error"]["message"]
        twice = log_in_and_redeem(http, provider, logins[0])
        expect(twice, 409, "already_issued")
        assert expect(http.get(f"/issuance/{PID}"), 200) == before
        assert expect(http.get("/log"), 200)["size"] == size
        lap("refusals")

        # 5. The issuer's counts, and the threshold certificate: reached at
        #    the last signature.
        issuance = expect(http.get(f"/issuance/{PID}"), 200)
        assert (issuance["credentials_issued"], issuance["subjects"]) == (citizens, citizens)
        assert issuance["roll_size"] == 0
        tally = expect(http.get(f"/processes/{PID}/tally"), 200)
        assert tally["signatures"] == tally["total"] == citizens
        assert (tally["threshold"], tally["reached"]) == (citizens, True)
        assert tally["reached_at"] == indices[citizens - 1]

        # 6. The institution closes the petition and publishes its recount.
        as_institution = ("--server", server.url, "--key", key_file)
        out = dep.urne("process", "close", PID, *as_institution).stdout
        assert f"closed {PID}: close at index" in out, out
        r = dep.urne("process", "publish", PID, "--log-key", vkey, *as_institution)
        assert "published: result at index" in r.stdout, describe(r)
        [printed] = [line for line in r.stdout.splitlines() if line.startswith("{")]
        assert json.loads(printed) == tally, r.stdout
        lap("close and publish")

        # 7. The whole log, audited: every credential, the result against a
        #    recount, and the pseudonyms against the credentials issued.
        report_file = dep.workdir / "audit.json"
        r = dep.verify("audit", "--log", server.url, "--log-key", vkey, "--json", report_file)
        assert r.stdout.rstrip().endswith("PASSED"), describe(r)
        line = (
            f"credentials of {PID}: {citizens:,} pseudonyms took part, "
            f"{citizens:,} credentials issued"
        )
        assert line in r.stdout.splitlines(), r.stdout
        report = json.loads(report_file.read_text())
        assert report["ok"] and report["findings"] == []
        assert report["credentials_checked"] == citizens and report["results_compared"] == 1
        assert report["tallies"][PID] == tally
        print(line)
        lap("audit")
        server.assert_running()
