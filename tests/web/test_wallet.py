"""The wallet page (``/p/{id}/take-part``) in Chromium, against a real service
with its own issuer keys and roll: a citizen with only their one-time code
signs, votes (single, approval, k-of-n) and chooses projects, each time from
the code to a receipt checked in the page; revotes; meets every refusal as a
sentence with what to do; loses an answer (a reload in the middle of
issuance, a cut while casting) without losing a code or counting twice;
moves their wallet to another browser and to ``urne-wallet``; re-checks
receipts once the log has grown. No request leaves the service's origin."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.axe import run_axe
from tests.support.civic import Citizen, proposal
from tests.support.service import Served, served_app
from urne.ledger.issuance.roll import issued_count
from urne.verifier.check.receipt import Receipt
from urne.verifier.citizen.wallet import Joined, Wallet
from urne.verifier.civic.entries import decode_entry

pytestmark = pytest.mark.browser

PEOPLE = 40
VOTES = {
    "single": {"method": "single", "min": 1, "max": 1, "revoting": True},
    "approve": {"method": "approval", "min": 1, "max": 3, "revoting": True},
    "two": {"method": "k-of-n", "min": 2, "max": 2, "revoting": False},
}
BUDGET = {
    "budget": 1000,
    "outcome": "greedy",
    "min_projects": 1,
    "max_projects": 2,
    "min_share_percent": 0,
    "capped": True,
    "revoting": True,
}
#: Chromium's own console line for a request answered with a refusal or cut:
#: expected where a test provokes one, an error anywhere else.
NETWORK_LINE = "Failed to load resource"


class Site:
    def __init__(self, served: Served) -> None:
        self.served = served
        self.url = served.url
        self.codes: dict[str, list[str]] = {}

    def open(self, pid: str, ptype: str, **kwargs: Any) -> None:
        self.codes[pid] = self.served.open(pid, ptype, PEOPLE, **kwargs)

    def code(self, pid: str) -> str:
        """A code of ``pid`` no test has used yet."""
        return self.codes[pid].pop()

    def entry(self, index: int) -> dict[str, Any]:
        return decode_entry(self.served.log.entry(index)).obj

    def issued(self, pid: str) -> int:
        return issued_count(self.served.log.engine, pid)

    def tally(self, pid: str) -> dict[str, Any]:
        return self.served.civic.tally(pid)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_app(tmp_path_factory.mktemp("wallet")) as served:
        s = Site(served)
        s.open("pet", "petition")
        for pid, rule in VOTES.items():
            s.open(pid, "vote", rule=rule)
        s.open(
            "bud",
            "budget",
            rule=BUDGET,
            proposals=[
                proposal("park", "A park", 600),
                proposal("bikes", "Bike lanes", 300),
                proposal("bench", "Benches", 200),
            ],
        )
        s.open("shared", "vote", threshold=2, shares=3)
        s.open("later", "petition", opens="2026-09-01T00:00:00Z")
        s.open("shut", "petition")
        served.civic.append(served.inst.close("shut"))
        yield s


class Booth:
    """One browser (a fresh profile) on the wallet pages of one site."""

    def __init__(self, browser: Any, site: Site, locale: str = "en-US") -> None:
        self.site = site
        self.context = browser.new_context(locale=locale, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.context.on("request", lambda r: self.requests.append(r.url))

    def goto(self, pid: str, fragment: str = "") -> None:
        self.page.goto(f"{self.site.url}/p/{pid}/take-part{fragment}")
        self.page.wait_for_selector("body[data-ready=yes]")

    def submit_code(self, code: str) -> None:
        self.page.fill("#code", code)
        self.page.click("#get-credential")

    def join(self, code: str) -> None:
        self.submit_code(code)
        self.page.wait_for_selector("body[data-wallet=joined]")

    def refused(self) -> tuple[str, str]:
        """The code and sentence of the refusal the page shows."""
        box = self.page.wait_for_selector("#wallet-message[data-kind=error]")
        return box.get_attribute("data-code"), box.inner_text()

    def choose(self, *ids: str) -> None:
        for i in ids:
            self.page.check(f"#choice-{i}")

    def cast(self) -> Receipt:
        """Cast what is chosen; the receipt the page checked and keeps."""
        before = self.page.locator("#receipt-list li").count()
        self.page.click("#cast")
        return self._receipt(before)

    def _receipt(self, before: int) -> Receipt:
        self.page.locator("#receipt-list li").nth(before).wait_for()
        assert self.page.get_attribute("#receipt-verdict", "data-result") == "valid"
        index = int(self.page.locator("#receipt-list li").last.get_attribute("data-index"))
        return Receipt.from_json(self.site.served.log.receipt(index).to_json())

    def what(self) -> str:
        return self.page.inner_text("#receipt-what")

    def close(self, *, network_errors: bool = False) -> None:
        errors = [e for e in self.errors if not (network_errors and NETWORK_LINE in e)]
        outside = [u for u in self.requests if not u.startswith((self.site.url, "blob:", "data:"))]
        self.context.close()
        assert not errors, f"errors in the browser console: {errors}"
        assert not outside, f"requests outside the service: {outside}"


def _screenshot(b: Booth, name: str) -> None:
    out = Path(os.environ.get("URNE_ARTIFACTS", "test-artifacts")) / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for width in (390, 1280):
        b.page.set_viewport_size({"width": width, "height": 900})
        assert b.page.evaluate("document.documentElement.scrollWidth") <= width
        b.page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)


# -- from the code to the receipt -----------------------------------------------------------


def test_sign_a_petition_from_the_code_to_a_checked_receipt(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("pet")
    assert b.page.is_visible("#step-code") and not b.page.is_visible("#step-ballot")
    issued = site.issued("pet")
    b.join(site.code("pet"))
    assert site.issued("pet") == issued + 1
    assert b.page.is_visible("#cast-later")  # cast later, said in one sentence
    receipt = b.cast()
    entry = site.entry(receipt.index)
    assert entry["kind"] == "ballot" and entry["process"] == "pet" and "choice" not in entry
    assert b.what() == "Your signature on “Process pet”"
    # a petition takes one signature: the form is gone, the receipt stays listed
    assert not b.page.is_visible("#ballot-form")
    assert b.page.locator("#receipt-list li").count() == 1
    with b.page.expect_download() as download:
        b.page.click("#receipt-download")
    kept = json.loads(Path(download.value.path()).read_text())
    assert Receipt.from_json(kept).entry == receipt.entry
    _screenshot(b, "take-part-petition-signed-en")
    b.close()


@pytest.mark.parametrize(
    ("pid", "picks", "words"),
    [
        ("single", ["b"], "Your vote: Option B"),
        ("approve", ["a", "c"], "Your vote: Option A, Option C"),
        ("two", ["b", "c"], "Your vote: Option B, Option C"),
    ],
)
def test_vote_single_approval_and_k_of_n(
    browser: Any, site: Site, pid: str, picks: list[str], words: str
) -> None:
    b = Booth(browser, site)
    b.goto(pid)
    b.join(site.code(pid))
    kind = b.page.get_attribute("#choice-a", "type")
    assert kind == ("radio" if pid == "single" else "checkbox")
    if pid == "two":  # one of two: the rule is said, and nothing is sent
        b.choose("a")
        assert b.page.get_attribute("#choice-hint", "data-problem") == "yes"
        b.page.click("#cast")
        assert b.refused()[1] == "Choose between 2 and 2."
        b.page.uncheck("#choice-a")
    b.choose(*picks)
    receipt = b.cast()
    assert site.entry(receipt.index)["choice"] == picks
    assert b.what() == words
    b.close()


def test_budget_live_total_constraints_and_choice(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("bud")
    b.join(site.code("bud"))
    b.choose("park", "bikes")
    assert b.page.inner_text("#budget-total") == "Total 900 of a budget of 1,000"
    assert b.page.get_attribute("#budget-used", "value") == "900"
    b.choose("bench")  # 1,100: over the budget, and three projects of at most two
    assert b.page.inner_text("#choice-hint") == "This is over the budget by 100."
    b.page.click("#cast")
    assert b.refused()[1] == "This is over the budget by 100."
    b.page.uncheck("#choice-park")
    assert b.page.inner_text("#choice-hint") == "2 chosen"
    receipt = b.cast()
    assert site.entry(receipt.index)["choice"] == ["bikes", "bench"]
    assert b.what() == "Your projects: Bike lanes, Benches (500 of a budget of 1,000)"
    _screenshot(b, "take-part-budget-en")
    b.close()


def test_a_t_of_n_issuer_s_answers_are_checked_and_combined(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("shared")
    b.join(site.code("shared"))
    b.choose("c")
    receipt = b.cast()
    assert site.entry(receipt.index)["choice"] == ["c"]
    b.close()


def test_revote_the_last_ballot_counts(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("single")
    b.join(site.code("single"))
    before = site.tally("single")["counts"]
    b.choose("a")
    first = b.cast()
    assert b.page.inner_text("#cast") == "Vote again"
    b.choose("c")
    second = b.cast()
    assert [site.entry(r.index)["seq"] for r in (first, second)] == [0, 1]
    after = site.tally("single")["counts"]
    assert (
        after["c"] == before["c"] + 1 and after["a"] == before["a"]
    )  # the first one no longer counts
    items = b.page.locator("#receipt-list li")
    assert [items.nth(i).get_attribute("data-counts") for i in range(2)] == ["no", "yes"]
    b.close()


# -- refusals -------------------------------------------------------------------------------


def test_a_wrong_code_then_a_used_code_are_said_plainly(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("single")
    b.submit_code("AAAA-BBBB-CCCC")
    code, text = b.refused()
    assert code == "unknown_code" and "Check each character against your letter" in text
    b.submit_code("12")
    assert b.refused()[0] == "bad_code"
    assert b.page.is_visible("#step-code")
    # someone else (another browser) used this code first
    used = site.code("single")
    other = Booth(browser, site)
    other.goto("single")
    other.join(used)
    other.close()
    b.submit_code(used)
    code, text = b.refused()
    assert code == "already_issued" and "help desk" in text
    assert b.page.is_visible("#step-code")
    b.close(network_errors=True)


def test_a_closed_process_takes_nothing_and_says_so(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("shut")
    assert b.page.is_visible("#closed-note")
    assert not b.page.is_visible("#step-code") and not b.page.is_visible("#step-ballot")
    b.close()


def test_a_process_closed_while_the_citizen_waited(browser: Any, site: Site) -> None:
    site.open("closing", "petition")
    b = Booth(browser, site)
    b.goto("closing")
    b.join(site.code("closing"))  # cast later...
    site.served.civic.append(site.served.inst.close("closing"))
    b.page.click("#cast")  # ...too late
    code, text = b.refused()
    assert code == "process_closed" and text.startswith("This process is closed")
    b.close(network_errors=True)


def test_a_process_not_open_yet_gives_a_credential_to_cast_later(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("later")
    assert b.page.is_visible("#upcoming-note")
    b.join(site.code("later"))
    b.page.click("#cast")
    code, text = b.refused()
    assert code == "process_not_open" and "Keep your credential" in text
    assert b.page.evaluate("document.body.dataset.wallet") == "joined"
    b.close(network_errors=True)


def test_an_offline_service_loses_nothing(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("approve")
    b.page.route("**/issuance/**", lambda route: route.abort("internetdisconnected"))
    code = site.code("approve")
    b.submit_code(code)
    kind, text = b.refused()
    assert kind == "offline" and "nothing was lost" in text
    b.page.unroute("**/issuance/**")
    b.join(code)  # the same code, once the network is back
    b.close(network_errors=True)


# -- nothing lost -----------------------------------------------------------------------------


def test_a_reload_in_the_middle_of_issuance_burns_no_code(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("single")
    code = site.code("single")
    before = site.issued("single")

    def answered_then_cut(route: Any) -> None:
        route.fetch()  # the issuer answers and records the code as used...
        route.abort("connectionreset")  # ...and the answer never arrives

    b.page.route("**/issuance/**", answered_then_cut)
    b.submit_code(code)
    assert b.refused()[0] == "offline"
    assert site.issued("single") == before + 1  # spent, from the issuer's side
    b.page.unroute("**/issuance/**")
    b.page.reload()  # the citizen reloads: the page asks again with the same B
    b.page.wait_for_selector("body[data-wallet=joined]")
    assert site.issued("single") == before + 1  # answered again, nothing more recorded
    b.choose("b")
    assert site.entry(b.cast().index)["choice"] == ["b"]
    b.close(network_errors=True)


def test_a_ballot_whose_answer_was_lost_is_sent_again_and_counts_once(
    browser: Any, site: Site
) -> None:
    b = Booth(browser, site)
    b.goto("approve")
    b.join(site.code("approve"))
    before = site.tally("approve")["ballots"]

    def posted_then_cut(route: Any) -> None:
        route.fetch()
        route.abort("connectionreset")

    b.page.route("**/entries", posted_then_cut)
    b.choose("b")
    b.page.click("#cast")
    assert b.refused()[0] == "offline"
    assert site.tally("approve")["ballots"] == before + 1  # it did arrive
    b.page.unroute("**/entries")
    b.page.reload()
    b.page.wait_for_selector("#pending:not([hidden])")
    assert "Your vote: Option B" in b.page.inner_text("#pending-text")
    assert b.page.is_disabled("#cast")
    b.page.click("#retry")
    receipt = b._receipt(0)
    assert site.entry(receipt.index)["choice"] == ["b"]
    assert site.tally("approve")["ballots"] == before + 1  # once
    assert b.page.is_hidden("#pending") and b.page.is_enabled("#cast")
    b.close(network_errors=True)


def test_the_wallet_file_moves_to_another_browser_and_to_urne_wallet(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    first = Booth(browser, site)
    first.goto("approve")
    first.join(site.code("approve"))
    first.choose("a")
    first.cast()
    with first.page.expect_download() as download:
        first.page.click("#export")
    path = tmp_path / "approve.json"
    download.value.save_as(path)
    first.close()
    saved = json.loads(path.read_text())
    assert download.value.suggested_filename == "approve.json"
    assert "code" not in saved and saved["seq"] == 1 and len(saved["receipts"]) == 1

    second = Booth(browser, site)  # another device
    second.goto("approve")
    second.page.set_input_files("#import", str(path))
    second.page.wait_for_selector("body[data-wallet=joined]")
    assert second.page.locator("#receipt-list li").count() == 1
    second.choose("c")
    revote = second.cast()
    assert site.entry(revote.index)["seq"] == 1
    with second.page.expect_download() as download:
        second.page.click("#export")
    moved = json.loads(Path(download.value.path()).read_text())
    second.close()

    # the same file is urne-wallet's: the command revotes with it
    wallet = tmp_path / "wallet"
    wallet.mkdir(mode=0o700)
    (wallet / "approve.json").write_text(json.dumps(moved))
    (wallet / "approve.json").chmod(0o600)
    joined = Joined.from_json(moved, "export")
    assert joined.seq == 2 and len(joined.receipts) == 2
    receipt, fresh = Wallet(wallet).cast("approve", ["b"])
    assert fresh and site.entry(receipt.index)["seq"] == 2
    assert [r for r, err in Wallet(wallet).recheck(Wallet(wallet).joined("approve")) if err] == []


def test_a_wallet_file_of_another_process_or_log_is_refused(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    b = Booth(browser, site)
    b.goto("single")
    b.join(site.code("single"))
    with b.page.expect_download() as download:
        b.page.click("#export")
    mine = json.loads(Path(download.value.path()).read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**mine, "process": "approve"}))
    b.goto("approve")
    b.page.set_input_files("#import", str(other))
    assert b.refused()[0] == "bad_wallet"
    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps({**mine, "pseudonym_seed": "A" * 43 + "="}))
    b.goto("single")
    b.page.set_input_files("#import", str(stranger))
    assert b.refused()[0] in ("bad_wallet", "another_wallet")
    b.close()


def test_receipts_are_checked_again_against_the_grown_log(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("single")
    b.join(site.code("single"))
    b.choose("a")
    receipt = b.cast()
    for choice in (["b"], ["c"], ["a"]):  # others vote: the log grows
        site.served.civic.append(Citizen.enrol(site.served.inst, "single").ballot(choice))
    size = site.served.log.checkpoint().size
    assert size > receipt.index + 1
    b.page.reload()  # months later, in the same browser
    b.page.wait_for_selector("body[data-ready=yes]")
    b.page.click("#recheck")
    b.page.wait_for_selector("#my-receipts[data-checked=yes]")
    item = b.page.locator("#receipt-list li").first
    assert item.get_attribute("data-check") == "valid"
    assert f"still in today's log (size {size:,})" in item.inner_text()
    b.close()


def test_a_code_in_the_link_s_fragment_never_reaches_the_server(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    code = site.code("pet")
    b.goto("pet", f"#code={code}")
    assert b.page.input_value("#code") == code
    assert code not in b.page.url  # taken out of the address bar and its history
    assert all(code not in u for u in b.requests)
    b.page.click("#get-credential")
    b.page.wait_for_selector("body[data-wallet=joined]")
    b.close()


def test_the_whole_path_with_the_keyboard_alone(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("single")
    kb = b.page.keyboard

    def tab_to(selector: str) -> None:
        for _ in range(60):
            kb.press("Tab")
            if b.page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key")

    tab_to("#code")
    kb.type(site.code("single"))
    kb.press("Enter")
    b.page.wait_for_selector("body[data-wallet=joined]")
    tab_to("#choice-a")
    kb.press("ArrowDown")  # radio buttons: the arrows move and select
    assert b.page.is_checked("#choice-b")
    tab_to("#cast")
    kb.press("Enter")
    b.page.wait_for_selector("#receipt-verdict[data-result=valid]")
    assert b.what() == "Your vote: Option B"
    b.close()


# -- in French, accessible, on a phone ------------------------------------------------------


def test_the_path_in_french(browser: Any, site: Site) -> None:
    b = Booth(browser, site, locale="fr-FR")
    b.goto("pet")
    assert b.page.get_attribute("html", "lang") == "fr"
    assert b.page.inner_text("h1").startswith("Participer")
    assert b.page.inner_text("#get-credential") == "Obtenir mon attestation"
    b.submit_code("AAAA-BBBB-CCCC")
    code, text = b.refused()
    assert code == "unknown_code" and text.startswith("Ce code ne figure pas sur la liste")
    b.join(site.code("pet"))
    assert b.page.inner_text("#cast") == "Signer la pétition"
    b.cast()
    assert b.what() == "Votre signature de la pétition «\u00a0Process pet\u00a0»"
    assert b.page.inner_text("#receipt-detail").startswith("Enregistré, et votre reçu se vérifie")
    b.close(network_errors=True)
    v = Booth(browser, site, locale="fr-FR")
    v.goto("bud")
    v.join(site.code("bud"))
    v.choose("park", "bikes")
    assert v.page.inner_text("#budget-total") == "Total de 900 sur un budget de 1\u202f000"
    v.cast()
    assert v.what() == "Vos projets\u00a0: A park, Bike lanes (900 sur un budget de 1\u202f000)"
    v.close()


STATES = ["fresh", "joined", "receipt", "closed"]


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("locale", ["en-US", "fr-FR"])
@pytest.mark.parametrize("state", STATES)
def test_axe_finds_no_violation_on_the_wallet_page(
    browser: Any, site: Site, state: str, locale: str, width: int
) -> None:
    b = Booth(browser, site, locale=locale)
    b.page.set_viewport_size({"width": width, "height": 900})
    b.goto("shut" if state == "closed" else "bud")
    if state in ("joined", "receipt"):
        b.join(site.code("bud"))
        b.choose("bikes")
    if state == "receipt":
        b.cast()
    result = run_axe(b.page)
    assert result["violations"] == []
    assert result["passes"] > 20
    assert b.page.evaluate("document.documentElement.scrollWidth") <= width
    lang = locale[:2]
    if width == 390 or state == "receipt":
        out = Path(os.environ.get("URNE_ARTIFACTS", "test-artifacts")) / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        b.page.screenshot(path=str(out / f"take-part-{state}-{lang}-{width}.png"), full_page=True)
    b.close()


def test_with_witnesses_the_kept_receipt_becomes_the_witnessed_one(
    browser: Any, tmp_path: Path
) -> None:
    """The receipt given at casting time is not cosigned yet; a moment later
    the page keeps the service's witnessed one, which a download gives."""
    with served_app(tmp_path / "svc", witnesses=2) as served:
        witnessed = Site(served)
        witnessed.open("pet", "petition")
        b = Booth(browser, witnessed)
        b.goto("pet")
        b.join(witnessed.code("pet"))
        receipt = b.cast()
        link = b.page.locator("#receipt-list li a.receipt-download").first

        def kept_signatures() -> int:
            with b.page.expect_download() as download:
                link.click()
            kept = json.loads(Path(download.value.path()).read_text())
            assert kept["index"] == receipt.index
            return len(kept["checkpoint"].split("\n\n", 1)[1].splitlines())

        deadline = time.monotonic() + 20
        while kept_signatures() < 3:  # the log's, and the two witnesses'
            assert time.monotonic() < deadline, "the kept receipt was never upgraded"
            b.page.click("#recheck")
            b.page.wait_for_selector("#my-receipts[data-checked=yes]")
        assert b.page.locator("#receipt-list li").first.get_attribute("data-check") == "valid"
        b.close()


