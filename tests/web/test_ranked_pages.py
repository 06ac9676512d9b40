"""A majority judgment's and a Schulze vote's pages (docs/guides/web.md §2
and §3a), against a real service (uvicorn on a loopback port, its own issuer
keys and roll): ballots cast with ``urne-wallet`` first, then in Debian's
Chromium a citizen grades every proposal with the keyboard, or ranks
proposals, from the one-time code to a receipt checked in the page, in
English and in French; a proposal left ungraded, a gap or a proposal twice in
a ranking are refused before anything is sent. The process pages show the
scale, each proposal's merit profile (counts and shares), majority grade and
rank, the winners, the pairwise counts and the strongest paths, as the
recount has them; axe finds nothing at 390 CSS pixels, and nothing scrolls
sideways but the tables' own boxes. Plain HTTP checks of the texts too."""

from __future__ import annotations

import html
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.axe import run_axe
from tests.support.service import Served, served_app
from urne.verifier.check.receipt import Receipt
from urne.verifier.citizen import authoring
from urne.verifier.citizen.cli import app as wallet_app
from urne.verifier.civic.entries import decode_entry

LANGUAGES = ("en", "fr")
NBSP = "\u00a0"
runner = CliRunner()

SCALE = [
    {"id": "very-good", "label": {"fr": "Très bien", "en": "Very good"}},
    {"id": "good", "label": {"fr": "Bien", "en": "Good"}},
    {"id": "fair", "label": {"fr": "Passable", "en": "Fair"}},
    {"id": "reject", "label": {"fr": "À rejeter", "en": "Reject"}},
]
LABELS = {
    lang: {g["id"]: g["label"][lang] for g in SCALE}  # type: ignore[index]
    for lang in LANGUAGES
}
TITLES = {
    "park": {"en": "A park", "fr": "Un parc"},
    "bikes": {"en": "Bike lanes", "fr": "Des pistes cyclables"},
    "bench": {"en": "Benches", "fr": "Des bancs"},
}
PROPOSALS = [
    authoring.proposal(pid, title, {k: f"<p>{v}.</p>" for k, v in title.items()})
    for pid, title in TITLES.items()
]
MJ_RULE: dict[str, Any] = {
    "method": "majority-judgment",
    "min": 3,
    "max": 3,
    "revoting": True,
    "grades": SCALE,
}
SCHULZE_RULE = {"method": "schulze", "min": 1, "max": 3, "revoting": True}
#: the ballots urne-wallet casts before the pages are read
GRADES = [
    ["park=very-good", "bikes=good", "bench=reject"],
    ["park=good", "bikes=good", "bench=fair"],
    ["park=fair", "bikes=very-good", "bench=reject"],
    ["park=good", "bikes=very-good", "bench=fair"],
    ["park=good", "bikes=fair", "bench=reject"],
]
RANKINGS = [
    ["bikes", "park", "bench"],
    ["bikes", "bench"],
    ["park", "bikes"],
    ["bench", "park", "bikes"],
    ["bikes"],
]
PEOPLE = 20


class Site:
    def __init__(self, served: Served, tmp: Path) -> None:
        self.served = served
        self.url = served.url
        self.tmp = tmp
        self.codes: dict[str, list[str]] = {}
        self.wallets = 0

    def open(self, pid: str, rule: dict[str, Any]) -> None:
        self.codes[pid] = self.served.open(pid, "vote", PEOPLE, rule=rule, proposals=PROPOSALS)

    def code(self, pid: str) -> str:
        return self.codes[pid].pop()

    def wallet(self, pid: str, command: str, *args: str) -> None:
        """A citizen with urne-wallet: join with a fresh code, then cast."""
        self.wallets += 1
        w = self.tmp / f"w{self.wallets}"
        key = self.served.log.verifier.vkey
        for argv in (
            ["join", self.url, pid, "--code", self.code(pid), "--log-key", key],
            [command, pid, *args],
        ):
            r = runner.invoke(wallet_app, [*argv, "--wallet", str(w)])
            assert r.exit_code == 0, r.output

    def tally(self, pid: str) -> dict[str, Any]:
        return self.served.civic.tally(pid)

    def entry(self, index: int) -> dict[str, Any]:
        return decode_entry(self.served.log.entry(index)).obj


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("ranked")
    with served_app(tmp) as served:
        s = Site(served, tmp)
        for pid in ("mj", "mj-web", "mj-empty"):
            s.open(pid, MJ_RULE)
        for pid in ("rank", "rank-web", "rank-empty"):
            s.open(pid, SCHULZE_RULE)
        for grades in GRADES:
            s.wallet("mj", "grade", *grades)
        for ranking in RANKINGS:
            s.wallet("rank", "vote", *ranking)
        s.wallet("mj-web", "grade", *GRADES[0])
        s.wallet("rank-web", "vote", *RANKINGS[0])
        yield s


