"""The wallet page in a secret vote (docs/secret-ballot.md), in Chromium,
against a real service whose three trustees (threshold two) made the election
key on its log: citizens take part from their code to a checked receipt in
English and in French, their ballots encrypted and proven in the page; a
citizen checks a ballot before casting (Benaloh's cast-or-audit) and the
challenge file opens in Python and with the command the page gives, while the
ballot cast is another encryption;
revotes count last; the log holds no choice in clear; after the close, two
trustees decrypt and the result is the choices made. Before the trustees'
key exists, the page says so in a sentence."""

from __future__ import annotations

import base64
import json
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.secret import Board
from tests.support.secret_web import Booth, Site, fingerprint
from tests.support.service import served_app
from urne.verifier.citizen.wallet import Joined
from urne.verifier.cli.main import app as urne_verify
from urne.verifier.errors import ProofError
from urne.verifier.secret.ballot import EncryptedBallot, Opening, ballot_context, open_challenge
from urne.verifier.secret.group import Ristretto255, ristretto255

pytestmark = pytest.mark.browser

PEOPLE = 40
RULE = {"method": "approval", "min": 1, "max": 2, "revoting": True}
PROPOSALS = ["a", "b", "c"]  # the test institution's vote: Option A, Option B, Option C
BOUNDS = (1, 2)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_app(tmp_path_factory.mktemp("wallet-secret")) as served:
        s = Site(served, "vote", RULE, people=PEOPLE)
        s.open("secret")
        yield s


def _open_in_python(file: dict[str, Any], board: Board) -> tuple[int, ...]:
    """What ``urne-verify challenge`` does with the file: the ballot's proofs in
    its context, then each ciphertext encrypted again with the randomness shown.
    The indices of the choice it shows."""
    g = ristretto255()
    assert file["format"] == "urne-challenge/1"
    key = base64.b64decode(file["key"], validate=True)
    manifest = base64.b64decode(file["fingerprint"], validate=True)  # the manifest's fingerprint
    assert key == board.key and manifest == board.fingerprint  # the log's, not another
    ballot = EncryptedBallot.decode(g, file["encrypted"], len(PROPOSALS), BOUNDS)
    pseudonym = base64.b64decode(file["pseudonym"], validate=True)
    ballot.verify(ballot_context(g, manifest, key, pseudonym), key, BOUNDS)
    randomness = tuple(
        Ristretto255.decode_scalar(base64.b64decode(r, validate=True), "randomness")
        for r in file["randomness"]
    )
    selected = tuple(PROPOSALS.index(p) for p in file["choice"])
    open_challenge(g, key, ballot, Opening(selected, randomness))
    return selected


# -- from the code to the result ------------------------------------------------------------


