"""The audit counts pseudonyms against the credentials the issuer says it
issued (docs/spec/eligibility.md §4): an issuer that mints a credential off
its books -- for a friend, or to sign a petition itself -- is caught."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support import identity
from tests.support.civic import Citizen
from tests.support.identity import IdentitySite, identity_site
from tests.support.service import served_app
from urne.ledger.log.export import export_tiles
from urne.verifier.check.audit import DirectorySource, HttpSource, audit
from urne.verifier.citizen.blinding import Pseudonym, blind, combine_shares, unblind
from urne.verifier.credentials.credential import credential_message


@pytest.fixture
def site(tmp_path: Path) -> Iterator[IdentitySite]:
    with identity_site(tmp_path / "site") as s:
        yield s


def take_part(site: IdentitySite, login: str) -> Citizen:
    """A citizen through the provider, as the wallets do it."""
    key = site.served.keyring.public_key(site.pid)
    return identity.take_part(site.url, site.provider, site.pid, login, key)


def test_an_honest_issuer_passes_and_the_counts_are_reported(site: IdentitySite) -> None:
    for login in ("adult-paris", "citizen-1"):
        site.served.civic.append(take_part(site, login).ballot())
    report = audit(HttpSource(site.url), site.served.log.verifier)
    assert report.ok, report.findings
    assert report.issuance[site.pid] == {
        "pseudonyms": 2,
        "credentials_issued": 2,
        "checked": True,
        "source": "served",
    }


def test_a_credential_minted_off_the_books_is_caught_with_evidence(site: IdentitySite) -> None:
    for login in ("adult-paris", "citizen-1"):
        site.served.civic.append(take_part(site, login).ballot())
    # The issuer signs a blinded point for someone nobody vouched for: the
    # signature verifies, the log accepts it, the rules cannot tell.
    extra = Citizen.enrol(site.served.inst, site.pid)
    site.served.civic.append(extra.ballot())
    report = audit(HttpSource(site.url), site.served.log.verifier)
    assert not report.ok
    [finding] = report.findings
    assert (finding.step, finding.code) == (6, "more_pseudonyms_than_credentials")
    assert finding.evidence == {
        "process": site.pid,
        "pseudonyms": 3,
        "credentials_issued": 2,
        "issuance_path": f"issuance/{site.pid}",
    }
    assert "3 pseudonyms" in finding.message and "2 credentials" in finding.message


def test_a_source_without_the_counts_is_not_checked_never_passed(
    site: IdentitySite, tmp_path: Path
) -> None:
    """An exported log without the issuer's counts: reported as not checked."""
    site.served.civic.append(take_part(site, "adult-paris").ballot())
    folder = tmp_path / "export"
    export_tiles(site.served.log, folder)
    report = audit(DirectorySource(folder), site.served.log.verifier)
    assert report.ok, report.findings
    counts = report.issuance[site.pid]
    assert counts["checked"] is False and counts["credentials_issued"] is None
    assert counts["source"].startswith("not served")
    # the same folder with the issuer's answer copied in is checked
    (folder / "issuance").mkdir()
    served = httpx.get(f"{site.url}/issuance/{site.pid}").content
    (folder / "issuance" / site.pid).write_bytes(served)
    report = audit(DirectorySource(folder), site.served.log.verifier)
    assert report.issuance[site.pid]["checked"] is True
    assert report.issuance[site.pid]["credentials_issued"] == 1


def test_a_t_of_n_process_is_not_checked_against_one_hosts_count(tmp_path: Path) -> None:
    """t of n offices answer at their own hosts, each with its own roll: the
    log's host's count is not the process's, so it is not compared (and no
    false finding is reported for an honest process)."""
    with served_app(tmp_path) as served:
        served.open("shared", "petition", people=0, threshold=2, shares=3)
        key = served.keyring.public_key("shared")
        pseudonym = Pseudonym.generate()
        state, blinded = blind(credential_message("shared", pseudonym.public_key))
        answers = {i: served.keyring.signing_key("shared", i).sign_blinded(blinded) for i in (1, 3)}
        credential = unblind(state, combine_shares(answers), key)
        served.civic.append(Citizen("shared", pseudonym, credential).ballot())
        report = audit(HttpSource(served.url), served.log.verifier)
        assert report.ok, report.findings
        counted = report.issuance["shared"]
        assert (counted["pseudonyms"], counted["checked"]) == (1, False)
        assert "t-of-n" in counted["source"]
