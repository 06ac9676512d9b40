"""A vote with delegation on its pages (docs/guides/web.md §2 and §3a,
docs/spec/delegation.md), in English and French: the process page says that
citizens may delegate, how many votes came through a delegation and lists the
delegates (name, key, whether they voted, weight), with the wallet's
commands; the take-part page lets a citizen delegate, revoke and stand as a
delegate from the browser, each entry signed there and its receipt checked;
the receipt page names the entry kinds.

The service runs for real (uvicorn on a loopback port, its own issuer keys and
roll); the citizens of the static vote ``city`` use ``urne-wallet``, as in
tests/api/test_delegation.py: three delegates stand (Ana, Béa, Carl), Carl
delegates to Ana without voting (a chain), a delegation is revoked, a direct
vote overrides a delegation. The browser tests work on another vote, ``town``,
so that what they add leaves ``city``'s numbers as they are. Chromium at
390 CSS pixels with axe-core, the keyboard only."""

from __future__ import annotations

import html
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.axe import run_axe
from tests.support.service import Served, served_app
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.citizen import authoring
from urne.verifier.citizen.cli import app as wallet_app
from urne.verifier.civic.entries import decode_entry

RULE = {"method": "single", "min": 1, "max": 1, "revoting": True, "delegation": True}
LANGUAGES = ("en", "fr")
NBSP = "\u00a0"
runner = CliRunner()


@dataclass
class Site:
    served: Served
    codes: dict[str, list[str]] = field(default_factory=dict)
    #: the delegates' keys, by name
    keys: dict[str, str] = field(default_factory=dict)
    #: a citizen of ``town`` with ``urne-wallet``, who votes
    voter: Path = Path()

    @property
    def url(self) -> str:
        return self.served.url

    def code(self, pid: str) -> str:
        return self.codes[pid].pop()

    def entry(self, index: int) -> dict[str, Any]:
        return decode_entry(self.served.log.entry(index)).obj


def _wallet(w: Path, *args: str) -> str:
    r = runner.invoke(wallet_app, [*args, "--wallet", str(w)])
    assert r.exit_code == 0, r.output
    return r.output