def test_a_secret_vote_in_english_and_in_french_then_a_revote_and_the_result(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    site.open("count")
    en = Booth(browser, site)
    en.goto("count")
    assert en.page.is_visible("#secret-note") and not en.page.is_visible("#no-key-note")
    assert en.page.inner_text("#secret-note").startswith("This vote is secret")
    assert en.page.inner_text("#challenge") == "Check this ballot first"
    started = time.monotonic()
    en.join(site.code("count"))
    en.choose("b")
    shown = en.sealed()
    first = en.cast()
    took = time.monotonic() - started
    entry = site.entry(first.index)
    assert "choice" not in entry and set(entry["encrypted"]) == {"ciphertexts", "proofs", "count"}
    assert fingerprint(entry["encrypted"]) == shown  # the very ballot whose fingerprint was shown
    assert entry["seq"] == 0
    assert en.page.inner_text("#receipt-what") == "Your vote: Option B"
    detail = en.page.inner_text("#receipt-detail")
    assert "neither the log nor this receipt shows your choice" in detail
    assert shown in detail
    record = en.record()
    assert record["choices"] == {"0": ["b"]}
    assert "randomness" not in json.dumps(record)  # nothing of a cast ballot's randomness
    assert took < 30, f"from the code to the receipt: {took:.1f}s"

    # the revote: seq grows, the last one counts; the receipts say which
    en.page.uncheck("#choice-b")
    en.choose("a", "c")
    assert en.page.inner_text("#cast") == "Vote again"
    revote = en.cast()
    assert site.entry(revote.index)["seq"] == 1
    assert en.page.inner_text("#receipt-what") == "Your vote: Option A, Option C"
    items = en.page.locator("#receipt-list li")
    assert "Your vote: Option B" in items.nth(0).inner_text()
    assert [items.nth(i).get_attribute("data-counts") for i in range(2)] == ["no", "yes"]
    assert en.record()["choices"] == {"0": ["b"], "1": ["a", "c"]}
    # the wallet file keeps the choices as urne-wallet does, and no randomness
    with en.page.expect_download() as download:
        en.page.click("#export")
    path = tmp_path / "count.json"
    download.value.save_as(path)
    exported = json.loads(path.read_text())
    assert exported["choices"] == {"0": ["b"], "1": ["a", "c"]}
    assert exported["seq"] == 2 and len(exported["receipts"]) == 2
    assert "randomness" not in path.read_text()
    joined = Joined.from_json(exported, "export")
    assert joined.choice_of(site.served.log.entry(revote.index)) == ["a", "c"]
    en.screenshot("take-part-secret-revote")
    en.close()
    moved = Booth(browser, site)  # the citizen's other device
    moved.goto("count")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**exported, "choices": {"0": "b"}}))
    moved.page.set_input_files("#import", str(bad))
    assert moved.message()[0] == "bad_wallet"
    moved.page.set_input_files("#import", str(path))
    moved.page.wait_for_selector("body[data-wallet=joined]")
    items = moved.page.locator("#receipt-list li")
    assert items.count() == 2
    assert items.nth(1).inner_text().startswith("Your vote: Option A, Option C")
    moved.close()

    fr = Booth(browser, site, locale="fr-FR")
    fr.goto("count")
    assert fr.page.inner_text("#secret-note").startswith("Ce vote est secret\u00a0:")
    assert fr.page.inner_text("#challenge") == "Vérifier ce bulletin d'abord"
    fr.join(site.code("count"))
    fr.choose("c")
    fr.sealed()
    assert fr.page.inner_text("#sealed-ready").startswith("Votre bulletin est chiffré")
    fr.cast()
    assert fr.page.inner_text("#receipt-what") == "Votre vote\u00a0: Option C"
    assert "ni le journal ni ce reçu" in fr.page.inner_text("#receipt-detail")

    # someone else, the same way: Option C again
    other = Booth(browser, site)
    other.goto("count")
    other.join(site.code("count"))
    other.choose("c")
    other.cast()
    other.close()

    # the log holds encrypted ballots only
    ballots = site.ballots("count")
    assert len(ballots) == 4
    assert all("encrypted" in b and "choice" not in b for b in ballots)

    # the close, two trustees of three decrypt, and the result is the choices made
    closed, tally = site.decrypt("count")
    assert tally["ballots"] == 3  # three pseudonyms: the first ballot was replaced
    assert tally["counts"] == {"a": 1, "b": 0, "c": 3}
    site.publish("count", closed, tally)

    # later, in the French citizen's browser: the vote is closed, and the
    # receipt still says what was chosen, from this device's memory alone
    fr.goto("count")
    assert fr.page.is_visible("#closed-note") and not fr.page.is_visible("#step-ballot")
    assert fr.page.inner_text("#receipt-list li").startswith("Votre vote : Option C")
    fr.close()


def test_check_this_ballot_first_then_cast_another_encryption(browser: Any, site: Site) -> None:
    board = site.boards["secret"]
    b = Booth(browser, site)
    b.goto("secret")
    b.join(site.code("secret"))
    b.choose("a", "b")
    before = b.sealed()  # shown before the citizen says what to do with it
    file = b.challenge()
    assert (
        b.page.inner_text("#challenge-what") == "This ballot holds your choice: Option A, Option B"
    )
    assert b.page.inner_text("#challenge-fingerprint") == before
    assert fingerprint(file["encrypted"]) == before
    assert file["process"] == "secret" and file["choice"] == ["a", "b"]
    assert _open_in_python(file, board) == (0, 1)
    # the command the page gives, on "another device": the manifest read with its
    # inclusion proof under the log key, the ballot encrypted again
    command = shlex.split(b.page.inner_text("#challenge-command"))
    assert command[:2] == ["urne-verify", "challenge"] and "--log-key" in command
    assert b.downloaded is not None
    run = CliRunner().invoke(urne_verify, [command[1], str(b.downloaded), *command[3:]])
    assert run.exit_code == 0, run.output
    assert "This ballot encrypts: Option A, Option B." in run.output
    assert run.output.rstrip().endswith("VALID challenge")
    # the choice shown is what the ciphertexts hold: another choice does not open
    with pytest.raises(ProofError) as err:
        _open_in_python({**file, "choice": ["a", "c"]}, board)
    assert err.value.code == "challenge_mismatch"
    # the checked ballot is discarded: a new one, with fresh randomness, is sealed
    after = b.sealed()
    assert after != before
    assert not site.ballots("secret") or all(
        x["encrypted"] != file["encrypted"] for x in site.ballots("secret")
    )
    receipt = b.cast()
    cast = site.entry(receipt.index)["encrypted"]
    assert fingerprint(cast) == after
    assert set(cast["ciphertexts"]).isdisjoint(file["encrypted"]["ciphertexts"])
    assert b.page.inner_text("#receipt-what") == "Your vote: Option A, Option B"
    # and a ballot checked after a cast is never cast either
    file2 = b.challenge()
    assert all(x["encrypted"] != file2["encrypted"] for x in site.ballots("secret"))
    assert _open_in_python(file2, board) == (0, 1)
    b.screenshot("take-part-secret-challenged")
    b.close()