def test_a_server_error_while_casting_keeps_the_ballot_to_send_again(
    browser: Any, site: Site
) -> None:
    b = Booth(browser, site)
    b.goto("approve")
    b.join(site.code("approve"))
    before = site.tally("approve")["ballots"]
    refusal = json.dumps({"error": {"code": "internal_error", "message": "boom"}})
    b.page.route(
        "**/entries",
        lambda route: route.fulfill(status=500, body=refusal, content_type="application/json"),
    )
    b.choose("c")
    b.page.click("#cast")
    assert b.refused()[0] == "offline"  # not a refusal: it may or may not be done
    assert b.page.is_visible("#pending")
    b.page.unroute("**/entries")
    b.page.click("#retry")
    receipt = b._receipt(0)
    assert site.entry(receipt.index)["choice"] == ["c"]
    assert site.tally("approve")["ballots"] == before + 1
    b.close(network_errors=True)


def test_two_tabs_joining_with_one_code_hold_one_credential(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    second = b.context.new_page()
    code = site.code("single")
    before = site.issued("single")
    b.goto("single")
    second.goto(f"{site.url}/p/single/take-part")
    second.wait_for_selector("body[data-ready=yes]")
    for page in (b.page, second):
        page.fill("#code", code)
    b.page.click("#get-credential", no_wait_after=True)
    second.click("#get-credential", no_wait_after=True)
    for page in (b.page, second):
        page.wait_for_selector("body[data-wallet=joined]")
    assert site.issued("single") == before + 1
    b.choose("a")
    b.cast()
    second.reload()
    second.wait_for_selector("body[data-ready=yes]")
    assert second.locator("#receipt-list li").count() == 1  # one wallet, seen by both
    b.close()


def test_a_refused_code_is_not_sent_again_at_the_next_load(browser: Any, site: Site) -> None:
    b = Booth(browser, site)
    b.goto("single")
    b.submit_code("AAAA-BBBB-CCCC")
    assert b.refused()[0] == "unknown_code"
    kept = b.page.evaluate(
        """async () => {
          const wallet = await import("/static/wallet/take-part.js");
          const record = await wallet.load();
          return record ? { code: "code" in record, blinding: Boolean(record.blinding) } : null;
        }"""
    )
    assert kept == {"code": False, "blinding": True}  # B kept for the right code, not the code
    sent = len([u for u in b.requests if "/issuance/" in u])
    b.page.reload()
    b.page.wait_for_selector("body[data-ready=yes]")
    assert b.page.evaluate("document.body.dataset.wallet") == "joining"
    assert len([u for u in b.requests if "/issuance/" in u]) == sent
    b.close(network_errors=True)


def test_more_paths_in_french(browser: Any, site: Site) -> None:
    """A vote and a revote, a used code, a closed process and a reload in the
    middle of issuance, as a French reader meets them."""
    b = Booth(browser, site, locale="fr-FR")
    b.goto("shut")
    assert b.page.inner_text("#closed-note").startswith("Ce processus est clos")
    b.goto("single")
    used = site.code("single")
    other = Booth(browser, site, locale="fr-FR")
    other.goto("single")
    other.join(used)
    other.close()
    b.submit_code(used)
    code, text = b.refused()
    assert code == "already_issued" and text.startswith("Ce code a déjà servi")
    assert "guichet d'aide" in text
    b.join(site.code("single"))
    b.choose("a")
    b.cast()
    assert b.what() == "Votre vote\u00a0: Option A"
    assert b.page.inner_text("#cast") == "Voter à nouveau"
    b.choose("b")
    b.cast()
    items = b.page.locator("#receipt-list li")
    assert "remplacé par votre bulletin suivant" in items.nth(0).inner_text()
    assert "c'est celui qui compte" in items.nth(1).inner_text()
    b.close(network_errors=True)

    r = Booth(browser, site, locale="fr-FR")  # a reload in the middle of issuance
    r.goto("approve")

    def answered_then_cut(route: Any) -> None:
        route.fetch()
        route.abort("connectionreset")

    r.page.route("**/issuance/**", answered_then_cut)
    r.submit_code(site.code("approve"))
    kind, text = r.refused()
    assert kind == "offline" and text.startswith("Le service n'a pas répondu")
    r.page.unroute("**/issuance/**")
    r.page.reload()
    r.page.wait_for_selector("body[data-wallet=joined]")
    assert r.page.inner_text("#credential-held").startswith("Vous détenez votre attestation")
    r.close(network_errors=True)