def _stand(w: Path, pid: str, name: str) -> str:
    out = _wallet(w, "stand", pid, "--name", name)
    return out.split(f"urne-wallet delegate {pid} ")[1].split()[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    d = tmp_path_factory.mktemp("delegation-site")
    with served_app(d) as served:
        s = Site(served)
        s.codes["city"] = served.open("city", "vote", people=20, rule=RULE)
        s.codes["town"] = served.open("town", "vote", people=10, rule=RULE)
        s.codes["pet"] = served.open("pet", "petition", people=1)
        vkey = served.log.verifier.vkey

        def join(pid: str, name: str) -> Path:
            w = d / f"{pid}-{name}"
            _wallet(w, "join", served.url, pid, "--code", s.code(pid), "--log-key", vkey)
            return w

        ana, bea, carl = (join("city", n) for n in ("ana", "bea", "carl"))
        s.keys["Ana"] = _stand(ana, "city", "Ana, for the cycle lanes")
        s.keys["Béa"] = _stand(bea, "city", "Béa Martin")
        s.keys["Carl"] = _stand(carl, "city", "Carl")
        d1, d2, d3, d4, d5 = (join("city", f"d{k}") for k in range(1, 6))
        _wallet(d1, "delegate", "city", s.keys["Ana"])
        _wallet(d2, "delegate", "city", s.keys["Ana"])
        _wallet(carl, "delegate", "city", s.keys["Ana"])  # a delegate delegates in turn
        _wallet(d3, "delegate", "city", s.keys["Carl"])  # d3 -> Carl -> Ana
        _wallet(d4, "delegate", "city", s.keys["Béa"])
        _wallet(d4, "delegate", "city", "--revoke")  # revoked: counts nothing
        _wallet(d5, "delegate", "city", s.keys["Béa"])
        _wallet(d5, "vote", "city", "c")  # a vote of one's own counts instead
        _wallet(ana, "vote", "city", "a")
        _wallet(bea, "vote", "city", "b")
        # town: one delegate, who voted, for the browser to delegate to
        zoe = join("town", "zoe")
        s.keys["Zoé"] = _stand(zoe, "town", "Zoé")
        _wallet(zoe, "vote", "town", "a")
        s.voter = join("town", "yan")
        s.codes["ville"] = served.open("ville", "vote", people=3, rule=RULE)
        # an institution's answer, for the receipt page's kinds
        served.civic.append(
            authoring.answer(
                "pet", served.inst.key, None, "in_study", "We study it.", "2026-06-01T00:00:00Z"
            )
        )
        yield s


# -- without a browser --------------------------------------------------------------------------


def _get(url: str, lang: str = "en") -> str:
    request = urllib.request.Request(
        url, headers={"Accept-Language": lang, "Accept": "text/html,*/*;q=0.8"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200
        body: bytes = r.read()
        return body.decode()


def _text(fragment: str) -> str:
    """The fragment's text, tags dropped, ASCII white space folded (French
    keeps its no-break spaces)."""
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def _rows(page: str) -> list[tuple[str, str, str, str]]:
    """The delegates' table: (name, key, voted, weight) per row, in order."""
    table = re.search(r'<table id="delegates-table">(.*?)</table>', page, re.S)
    assert table is not None
    rows = re.findall(r"<tr data-delegate=[^>]*>(.*?)</tr>", table.group(1), re.S)
    out = []
    for row in rows:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        assert len(cells) == 4, row
        out.append(tuple(_text(c) for c in cells))
    return out  # type: ignore[return-value]


SAYS = {
    "en": [
        "Delegation",
        "In this vote, citizens may delegate their vote to a delegate, who may delegate in turn."
        " A vote of one's own always counts instead of one's delegation",
        "4 of these votes came through a delegation",
        "3 ballots online",
        "The 3 delegates, the heaviest first",
        "Delegate, or stand as a delegate",
    ],
    "fr": [
        "Délégation",
        "Dans ce vote, chacun peut déléguer sa voix à un délégué",
        f"Voix venues par délégation{NBSP}: 4",
        "3 bulletins en ligne",
        f"3 délégués, par poids décroissant{NBSP}:",
        "Déléguer, ou se porter délégué",
    ],
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_process_page_lists_the_delegates_and_the_counts(site: Site, lang: str) -> None:
    page = _get(f"{site.url}/p/city", lang)
    text = _text(page)
    for words in SAYS[lang]:
        assert words in text, words
    yes, no = {"en": ("yes", "no"), "fr": ("oui", "non")}[lang]
    # heaviest first: Ana carries herself, d1, d2, Carl and d3 (through Carl)
    assert _rows(page) == [
        ("Ana, for the cycle lanes", site.keys["Ana"], yes, "5"),
        ("Béa Martin", site.keys["Béa"], yes, "1"),
        ("Carl", site.keys["Carl"], no, "0"),
    ]
    # each key is a code element, to copy
    for key in site.keys.values():
        if key != site.keys["Zoé"]:
            assert f'<code class="key delegate-key">{key}</code>' in page
    # the counts include the delegated votes: a 5 (Ana's), b 1 (Béa), c 1 (d5's own)
    tally = site.served.civic.tally("city")
    assert tally["counts"] == {"a": 5, "b": 1, "c": 1} and tally["delegated"] == 4
    votes = re.findall(r'<span data-count="total">(\d+)</span>', page)
    assert votes == ["5", "1", "1"]
    # the wallet's commands
    key = {"en": "KEY", "fr": "CLÉ"}[lang]
    name = {"en": "Your public name", "fr": "Votre nom public"}[lang]
    command = re.search(r'<pre class="command" id="delegate-command"[^>]*>(.*?)</pre>', page, re.S)
    assert command is not None
    assert html.unescape(command.group(1)).splitlines() == [
        f"urne-wallet delegate city {key}",
        "urne-wallet delegate city --revoke",
        f'urne-wallet stand city --name "{name}"',
    ]
    assert 'href="/p/city/take-part"' in page
    if lang == "fr":
        # French typography: a no-break space before the high punctuation
        assert not re.search(r"[^\u00a0\u202f] [:;?!]", text)


def test_a_vote_without_delegation_says_nothing_of_it(site: Site) -> None:
    page = _get(f"{site.url}/p/pet")
    assert 'id="delegation"' not in page and 'id="delegated"' not in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_take_part_page_lists_the_delegates_by_name(site: Site, lang: str) -> None:
    page = _get(f"{site.url}/p/city/take-part", lang)
    names = re.findall(r'<label for="delegate-\d+">([^<]+)</label>', page)
    assert [html.unescape(n) for n in names] == ["Ana, for the cycle lanes", "Béa Martin", "Carl"]
    title = {"en": "Or delegate your vote", "fr": "Ou déléguez votre voix"}[lang]
    stand = {"en": "Stand as a delegate", "fr": "Me porter délégué"}[lang]
    assert title in page and stand in page


def test_the_home_page_names_citizens_panels(site: Site) -> None:
    assert "participatory budgets and panels of citizens drawn by lot" in _text(
        _get(site.url + "/")
    )
    assert "budgets participatifs et panels citoyens tirés au sort" in _text(
        _get(site.url + "/", "fr")
    )


# -- in Chromium ----------------------------------------------------------------------------------


def _tab_to(page: Any, selector: str, limit: int = 120) -> None:
    """Press Tab until the focus is on ``selector``: the keyboard only."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"the keyboard never reached {selector}")


def _join(page: Any, site: Site, pid: str) -> None:
    page.goto(f"{site.url}/p/{pid}/take-part")
    page.wait_for_selector("body[data-ready=yes]")
    _tab_to(page, "#code")
    page.keyboard.type(site.code(pid))
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-wallet=joined]")


def _receipt(page: Any, site: Site, before: int) -> Receipt:
    """The receipt the page checked, as the Python verifier checks it too."""
    page.locator("#receipt-list li").nth(before).wait_for()
    assert page.get_attribute("#receipt-verdict", "data-result") == "valid"
    index = int(page.locator("#receipt-list li").last.get_attribute("data-index"))
    receipt = Receipt.from_json(site.served.log.receipt(index).to_json())
    check_receipt(receipt, site.served.log.verifier)
    return receipt


def _pick(page: Any, name: str) -> None:
    """Check the delegate ``name`` in the radio group with the arrow keys."""
    _tab_to(page, "input[name=delegate]")
    page.keyboard.press("Space")
    for _ in range(20):
        label = page.evaluate(
            "() => document.querySelector(`label[for=${document.activeElement.id}]`).textContent"
        )
        if label == name:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no delegate {name}")


def _weight(site: Site, pid: str, name: str) -> str:
    rows = _rows(_get(f"{site.url}/p/{pid}"))
    return next(r[3] for r in rows if r[0] == name)


def _no_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
def test_a_citizen_delegates_revokes_and_delegates_again_with_the_keyboard(
    new_page: Any, site: Site
) -> None:
    page = new_page("en", width=390)
    _join(page, site, "town")
    assert page.is_visible("#step-delegation") and page.is_visible("#step-stand")
    assert _weight(site, "town", "Zoé") == "1"
    seqs, targets = [], []
    for step in ("delegate", "revoke", "delegate"):
        before = page.locator("#receipt-list li").count()
        if step == "delegate":
            _pick(page, "Zoé")
            _tab_to(page, "#delegate")
        else:
            _tab_to(page, "#revoke")
        page.keyboard.press("Enter")
        receipt = _receipt(page, site, before)
        entry = site.entry(receipt.index)
        assert entry["kind"] == "delegation" and entry["process"] == "town"
        seqs.append(entry["seq"])
        targets.append(entry["to"])
        what = page.inner_text("#receipt-what")
        if step == "delegate":
            assert what == "Your vote delegated to Zoé"
            assert page.inner_text("#delegation-now").startswith("Your vote is delegated to Zoé.")
            assert page.is_visible("#revoke")
        else:
            assert what == "Your delegation revoked"
            assert not page.is_visible("#revoke")
    # seq grows with each delegation of the pseudonym, as urne-wallet's does
    assert seqs == [0, 1, 2]
    assert targets == [site.keys["Zoé"], None, site.keys["Zoé"]]
    statuses = page.locator("#receipt-list li").evaluate_all(
        "els => els.map(e => e.dataset.counts)"
    )
    assert statuses == ["no", "no", "yes"]
    # the ballot form stays: a vote of one's own would count instead
    assert page.is_visible("#ballot-form")
    # the count follows the last delegation at once
    assert _weight(site, "town", "Zoé") == "2"
    # the process page, in the browser, shows it too
    page.goto(f"{site.url}/p/town")
    row = page.locator(f'#delegates-table tr[data-delegate="{site.keys["Zoé"]}"]')
    assert row.get_attribute("data-weight") == "2"
    _no_scroll(page)


@pytest.mark.browser
def test_a_citizen_stands_as_a_delegate_from_the_page(new_page: Any, site: Site) -> None:
    page = new_page("fr", width=390)
    _join(page, site, "town")
    before = page.locator("#receipt-list li").count()
    # an empty name is refused before anything is sent
    _tab_to(page, "#stand")
    page.keyboard.press("Enter")
    assert page.get_attribute("#wallet-message", "data-kind") == "error"
    assert page.evaluate("document.activeElement.id") == "stand-name"
    page.keyboard.type("Léa, quartier nord")
    page.keyboard.press("Enter")
    receipt = _receipt(page, site, before)
    entry = site.entry(receipt.index)
    assert entry["kind"] == "delegate" and entry["name"] == "Léa, quartier nord"
    assert (
        page.inner_text("#receipt-what")
        == f"Vous êtes délégué, sous le nom «{NBSP}Léa, quartier nord{NBSP}»"
    )
    assert not page.is_visible("#stand-form") and page.is_visible("#standing")
    key = page.inner_text("#my-key")
    assert key == entry["pseudonym"]
    # listed at once where others delegate (the take-part page reads the standing)
    assert f'value="{key}"' in _get(f"{site.url}/p/town/take-part", "fr")
    rows = _rows(_get(f"{site.url}/p/town", "fr"))
    assert ("Léa, quartier nord", key, "non", "0") in rows
    _no_scroll(page)


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
def test_axe_finds_nothing_on_either_page_at_390_px(
    new_page: Any, site: Site, lang: str, artifacts: Path
) -> None:
    page = new_page(lang, width=390)
    page.goto(f"{site.url}/p/city")
    page.wait_for_selector("#delegates-table")
    result = run_axe(page)
    assert result["violations"] == [], result["violations"]
    _no_scroll(page)
    # the table scrolls in its own box, which the keyboard reaches
    _tab_to(page, ".table-scroll[aria-labelledby=delegates-caption]")
    page.screenshot(path=str(artifacts / f"delegation-process-{lang}-390.png"), full_page=True)
    _join(page, site, "city")
    assert page.is_visible("#delegate-choices")
    result = run_axe(page)
    assert result["violations"] == [], result["violations"]
    _no_scroll(page)
    page.screenshot(path=str(artifacts / f"delegation-take-part-{lang}-390.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_receipt_page_names_the_new_kinds(new_page: Any, site: Site, lang: str) -> None:
    page = new_page(lang)
    log = site.served.log
    kinds: dict[str, int] = {}
    for i in range(log.size):
        kinds.setdefault(site.entry(i)["kind"], i)
    words = {
        "en": {
            "delegate": "standing as a delegate",
            "delegation": "delegation",
            "answer": "answer",
        },
        "fr": {
            "delegate": "candidature de délégué",
            "delegation": "délégation",
            "answer": "réponse",
        },
    }[lang]
    for kind, word in words.items():
        page.goto(f"{site.url}/receipt?index={kinds[kind]}")
        page.wait_for_function("() => document.querySelector('#receipt-text').value.length > 0")
        page.click("#check")
        page.wait_for_selector("#verdict[data-result=valid]")
        detail = page.inner_text("#verdict .detail")
        process = site.entry(kinds[kind])["process"]
        said = {
            "en": f"({word} of {process})",
            "fr": f"({word} du processus «{NBSP}{process}{NBSP}»)",
        }
        assert said[lang] in detail, detail
    # a draw's word, which this log has no entry of
    draw = page.evaluate("() => window.UrneStrings.t('kind_draw')")
    assert draw == {"en": "draw by lot", "fr": "tirage au sort"}[lang]
    assert page.evaluate("() => window.UrneStrings.missing.length") == 0


def test_the_count_follows_a_delegation_at_once(site: Site, tmp_path: Path) -> None:
    """A kept count is named by the process's last entry, delegations included:
    a delegation shows at once, not after the next ballot."""
    vkey = site.served.log.verifier.vkey
    wallets = [tmp_path / f"ville-{k}" for k in range(2)]
    for w in wallets:
        _wallet(w, "join", site.url, "ville", "--code", site.code("ville"), "--log-key", vkey)
    key = _stand(wallets[0], "ville", "Yves")
    _wallet(wallets[0], "vote", "ville", "a")
    assert _weight(site, "ville", "Yves") == "1"  # counted, and the count kept
    _wallet(wallets[1], "delegate", "ville", key)
    assert site.served.civic.tally("ville")["delegates"][key]["weight"] == 2
