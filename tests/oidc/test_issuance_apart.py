"""An issuance host apart from the log answers people an identity provider
vouches for (docs/spec/eligibility.md §5): it reads the manifest from the
log's service and believes it only once the log's key proves it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import identity
from tests.support.civic import IN_2026
from tests.support.identity import IdentitySite, WalletRequest, identity_site
from urne.api.main import create_app
from urne.ledger.db.settings import Settings
from urne.ledger.log import Log
from urne.verifier.citizen import authoring
from urne.verifier.tlog.cosignature import CosignatureSigner


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentitySite]:
    with identity_site(tmp_path_factory.mktemp("apart")) as s:
        yield s


def issuer_apart(
    site: IdentitySite,
    tmp: Path,
    *,
    log_key: str | None = None,
    now: datetime = IN_2026,
    witnesses: str = "",
) -> TestClient:
    """The issuance host: its own roll database, the issuer keys (and the
    provider's registration) of the process, no log of its own."""
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'never-opened.db'}",
        issuance_database_url=f"sqlite:///{tmp / 'roll.db'}",
        key_dir=site.served.keyring.key_dir,
        origin="apart.example/log",
        log_url=site.url,
        log_key=log_key or site.served.log.verifier.vkey,
        log_witnesses=witnesses,
    )
    return TestClient(
        create_app(settings=settings, casting=False, rate_limit=None, clock=lambda: now)
    )


def test_a_citizen_gets_a_credential_apart_and_signs_at_the_log(
    site: IdentitySite, tmp_path: Path
) -> None:
    pid = site.open("apart-ok")
    key = site.served.keyring.public_key(pid)
    with issuer_apart(site, tmp_path) as issuer:
        citizen = identity.take_part("", site.provider, pid, "adult-paris", key, http=issuer)
        assert issuer.get(f"/issuance/{pid}").json()["subjects"] == 1
        # the same person again, apart: refused
        req = WalletRequest.new(pid)
        code = identity.log_in("", site.provider, req, "adult-paris", http=issuer)
        r = identity.redeem("", req, code, http=issuer)
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_issued"
        # an ineligible person, apart: refused by the manifest's rule
        req = WalletRequest.new(pid)
        code = identity.log_in("", site.provider, req, "minor-15", http=issuer)
        r = identity.redeem("", req, code, http=issuer)
        assert r.status_code == 403 and r.json()["error"]["code"] == "ineligible"
    site.served.civic.append(authoring.signature(pid, citizen.pseudonym, citizen.credential))
    assert site.served.civic.tally(pid)["signatures"] == 1


def test_a_log_that_its_key_does_not_prove_gives_no_rule(
    site: IdentitySite, tmp_path: Path
) -> None:
    """The issuer configured with another log's key: the manifest the service
    serves is not believed, and nothing is issued."""
    other = Log.open(f"sqlite:///{tmp_path / 'other.db'}", key_dir=tmp_path / "other-keys",
                     origin="other.example/log")  # fmt: skip
    try:
        wrong = other.verifier.vkey
    finally:
        other.close()
    req = WalletRequest.new(site.pid)
    with issuer_apart(site, tmp_path, log_key=wrong) as issuer:
        r = identity.authorize("", req, http=issuer)
        assert r.status_code == 503 and r.json()["error"]["code"] == "manifest_unproven"
        assert issuer.get(f"/issuance/{site.pid}").json()["subjects"] == 0


def test_unknown_and_ended_processes_are_refused_apart(site: IdentitySite, tmp_path: Path) -> None:
    with issuer_apart(site, tmp_path) as issuer:
        r = identity.authorize("", WalletRequest.new("no-such-process"), http=issuer)
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_process"
    with issuer_apart(
        site, tmp_path, now=datetime.fromisoformat("2027-01-01T00:00:00+00:00")
    ) as late:
        r = identity.authorize("", WalletRequest.new(site.pid), http=late)
        assert r.status_code == 409 and r.json()["error"]["code"] == "process_ended"


def test_the_log_url_and_its_key_go_together(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        Settings(key_dir=tmp_path, log_url="https://log.example.org")
    with pytest.raises(ValueError, match="not a verifier key"):
        Settings(key_dir=tmp_path, log_url="https://log.example.org", log_key="nonsense")


def test_a_witness_quorum_it_requires_must_be_on_the_manifests_checkpoint(
    site: IdentitySite, tmp_path: Path
) -> None:
    """With URNE_LOG_WITNESSES, a fork shown to this host alone would need the
    witnesses to cosign it: here they have cosigned nothing, so nothing is
    believed, and nothing issued."""
    witness = CosignatureSigner.generate("witness.example/w1").witness.vkey
    with issuer_apart(site, tmp_path, witnesses=witness) as issuer:
        r = identity.authorize("", WalletRequest.new(site.pid), http=issuer)
        assert r.status_code == 503 and r.json()["error"]["code"] == "manifest_unproven"
        assert "witnesses" in r.json()["error"]["message"]


def test_the_log_is_not_asked_when_a_citizen_asks(site: IdentitySite, tmp_path: Path) -> None:
    """The log's operator must not learn when each person logs in: once a
    process is known, requests are answered from what the host's own rounds
    read."""
    pid = site.open("apart-quiet")
    with issuer_apart(site, tmp_path) as issuer:
        manifests = issuer.app.state.manifests  # type: ignore[attr-defined]
        manifests.round()  # what the timer does
        asked: list[str] = []
        original = manifests.client.get_json

        def counting(path: str) -> object:
            if threading.current_thread().name != "urne-log-manifests":  # not the timer's
                asked.append(path)
            return original(path)

        manifests.client.get_json = counting
        for _ in range(3):
            r = identity.authorize("", WalletRequest.new(pid), http=issuer)
            assert r.status_code == 200, r.text
        assert asked == []
        manifests.round()
        assert f"/processes/{pid}" in asked