# -- without a browser ------------------------------------------------------------------------


def _get(url: str, lang: str) -> str:
    request = urllib.request.Request(url, headers={"Accept-Language": lang, "Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200
        assert r.headers["Content-Language"] == lang
        text: str = r.read().decode()
        return text


def _text(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped, ASCII white space squeezed."""
    text = html.unescape(re.sub(r"<[^>]+>", "", fragment))
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def _element(page: str, tag: str, ident: str) -> str:
    m = re.search(rf'<{tag}\b[^>]*\bid="{ident}"[^>]*>(.*?)</{tag}>', page, re.S)
    assert m, ident
    return m.group(1)


def _rows(table: str) -> dict[str, list[str]]:
    """``{data-proposal: [cell texts]}`` of a table's body."""
    out = {}
    for m in re.finditer(r'<tr data-proposal="([^"]+)">(.*?)</tr>', table, re.S):
        out[m.group(1)] = [
            _text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", m.group(2), re.S)
        ]
    return out


def _percent(share: float, lang: str) -> str:
    n = round(share * 100)
    return f"{n}{NBSP}%" if lang == "fr" else f"{n}%"


WORDS = {
    "en": {
        "scale": "The scale, from the best grade to the worst: Very good, Good, Fair, Reject.",
        "caption": "How many ballots gave each grade to each proposal, and their share",
        "pairwise": "How many ballots rank the proposal of the row above the proposal of "
        "the column",
        "rank": "Rank",
        "winner": "Winner: ",
        "majority": "majority grade: ",
        "how": "How the ranking follows: there is a link from one proposal to another",
        "tied": "(tied)",
    },
    "fr": {
        "scale": f"L'échelle, de la meilleure mention à la pire{NBSP}: Très bien, Bien, "
        "Passable, À rejeter.",
        "caption": "Combien de bulletins ont donné chaque mention à chaque proposition, "
        "et leur part",
        "pairwise": "Combien de bulletins classent la proposition de la ligne au-dessus de "
        "celle de la colonne",
        "rank": "Rang",
        "winner": f"Gagnante{NBSP}: ",
        "majority": f"mention majoritaire{NBSP}: ",
        "how": f"D'où vient le classement{NBSP}: il y a un lien d'une proposition à une autre",
        "tied": "(ex æquo)",
    },
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_majority_judgment_page_says_profiles_grades_and_ranks(site: Site, lang: str) -> None:
    t = site.tally("mj")
    # the five ballots of urne-wallet: bikes (two "very good") ranks first, alone
    assert t["profiles"] == {"park": [1, 3, 1, 0], "bikes": [2, 2, 1, 0], "bench": [0, 0, 2, 3]}
    assert t["ranking"] == [["bikes"], ["park"], ["bench"]]
    page = _get(f"{site.url}/p/mj", lang)
    words, labels = WORDS[lang], LABELS[lang]
    text = _text(page)
    assert words["scale"] in text
    assert words["caption"] in text
    assert _text(_element(page, "p", "ranked-winners")) == words["winner"] + TITLES["bikes"][lang]
    ranking = _element(page, "ol", "ranking")
    for k, tier in enumerate(t["ranking"], start=1):
        (pid,) = tier
        item = re.search(rf'<li data-rank="{k}"[^>]*>(.*?)</ul></li>', ranking, re.S)
        assert item, k
        said = _text(item.group(1))
        grade = labels[t["majority_grades"][pid]]
        assert said == f"{words['rank']} {k} {TITLES[pid][lang]} · {words['majority']}{grade}"
    rows = _rows(_element(page, "table", "profiles"))
    assert list(rows) == ["bikes", "park", "bench"]  # in the ranking's order
    for k, (pid, cells) in enumerate(rows.items(), start=1):
        counts = t["profiles"][pid]
        n = sum(counts)
        assert cells[:3] == [str(k), TITLES[pid][lang], labels[t["majority_grades"][pid]]]
        assert cells[3:] == [f"{c} ({_percent(c / n, lang)})" for c in counts]
    head = _element(page, "table", "profiles").split("</thead>")[0]
    for g in SCALE:
        assert f">{html.escape(labels[g['id']])}</th>" in head
    # the bars repeat the table: a rect per grade given, hidden from screen readers
    bars = _element(page, "ol", "profile-bars")
    assert bars.count("<rect ") == sum(1 for c in t["profiles"].values() for x in c if x)
    assert 'aria-hidden="true"' in bars


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_schulze_page_says_tiers_and_the_pairwise_counts(site: Site, lang: str) -> None:
    t = site.tally("rank")
    page = _get(f"{site.url}/p/rank", lang)
    words = WORDS[lang]
    text = _text(page)
    assert words["pairwise"] in text and words["how"] in text
    names = ", ".join(TITLES[pid][lang] for pid in t["winners"])
    assert _text(_element(page, "p", "ranked-winners")).endswith(names)
    ranking = _element(page, "ol", "ranking")
    shown = [
        re.findall(r'data-proposal="([^"]+)"', m)
        for m in re.findall(r'<li data-rank="\d+"[^>]*>(.*?)</ul></li>', ranking, re.S)
    ]
    assert shown == t["ranking"]
    order = [pid for tier in t["ranking"] for pid in tier]
    for name, key in (("pairwise", "pairwise"), ("paths", "strongest_paths")):
        rows = _rows(_element(page, "table", name))
        assert list(rows) == order
        for x, cells in rows.items():
            assert cells[0] == TITLES[x][lang]
            for y, cell in zip(order, cells[1:], strict=True):
                want = "—" + ("elle-même" if lang == "fr" else "itself")
                assert cell == (want if x == y else str(t[key][x][y])), (name, x, y)
    # the expected counts of the five ballots (d[x][y]: x above y)
    assert t["pairwise"]["bikes"] == {"park": 3, "bench": 4}
    assert t["pairwise"]["park"] == {"bikes": 2, "bench": 2}
    # park and bench: 2 ballots each way, no path stronger: tied, and said so
    assert t["pairwise"]["bench"]["park"] == 2
    assert t["ranking"] == [["bikes"], ["bench", "park"]]
    tier = re.search(r'<li data-rank="2"[^>]*>(.*?)</ul></li>', ranking, re.S)
    assert tier and _text(tier.group(1)).startswith(f"{words['rank']} 2 {words['tied']}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_take_part_pages_offer_grades_and_places(site: Site, lang: str) -> None:
    page = _get(f"{site.url}/p/mj/take-part", lang)
    for pid in TITLES:
        group = _element(page, "fieldset", f"grades-{pid}")
        assert f"<legend>{html.escape(TITLES[pid][lang])}</legend>" in group
        ids = re.findall(
            r'<input type="radio" name="grade-' + pid + r'" id="[^"]+" value="([^"]+)"', group
        )
        assert ids == [g["id"] for g in SCALE]  # best first
        for g in SCALE:
            assert f">{html.escape(LABELS[lang][g['id']])}</label>" in group
    page = _get(f"{site.url}/p/rank/take-part", lang)
    selects = re.findall(r'<select id="rank-(\d)"', page)
    assert selects == ["1", "2", "3"]
    label = _text(page.split('<label for="rank-1">')[1].split("</label>")[0])
    assert label == (
        "Choix n°" + NBSP + "1 (obligatoire)" if lang == "fr" else "Choice 1 (required)"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_before_any_ballot_there_is_no_ranking(site: Site, lang: str) -> None:
    said = {
        "en": "No ballot yet: there is no ranking.",
        "fr": f"Aucun bulletin pour l'instant{NBSP}: il n'y a pas de classement.",
    }
    for pid in ("mj-empty", "rank-empty"):
        page = _get(f"{site.url}/p/{pid}", lang)
        assert _text(_element(page, "p", "no-ranking")) == said[lang]
        assert 'id="ranked-winners"' not in page and 'id="profile-bars"' not in page
    rows = _rows(_element(_get(f"{site.url}/p/mj-empty", lang), "table", "profiles"))
    zero = "0 (0%)" if lang == "en" else f"0 (0{NBSP}%)"
    assert rows["park"] == ["–", TITLES["park"][lang], "–", zero, zero, zero, zero]


def test_no_english_is_left_on_the_french_pages(site: Site) -> None:
    for path in ("/p/mj", "/p/rank", "/p/mj/take-part", "/p/rank/take-part"):
        text = _text(re.sub(r"<script.*?</script>", "", _get(site.url + path, "fr"), flags=re.S))
        for english in (
            "Ranking",
            "Merit profiles",
            "Majority grade",
            "Pairwise",
            "Winner",
            "tied",
            "Grade every",
            "Choice",
            "strongest",
        ):
            assert english not in text, (path, english)


# -- in the browser ---------------------------------------------------------------------------


def _screenshots() -> Path:
    out = Path(os.environ.get("URNE_ARTIFACTS", "test-artifacts")) / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


class Booth:
    """One browser profile on the wallet page of one process."""

    def __init__(self, browser: Any, site: Site, lang: str, width: int = 1280) -> None:
        self.site = site
        self.context = browser.new_context(
            locale={"en": "en-GB", "fr": "fr-FR"}[lang],
            viewport={"width": width, "height": 900},
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.posts: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.context.on(
            "request", lambda r: self.posts.append(r.url) if r.method == "POST" else None
        )

    def join(self, pid: str) -> None:
        self.page.goto(f"{self.site.url}/p/{pid}/take-part")
        self.page.wait_for_selector("body[data-ready=yes]")
        self.page.fill("#code", self.site.code(pid))
        self.page.click("#get-credential")
        self.page.wait_for_selector("body[data-wallet=joined]")

    def refused(self) -> str:
        box = self.page.wait_for_selector("#wallet-message[data-kind=error]")
        return str(box.inner_text())

    def cast(self) -> Receipt:
        before = self.page.locator("#receipt-list li").count()
        if self.page.evaluate("document.activeElement.id === 'cast'"):
            self.page.keyboard.press("Enter")  # the keyboard that got here casts
        else:
            self.page.click("#cast")
        self.page.locator("#receipt-list li").nth(before).wait_for()
        assert self.page.get_attribute("#receipt-verdict", "data-result") == "valid"
        index = int(self.page.locator("#receipt-list li").last.get_attribute("data-index"))
        return Receipt.from_json(self.site.served.log.receipt(index).to_json())

    def axe_and_width(self, name: str) -> None:
        """axe at 390 CSS pixels, nothing scrolling sideways, and a screenshot."""
        self.page.set_viewport_size({"width": 390, "height": 900})
        result = run_axe(self.page)
        assert result["violations"] == [], result["violations"]
        assert self.page.evaluate("document.documentElement.scrollWidth") <= 390
        self.page.screenshot(path=str(_screenshots() / f"{name}-390.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"errors in the browser console: {self.errors}"


#: what each language's citizen gives, and the receipt's words
MJ_CASTS = {
    "en": (
        {"park": "good", "bikes": "very-good", "bench": "fair"},
        "Your grades: A park: Good; Bike lanes: Very good; Benches: Fair",
    ),
    "fr": (
        {"park": "fair", "bikes": "good", "bench": "reject"},
        f"Vos mentions{NBSP}: Un parc{NBSP}: Passable; Des pistes cyclables{NBSP}: Bien; "
        f"Des bancs{NBSP}: À rejeter",
    ),
}


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_citizen_grades_every_proposal_with_the_keyboard(
    browser: Any, site: Site, lang: str
) -> None:
    grades, words = MJ_CASTS[lang]
    b = Booth(browser, site, lang)
    b.join("mj-web")
    b.axe_and_width(f"take-part-mj-{lang}")
    b.page.set_viewport_size({"width": 1280, "height": 900})
    scale = [g["id"] for g in SCALE]
    # the first group with the keyboard: Space takes the best grade, arrows move down
    b.page.focus("#grade-park-very-good")
    b.page.keyboard.press("Space")
    for _ in range(scale.index(grades["park"])):
        b.page.keyboard.press("ArrowDown")
    # one proposal left ungraded: refused, nothing sent, the focus where to grade
    size, posts = site.served.log.size, len(b.posts)
    b.page.click("#cast")
    said = b.refused()
    missing = f"{TITLES['bikes'][lang]}, {TITLES['bench'][lang]}"
    if lang == "en":
        assert said == f"Grade every proposal before casting. Still to grade: {missing}."
    else:
        assert said == (
            f"Donnez une mention à chaque proposition avant de voter. Reste à noter{NBSP}: "
            f"{missing}."
        )
    assert b.page.evaluate("document.activeElement.id") == "grade-bikes-very-good"
    assert site.served.log.size == size and len(b.posts) == posts
    # the others: Space, then down to the grade, Tab to the next group, to the button
    for pid in ("bikes", "bench"):
        b.page.keyboard.press("Space")
        for _ in range(scale.index(grades[pid])):
            b.page.keyboard.press("ArrowDown")
        b.page.keyboard.press("Tab")
    assert b.page.evaluate("document.activeElement.id") == "cast"
    receipt = b.cast()
    entry = site.entry(receipt.index)
    assert entry["grades"] == [grades[pid] for pid in ("park", "bikes", "bench")]
    assert "choice" not in entry
    assert b.page.inner_text("#receipt-what") == words
    assert b.page.inner_text("#receipt-list li").startswith(words)
    # the process page counts it: its profile row is the recount's
    t = site.tally("mj-web")
    rows = _rows(_element(_get(f"{site.url}/p/mj-web", lang), "table", "profiles"))
    for pid, cells in rows.items():
        assert [c.split(" ")[0] for c in cells[3:]] == [str(n) for n in t["profiles"][pid]]
        assert cells[2] == LABELS[lang][t["majority_grades"][pid]]
    b.axe_and_width(f"take-part-mj-cast-{lang}")
    b.close()


RANK_CASTS = {
    "en": (["park", "bench"], "Your ranking: 1. A park, 2. Benches"),
    "fr": (
        ["bench", "bikes", "park"],
        f"Votre classement{NBSP}: 1. Des bancs, 2. Des pistes cyclables, 3. Un parc",
    ),
}


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_citizen_ranks_proposals(browser: Any, site: Site, lang: str) -> None:
    ranking, words = RANK_CASTS[lang]
    b = Booth(browser, site, lang)
    b.join("rank-web")
    b.axe_and_width(f"take-part-schulze-{lang}")
    b.page.set_viewport_size({"width": 1280, "height": 900})
    size = site.served.log.size
    # a gap: the second place empty before the third
    b.page.select_option("#rank-1", ranking[0])
    b.page.select_option("#rank-3", ranking[1])
    b.page.click("#cast")
    gap = b.refused()
    assert gap.startswith("Fill the choices in order" if lang == "en" else "Remplissez les choix")
    # the same proposal twice
    b.page.select_option("#rank-3", "")
    b.page.select_option("#rank-2", ranking[0])
    b.page.click("#cast")
    twice = b.refused()
    title = TITLES[ranking[0]][lang]
    assert twice == (
        f"“{title}” is ranked twice: rank each proposal at most once."
        if lang == "en"
        else f"«{NBSP}{title}{NBSP}» est classée deux fois{NBSP}: classez chaque proposition "
        "une fois au plus."
    )
    assert site.served.log.size == size
    # by the keyboard: each place's list, its proposal typed or chosen with the arrows
    for k in range(1, 4):
        b.page.select_option(f"#rank-{k}", "")
    for k, pid in enumerate(ranking, start=1):
        b.page.focus(f"#rank-{k}")
        options = b.page.eval_on_selector_all(f"#rank-{k} option", "os => os.map(o => o.value)")
        for _ in range(options.index(pid)):
            b.page.keyboard.press("ArrowDown")
        assert b.page.input_value(f"#rank-{k}") == pid
    b.page.focus(f"#rank-{len(ranking)}")
    while b.page.evaluate("document.activeElement.id") != "cast":
        b.page.keyboard.press("Tab")
    receipt = b.cast()
    assert site.entry(receipt.index)["choice"] == ranking
    # the process page counts it: its pairwise table is the recount's
    t = site.tally("rank-web")
    rows = _rows(_element(_get(f"{site.url}/p/rank-web", lang), "table", "pairwise"))
    order = [pid for tier in t["ranking"] for pid in tier]
    for x, cells in rows.items():
        for y, cell in zip(order, cells[1:], strict=True):
            assert x == y or cell == str(t["pairwise"][x][y])
    assert b.page.inner_text("#receipt-what") == words
    b.axe_and_width(f"take-part-schulze-cast-{lang}")
    b.close()


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("pid", ["mj", "rank"])
def test_the_process_pages_pass_axe_on_a_phone(
    new_page: Any, site: Site, lang: str, pid: str
) -> None:
    page = new_page(lang=lang, width=390)
    page.goto(f"{site.url}/p/{pid}")
    if pid == "rank":
        page.click("#paths-details summary")
    result = run_axe(page)
    assert result["violations"] == [], result["violations"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # the tables scroll in their own box, which the keyboard reaches
    boxes = page.locator(".table-scroll[tabindex='0']")
    assert boxes.count() >= 1
    page.screenshot(path=str(_screenshots() / f"ranked-{pid}-{lang}-390.png"), full_page=True)


@pytest.mark.browser
def test_the_live_counts_follow_new_ballots(new_page: Any, site: Site) -> None:
    """live.js reads the ranked sections again when the number of ballots changes."""
    page = new_page(lang="en")
    page.goto(f"{site.url}/p/rank-web")
    before = int(page.get_attribute("#ranked", "data-ballots"))
    site.wallet("rank-web", "vote", "park", "bench")
    page.wait_for_selector(f"#ranked[data-ballots='{before + 1}']", timeout=20_000)
    assert page.inner_text("#ballots") == f"{before + 1} ballots online"
    t = site.tally("rank-web")
    cell = page.inner_text("#pairwise tr[data-proposal=park] td[data-against=bench]")
    assert cell == str(t["pairwise"]["park"]["bench"])