def test_in_french_a_ballot_checked_then_cast(browser: Any, site: Site) -> None:
    b = Booth(browser, site, locale="fr-FR")
    b.goto("secret")
    b.join(site.code("secret"))
    b.choose("c")
    before = b.sealed()
    file = b.challenge()
    assert b.page.inner_text("#challenge-what") == (
        "Ce bulletin contient votre choix\u00a0: Option C"
    )
    assert (
        b.page.inner_text("#challenge-download") == "Télécharger le fichier de vérification (JSON)"
    )
    assert _open_in_python(file, site.boards["secret"]) == (2,)
    assert b.sealed() != before
    receipt = b.cast()
    assert set(site.entry(receipt.index)["encrypted"]["ciphertexts"]).isdisjoint(
        file["encrypted"]["ciphertexts"]
    )
    assert b.page.inner_text("#receipt-what") == "Votre vote\u00a0: Option C"
    b.close()


def test_before_the_trustees_key_the_page_says_the_vote_is_not_open(
    browser: Any, site: Site
) -> None:
    site.open("waiting", ceremony=False)
    b = Booth(browser, site)
    b.goto("waiting")
    note = b.page.inner_text("#no-key-note")
    assert note.startswith("This vote is not open yet: its trustees have not finished")
    b.join(site.code("waiting"))  # the credential can be had already
    b.choose("a")
    state = b.page.wait_for_selector("#sealed-state[data-code=no_election_key]")
    assert state.inner_text().startswith("This vote is not open yet")  # nothing to seal with yet
    assert b.page.is_hidden("#sealed-ready")
    b.page.click("#cast")
    code, text = b.message()
    assert code == "no_election_key"  # said as a sentence, the code only in an attribute
    assert text.startswith("This vote is not open yet") and "no_election_key" not in text
    assert site.ballots("waiting") == []
    # the trustees finish while the page is open: the same page now votes
    site.ceremony("waiting")
    b.page.uncheck("#choice-a")
    b.choose("b")
    shown = b.sealed()
    receipt = b.cast()
    assert fingerprint(site.entry(receipt.index)["encrypted"]) == shown
    b.close()

    fr = Booth(browser, site, locale="fr-FR")
    site.open("waiting-fr", ceremony=False)
    fr.goto("waiting-fr")
    assert fr.page.inner_text("#no-key-note").startswith(
        "Ce vote n'est pas encore ouvert\u00a0: ses garants"
    )
    fr.join(site.code("waiting-fr"))
    fr.choose("a")
    fr.page.click("#challenge")
    code, text = fr.message()
    assert code == "no_election_key" and text.startswith("Ce vote n'est pas encore ouvert")
    fr.close()


def test_the_challenge_with_the_keyboard_alone(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("secret")
    kb = b.page.keyboard

    def tab_to(selector: str, key: str = "Tab") -> None:
        for _ in range(60):
            kb.press(key)
            if b.page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
                return
        raise AssertionError(f"{selector} cannot be reached with the {key} key")

    tab_to("#code")
    kb.type(site.code("secret"))
    kb.press("Enter")
    b.page.wait_for_selector("body[data-wallet=joined]")
    tab_to("#choice-c")
    kb.press("Space")
    assert b.page.is_checked("#choice-c")
    before = b.sealed()
    tab_to("#challenge")
    kb.press("Enter")
    b.page.wait_for_selector("#challenge-verdict[data-result=valid]")
    assert b.page.inner_text("#challenge-fingerprint") == before
    tab_to("#challenge-download")  # the file is reachable too
    with b.page.expect_download() as download:
        kb.press("Enter")
    opened = _open_in_python(
        json.loads(Path(download.value.path()).read_text()), site.boards["secret"]
    )
    assert opened == (2,)
    tab_to("#cast", "Shift+Tab")
    kb.press("Enter")
    b.page.wait_for_selector("#receipt-verdict[data-result=valid]")
    assert b.page.inner_text("#receipt-what") == "Your vote: Option C"
    b.close()


# -- accessible, on a phone and a desktop ---------------------------------------------------

STATES = ["no-key", "sealed", "challenged", "receipt"]


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("locale", ["en-US", "fr-FR"])
@pytest.mark.parametrize("state", STATES)
def test_axe_finds_no_violation_on_the_secret_states(
    browser: Any, site: Site, state: str, locale: str, width: int
) -> None:
    if state == "no-key" and "nokey" not in site.boards:
        site.open("nokey", ceremony=False)
    pid = "nokey" if state == "no-key" else "secret"
    b = Booth(browser, site, locale=locale, width=width)
    b.goto(pid)
    b.join(site.code(pid))
    b.choose("a")
    if state == "no-key":
        b.page.click("#cast")
        assert b.message()[0] == "no_election_key"
    else:
        b.sealed()
    b.assert_accessible_in(state, f"take-part-secret-{state}")
