"""The wallet page in a secret participatory budget (docs/secret-ballot.md §5),
in Chromium, against a real service whose three trustees (threshold two) made
the election key on its log. Ballots are capped at the budget of 1,000 with a
minimum share of 40%: each ballot encrypted in the page proves, besides its
number of projects, that its projects cost at most the budget and at least
400, with the costs and the bounds the page reads from the manifest's bytes in
the log. Citizens choose projects, see the sealed ballot's fingerprint, check
a ballot before casting (its challenge file checks in Python), cast, and get
their receipt, in English and in French; a choice over the budget or under the
floor is refused in the page with its sentence, and nothing is sent; after the
close, two trustees decrypt the approvals and greedy selects the projects."""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.civic import proposal
from tests.support.secret import Board
from tests.support.secret_web import Booth, Site, fingerprint
from tests.support.service import served_app
from urne.verifier.cli.main import app as urne_verify
from urne.verifier.errors import FormatError, ProofError
from urne.verifier.secret.ballot import EncryptedBallot, Spend, ballot_context, budget_shape
from urne.verifier.secret.challenge import check_challenge, read_challenge
from urne.verifier.secret.group import ristretto255

pytestmark = pytest.mark.browser

PEOPLE = 30
COSTS = {"park": 600, "bikes": 300, "bench": 200, "trees": 150, "lights": 410}
TITLES = {
    "park": "A park",
    "bikes": "Bike lanes",
    "bench": "Benches",
    "trees": "Street trees",
    "lights": "Street lights",
}
PROJECTS = [proposal(k, TITLES[k], c) for k, c in COSTS.items()]
IDS = list(COSTS)
RULE = {
    "budget": 1000,
    "outcome": "greedy",
    "min_projects": 1,
    "max_projects": None,
    "min_share_percent": 40,
    "capped": True,
    "revoting": True,
}
#: What the rule asks a ballot to prove: 1 to 5 projects, costing 400 to 1,000.
BOUNDS, SPEND = budget_shape(list(COSTS.values()), 1000, 1, None, 40, True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_app(tmp_path_factory.mktemp("wallet-secret-budget")) as served:
        s = Site(served, "budget", RULE, people=PEOPLE, proposals=PROJECTS)
        s.open("budget")
        yield s


def _verify(board: Board, entry: dict[str, Any], spend: Spend | None = SPEND) -> None:
    """A cast ballot's proofs, checked as the service and every auditor check them."""
    g = ristretto255()
    pseudonym = base64.b64decode(entry["pseudonym"])
    ballot = EncryptedBallot.decode(g, entry["encrypted"], len(IDS), BOUNDS, spend)
    ctx = ballot_context(g, board.fingerprint, board.key, pseudonym)
    ballot.verify(ctx, board.key, BOUNDS, spend)


def _check_in_python(file: dict[str, Any], board: Board) -> tuple[int, ...]:
    """What ``urne-verify challenge`` does with a budget's file: read it, then
    check_challenge with the budget's bounds on the cost. The indices it holds."""
    challenge = read_challenge(json.dumps(file).encode())
    assert challenge.key == board.key and challenge.fingerprint == board.fingerprint
    return check_challenge(challenge, IDS, BOUNDS, SPEND)


# -- from the code to the result ------------------------------------------------------------


def test_a_secret_budget_in_english_and_in_french_then_the_result(browser: Any, site: Site) -> None:
    board = site.open("city")
    en = Booth(browser, site)
    en.goto("city")
    assert en.page.inner_text("#secret-note").startswith("This participatory budget is secret")
    assert not en.page.is_visible("#no-key-note")
    assert en.page.inner_text("#cast") == "Submit my choice"
    assert en.page.inner_text("#challenge") == "Check this ballot first"
    en.join(site.code("city"))
    en.choose("bikes", "bench")
    assert en.page.inner_text("#budget-total") == "Total 500 of a budget of 1,000"
    shown = en.sealed()
    first = en.cast()
    entry = site.entry(first.index)
    assert "choice" not in entry
    assert set(entry["encrypted"]) == {"ciphertexts", "proofs", "count", "spend"}
    assert set(entry["encrypted"]["spend"]) == {"ceiling", "floor"}
    assert len(entry["encrypted"]["spend"]["ceiling"]["bits"]) == 10  # 1,000 in 10 bits
    assert fingerprint(entry["encrypted"]) == shown  # the very ballot whose fingerprint was shown
    _verify(board, entry)
    # the proof is of these bounds: a budget of 999 (same bit length) refuses it
    with pytest.raises(ProofError) as err:
        _verify(board, entry, Spend(SPEND.costs, 999, SPEND.floor))
    assert err.value.code == "bad_ballot_proof"
    assert en.page.inner_text("#receipt-what") == (
        "Your projects: Bike lanes, Benches (500 of a budget of 1,000)"
    )
    detail = en.page.inner_text("#receipt-detail")
    assert "neither the log nor this receipt shows your choice" in detail and shown in detail
    items = en.page.locator("#receipt-list li")
    assert items.nth(0).inner_text().startswith("Your projects: Bike lanes, Benches")
    # choosing again: the last choice counts
    en.page.uncheck("#choice-bench")
    en.choose("park")
    assert en.page.inner_text("#cast") == "Choose again"
    again = en.cast()
    assert site.entry(again.index)["seq"] == 1
    assert en.page.inner_text("#receipt-what").startswith("Your projects: A park, Bike lanes (900")
    en.screenshot("take-part-secret-budget")
    en.close()

    fr = Booth(browser, site, locale="fr-FR", width=390)
    fr.goto("city")
    assert fr.page.inner_text("#secret-note").startswith(
        "Ce budget participatif est secret\u00a0: votre navigateur chiffre"
    )
    assert fr.page.inner_text("#challenge") == "Vérifier ce bulletin d'abord"
    fr.join(site.code("city"))
    fr.choose("park", "trees")
    fr.sealed()
    assert fr.page.inner_text("#sealed-ready").startswith("Votre bulletin est chiffré")
    receipt = fr.cast()
    _verify(board, site.entry(receipt.index))
    assert fr.page.inner_text("#receipt-what") == (
        "Vos projets\u00a0: A park, Street trees (750 sur un budget de 1\u202f000)"
    )
    assert "ni le journal ni ce reçu" in fr.page.inner_text("#receipt-detail")
    fr.screenshot("take-part-secret-budget")
    fr.close()

    # the process page, before the decryption: no approval is known
    page = browser.new_page()
    page.goto(f"{site.url}/p/city")
    assert page.inner_text("#secret-counts").startswith("This participatory budget is secret")
    assert page.inner_text("#ballots").startswith("2 ballots online")
    assert page.locator("#budget-counts").count() == 0

    # the log holds encrypted ballots only
    ballots = site.ballots("city")
    assert len(ballots) == 3 and all("choice" not in b for b in ballots)

    # the close; two trustees of three decrypt; greedy over the approvals
    closed, tally = site.decrypt("city")
    assert tally["ballots"] == 2  # the first ballot was replaced
    assert tally["approvals"] == {"park": 2, "bikes": 1, "bench": 0, "trees": 1, "lights": 0}
    assert tally["selected"] == ["bikes", "park"] and tally["spent"] == 900
    site.publish("city", closed, tally)
    page.goto(f"{site.url}/p/city")
    assert page.inner_text("#secret-counts").startswith("This participatory budget was secret")
    selected = page.locator("#budget-selected li")
    assert [selected.nth(i).get_attribute("data-proposal") for i in range(2)] == ["park", "bikes"]
    page.close()


def test_over_the_budget_or_under_the_floor_is_refused_in_the_page(
    browser: Any, site: Site
) -> None:
    for locale, over, under in (
        ("en-US", "This is over the budget by 10.", "Choose projects worth at least 400."),
        ("fr-FR", "Cela dépasse le budget de 10.", "Choisissez des projets pour au moins 400."),
    ):
        b = Booth(browser, site, locale=locale)
        b.goto("budget")
        b.join(site.code("budget"))
        before = len(site.ballots("budget"))
        b.choose("park", "lights")  # 1,010
        assert b.page.inner_text("#choice-hint") == over
        assert b.page.get_attribute("#choice-hint", "data-problem") == "yes"
        assert b.page.is_hidden("#sealed-ready")  # nothing is sealed for it
        b.page.click("#cast")
        assert b.page.inner_text("#wallet-message") == over
        assert b.page.get_attribute("#wallet-message", "data-kind") == "error"
        b.page.click("#challenge")
        assert b.page.inner_text("#wallet-message") == over
        assert b.page.is_hidden("#step-challenge")
        b.page.uncheck("#choice-park")
        b.page.uncheck("#choice-lights")
        b.choose("trees")  # 150
        assert b.page.inner_text("#choice-hint") == under
        b.page.click("#cast")
        assert b.page.inner_text("#wallet-message") == under
        assert b.posted == [] and len(site.ballots("budget")) == before
        # within the bounds again: sealed, and cast
        b.choose("bench", "bikes")  # 650
        b.sealed()
        b.cast()
        assert len(site.ballots("budget")) == before + 1
        b.close()


def test_a_challenge_made_in_the_page_checks_in_python_then_another_is_cast(
    browser: Any, site: Site
) -> None:
    board = site.boards["budget"]
    b = Booth(browser, site)
    b.goto("budget")
    b.join(site.code("budget"))
    b.choose("bikes", "trees", "bench")  # 650
    before = b.sealed()
    file = b.challenge()
    assert b.page.inner_text("#challenge-what") == (
        "This ballot holds your choice: Bike lanes, Benches, Street trees"
    )
    assert b.page.inner_text("#challenge-fingerprint") == before
    assert fingerprint(file["encrypted"]) == before
    assert file["process"] == "budget" and file["choice"] == ["bikes", "bench", "trees"]
    assert set(file["encrypted"]["spend"]) == {"ceiling", "floor"}
    assert _check_in_python(file, board) == (1, 2, 3)
    # another choice shown, or the spend left out: refused
    with pytest.raises(ProofError) as err:
        _check_in_python({**file, "choice": ["bikes", "park"]}, board)
    assert err.value.code == "challenge_mismatch"
    bare = {k: v for k, v in file["encrypted"].items() if k != "spend"}
    with pytest.raises(FormatError) as refused:
        _check_in_python({**file, "encrypted": bare}, board)
    assert refused.value.code == "bad_encrypted_ballot"
    # the command the page gives: the manifest read from the log, its bounds the budget's
    command = shlex.split(b.page.inner_text("#challenge-command"))
    assert command[:2] == ["urne-verify", "challenge"] and "--log-key" in command
    assert b.downloaded is not None
    run = CliRunner().invoke(urne_verify, [command[1], str(b.downloaded), *command[3:]])
    assert run.exit_code == 0, run.output
    assert run.output.rstrip().endswith("VALID challenge")
    # the checked ballot is never cast: another, sealed anew, is
    after = b.sealed()
    assert after != before
    receipt = b.cast()
    cast = site.entry(receipt.index)["encrypted"]
    assert fingerprint(cast) == after
    assert set(cast["ciphertexts"]).isdisjoint(file["encrypted"]["ciphertexts"])
    assert all(x["encrypted"] != file["encrypted"] for x in site.ballots("budget"))
    b.close()


# -- accessible, on a phone -------------------------------------------------------------------

STATES = ["over-budget", "sealed", "challenged", "receipt"]


@pytest.mark.parametrize("locale", ["en-US", "fr-FR"])
@pytest.mark.parametrize("state", STATES)
def test_axe_finds_no_violation_on_a_phone(
    browser: Any, site: Site, state: str, locale: str
) -> None:
    b = Booth(browser, site, locale=locale, width=390)
    b.goto("budget")
    b.join(site.code("budget"))
    if state == "over-budget":
        b.choose("park", "lights")
        b.page.click("#cast")
        assert b.message()[1] in ("This is over the budget by 10.", "Cela dépasse le budget de 10.")
    else:
        b.choose("park", "bench")
        b.sealed()
    b.assert_accessible_in(state, f"take-part-secret-budget-{state}")
