"""The wallet page with an issuer that has no dealer (docs/spec/issuer-ceremony.md
§5): the page of the log's service asks each office at its own origin, checks
each answer under the share key the manifest names, combines two of three, and
signs, in Chromium. The page's policy admits exactly the offices' origins;
every request goes to the service or to an office; with one office down, the
other two suffice; with two down, the citizen is told, in French too."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.axe import run_axe
from tests.support.civic import institution_name, operator_of
from tests.support.secret import Board
from tests.support.service import Served, served_app, serving
from urne.api.main import create_app
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import copy_roll_csv, import_roll, issued_count, open_roll
from urne.verifier.citizen import authoring
from urne.verifier.civic.entries import decode_entry

PID = "pet-offices"


@dataclass
class Offices:
    served: Served
    urls: list[str]
    stacks: list[ExitStack]
    rolls: list[Any]
    codes: list[str]

    def issued(self, j: int) -> int:
        return issued_count(self.rolls[j - 1], PID)


@pytest.fixture(scope="module")
def offices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Offices]:
    tmp = tmp_path_factory.mktemp("offices")
    with served_app(tmp / "service") as served:
        civic, inst = served.civic, served.inst
        board = Board.make(PID, 3, 2, issuer=True)
        key = inst.key.public_key
        operator = operator_of(civic)
        civic.append(authoring.registration(institution_name(key), key, operator))
        at = civic.append(authoring.reservation(PID, key, board.reservation_field(), operator))
        board.opened(decode_entry(served.log.entry(at)))
        board.ceremony(civic.append, inst.key)
        stacks, urls, rolls = [], [], []
        codes_file = tmp / "codes.csv"
        codes: list[str] = []
        for j in (1, 2, 3):
            home = tmp / f"office-{j}"
            keyring = IssuerKeyring(home / "keys")
            keyring.install_share(
                PID,
                j,
                board.share(j),
                public_key=board.key,
                threshold=2,
                shares=3,
                share_public_keys={i: board.g.base(board.share(i)) for i in (1, 2, 3)},
            )
            roll = open_roll(f"sqlite:///{home / 'roll.db'}")
            if j == 1:
                drawn = import_roll(roll, keyring, PID, [(f"P-{i}",) for i in range(6)]).codes
                with open(codes_file, "w", newline="", encoding="utf-8") as fh:
                    w = csv.writer(fh)
                    w.writerow(["person", "code"])
                    w.writerows(drawn.items())
                codes = list(drawn.values())
            else:
                copy_roll_csv(roll, keyring, PID, codes_file)
            stack = ExitStack()
            app = create_app(casting=False, roll=roll, keyring=keyring, rate_limit=None)
            urls.append(stack.enter_context(serving(app)))
            stacks.append(stack)
            rolls.append(roll)
        civic.append(
            inst.process(
                PID,
                "petition",
                rule={"threshold": 2},
                issuer_key=board.manifest_issuer(dict(enumerate(urls, start=1))),
            )
        )
        try:
            yield Offices(served, urls, stacks, rolls, codes)
        finally:
            for stack in stacks:
                stack.close()


def _booth(browser: Any, locale: str = "en-US") -> tuple[Any, Any, list[str], list[str]]:
    context = browser.new_context(locale=locale)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    context.on("request", lambda r: requests.append(r.url))
    return context, page, errors, requests


def test_the_page_asks_each_office_and_signs(browser: Any, offices: Offices) -> None:
    site = offices.served.url
    context, page, errors, requests = _booth(browser)
    answer = page.goto(f"{site}/p/{PID}/take-part")
    csp = answer.headers["content-security-policy"]
    connect = next(d for d in csp.split("; ") if d.startswith("connect-src"))
    assert connect.split()[1:] == ["'self'", *offices.urls]
    page.wait_for_selector("body[data-ready=yes]")
    before = [offices.issued(j) for j in (1, 2, 3)]
    page.fill("#code", offices.codes.pop())
    page.click("#get-credential")
    page.wait_for_selector("body[data-wallet=joined]")
    # offices 1 and 2 answered: two are enough, the third is not asked
    assert [offices.issued(j) - before[j - 1] for j in (1, 2, 3)] == [1, 1, 0]
    page.click("#cast")
    page.locator("#receipt-list li").first.wait_for()
    assert page.get_attribute("#receipt-verdict", "data-result") == "valid"
    assert offices.served.civic.tally(PID)["signatures"] == 1
    outside = [u for u in requests if not u.startswith((site, *offices.urls, "blob:", "data:"))]
    posts = [u for u in requests if u.endswith(f"/issuance/{PID}")]
    context.close()
    assert not errors, errors
    assert not outside, outside
    assert {u.rsplit("/issuance/", 1)[0] for u in posts} == set(offices.urls[:2])


def test_one_office_down_the_others_answer_two_down_the_citizen_is_told(
    browser: Any, offices: Offices
) -> None:
    site = offices.served.url
    offices.stacks[0].close()  # office 1 is down
    context, page, errors, _ = _booth(browser)
    page.goto(f"{site}/p/{PID}/take-part")
    page.wait_for_selector("body[data-ready=yes]")
    page.fill("#code", offices.codes.pop())
    page.click("#get-credential")
    page.wait_for_selector("body[data-wallet=joined]")
    page.click("#cast")
    page.locator("#receipt-list li").first.wait_for()
    assert offices.served.civic.tally(PID)["signatures"] == 2
    context.close()
    assert not [e for e in errors if "Failed to load resource" not in e], errors

    offices.stacks[1].close()  # office 2 too: one office is not enough
    context, page, _, _ = _booth(browser, "fr-FR")
    page.goto(f"{site}/p/{PID}/take-part")
    page.wait_for_selector("body[data-ready=yes]")
    page.fill("#code", offices.codes.pop())
    page.click("#get-credential")
    box = page.wait_for_selector("#wallet-message[data-kind=error]")
    code, text = box.get_attribute("data-code"), box.inner_text()
    context.close()
    assert code == "not_enough_shares", (code, text)
    assert text.startswith("Trop peu de services émetteurs"), text


@pytest.mark.parametrize("locale", ["en-US", "fr-FR"])
def test_the_process_page_names_the_offices_and_passes_axe(
    browser: Any, offices: Offices, locale: str
) -> None:
    """Who signs the credentials, in the reader's language, at 390 px; the
    roll's count of the service that keeps the log, where nobody is answered,
    is not shown as if it were the credentials issued."""
    context, page, errors, _ = _booth(browser, locale)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{offices.served.url}/p/{PID}")
    items = page.locator("#offices li")
    assert items.count() == 3
    for j, url in enumerate(offices.urls, start=1):
        item = items.nth(j - 1)
        assert item.inner_text().startswith(f"Office {j} (")
        assert item.locator("a").get_attribute("href") == f"{url}/issuance/{PID}"
    said = page.inner_text("#offices")
    assert ("any 2 of these offices" if locale == "en-US" else "2 de ces services") in said
    assert page.locator("[data-field=credentials]").count() == 0
    result = run_axe(page)
    assert result["violations"] == [], result["violations"]
    width = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 390
    assert not errors, errors
