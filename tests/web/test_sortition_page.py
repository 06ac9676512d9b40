"""A sortition's page (docs/guides/web.md §2), before and after its draw, in
English and French: what the institution committed to (seats, pool, quotas,
the drand round and when it comes out), then the panel in the order drawn,
the beacon's randomness and the command that replays the draw; nothing about
ballots, proposals, officials or paper.

The service runs for real (uvicorn on a loopback port) on an SQLite log: the
manifests go through the civic record while its clock is before the rounds
they name, the draw is the honest one the open data and the pool give
(``compute_draw``), then the clock moves past the drawn round. The plain HTTP
tests need no browser; the others open the pages in Debian's Chromium at
390 CSS pixels and run axe-core in them (tests/web/conftest.py)."""

from __future__ import annotations

import hashlib
import html
import re
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from tests.support.axe import run_axe
from tests.support.civic import Institution, open_in
from tests.support.paths import ROOT
from tests.support.service import serving
from tests.support.sortition import ROUND, SIGNATURE, pool_file, rule
from urne.api.main import create_app
from urne.api.web import CSP
from urne.ledger.civic.opendata import entries_jsonl, open_export
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log
from urne.verifier.check.opendata import check_export
from urne.verifier.check.sortition import compute_draw, replay
from urne.verifier.citizen import authoring
from urne.verifier.civic.beacon import QUICKNET, randomness
from urne.verifier.cli.main import app as verify_app

#: the sortition drawn with the round of the tests' vectors (2024-10-14)
DRAWN = "panel-2024"
#: a sortition whose round comes out on 2025-03-01, not drawn yet
PENDING = "panel-2025"
PENDING_ROUND = QUICKNET.round_at(int(datetime(2025, 3, 1, 9, 0, 30, tzinfo=UTC).timestamp()))
#: when the manifests reach the log: before both rounds
OPENING = datetime(2024, 6, 1, tzinfo=UTC)
#: when the pages are read: the first round is out, the second is not
READING = datetime(2024, 10, 20, 12, tzinfo=UTC)
LANGUAGES = ("en", "fr")
STATES = {"pending": PENDING, "drawn": DRAWN}
PO = ROOT / "api" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
NBSP = "\u00a0"
#: CLDR puts a narrow no-break space before AM and PM
NNBSP = "\u202f"


@dataclass
class Served:
    """The running service and the two sortitions on its log."""

    url: str
    log: Log
    pools: dict[str, bytes]
    #: the drawn panel, ``(id, values)`` in the order drawn
    panel: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    draw_index: int = -1
    randomness: str = ""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    d = tmp_path_factory.mktemp("sortition-site")
    log = Log.open(f"sqlite:///{d / 'urne.db'}", key_dir=d / "keys", origin="panel.test/log")
    now = [OPENING]
    app = create_app(
        log, keyring=IssuerKeyring(d / "issuer-keys"), clock=lambda: now[0], rate_limit=None
    )
    stack = ExitStack()
    base = stack.enter_context(serving(app))
    civic = app.state.civic
    inst = Institution(officials=[])
    pools = {DRAWN: pool_file(300, seed=1), PENDING: pool_file(150, seed=2)}
    rules = {
        DRAWN: rule(pools[DRAWN], 12),
        PENDING: rule(pools[PENDING], 8, round_=PENDING_ROUND),
    }
    for pid in (DRAWN, PENDING):
        manifest = inst.process(
            pid, "sortition", rule=rules[pid], proposals=[], opens="2024-01-01T00:00:00Z"
        )
        open_in(civic, manifest)
    log.catch_up()
    report = check_export(list(entries_jsonl(open_export(civic, DRAWN))), log.verifier)
    got = compute_draw(report, pools[DRAWN], SIGNATURE)
    panel = [(m.id, m.values) for m in got.panel]
    at = civic.append(authoring.draw(DRAWN, inst.key, ROUND, SIGNATURE, got.outcome.attempt, panel))
    now[0] = READING
    served = Served(base, log, pools, panel, at, got.randomness.hex())
    try:
        yield served
    finally:
        stack.close()
        log.close()


# -- without a browser ------------------------------------------------------------------------


def _get(url: str, lang: str = "en") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, headers={"Accept-Language": lang, "Accept": "text/html,*/*;q=0.8"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.status, dict(r.headers.items()), r.read()


class _Visible(HTMLParser):
    """The text a reader sees (no scripts, no attributes), and the ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.ids: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [v for k, v in attrs if k == "id" and v]
        if tag in ("script", "style", "title"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _read(page: str) -> tuple[str, list[str]]:
    parser = _Visible()
    parser.feed(page)
    # ASCII white space only: French keeps its no-break spaces
    return re.sub(r"[ \t\r\n]+", " ", "".join(parser.parts)).strip(), parser.ids


def _english_words() -> list[str]:
    """Messages French says otherwise, as plain words (no placeholder, no markup)."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    return [
        m.id
        for m in catalog
        if isinstance(m.id, str)
        and isinstance(m.string, str)
        and m.string != m.id
        and not re.search(r"[%{<]", m.id)
        and len(m.id) >= 4
    ]


#: what a sortition's page never shows: another kind of process's blocks
ABSENT_IDS = {
    "take-part-link",
    "counts",
    "ballots",
    "proposals",
    "results",
    "offices",
    "petition-progress",
    "vote-counts",
    "budget-counts",
}
ABSENT_WORDS = {
    "en": ("Take part", "ballot", "Proposals", "Officials", "paper", "Credentials", "Counts"),
    "fr": ("Participer", "bulletin", "Propositions", "Agents", "papier", "Attestations"),
}

#: what each page says, by language and state (the French with its no-break spaces)
SAYS: dict[str, dict[str, list[str]]] = {
    "en": {
        "both": [
            "citizens' panel",
            "What the institution committed to",
            "Quotas: how many seats people with each value take, at least and at most",
        ],
        "pending": [
            "8 seats, drawn by lot",
            "150 people, in a file the manifest fixes by its hash",
            f"drand quicknet round {PENDING_ROUND}, released on March 1, 2025, 9:00{NNBSP}AM UTC",
            f"Nobody knows the randomness of round {PENDING_ROUND} before drand releases it, "
            f"on March 1, 2025, 9:00{NNBSP}AM UTC: not the institution",
        ],
        "drawn": [
            "12 seats, drawn by lot",
            "300 people, in a file the manifest fixes by its hash",
            f"drand quicknet round {ROUND}, released on October 14, 2024, 5:13{NNBSP}PM UTC",
            "The 12 members of the panel, in the order drawn",
            "Each member appears under their pseudonymous id in the pool file, never by name",
            "(SHA-256 of the round's signature)",
            "Replay the draw",
            f"urne-verify sortition {DRAWN}-entries.jsonl --pool POOL_FILE --log-key '",
        ],
    },
    "fr": {
        "both": [
            "panel citoyen",
            "Ce à quoi l'institution s'est engagée",
            f"Quotas{NBSP}: combien de sièges reviennent, au moins et au plus, aux personnes "
            "de chaque valeur",
        ],
        "pending": [
            "8 sièges, tirés au sort",
            "150 personnes, dans un fichier que le manifeste fixe par son haché",
            f"tour {PENDING_ROUND} de drand quicknet, publié le 1 mars 2025, 09:00 UTC",
            f"Personne ne connaît l'aléa du tour {PENDING_ROUND} avant que drand ne le publie, "
            f"le 1 mars 2025, 09:00 UTC{NBSP}: ni l'institution",
        ],
        "drawn": [
            "12 sièges, tirés au sort",
            "300 personnes, dans un fichier que le manifeste fixe par son haché",
            f"tour {ROUND} de drand quicknet, publié le 14 octobre 2024, 17:13 UTC",
            "Les 12 membres du panel, dans l'ordre du tirage",
            f"identifiant pseudonyme dans le fichier du vivier, jamais sous son nom{NBSP}:",
            "(SHA-256 de la signature du tour)",
            "Refaire le tirage",
            f"urne-verify sortition {DRAWN}-entries.jsonl --pool POOL_FILE --log-key '",
        ],
    },
}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("state", list(STATES))
def test_the_page_over_http(served: Served, state: str, lang: str) -> None:
    pid = STATES[state]
    status, headers, body = _get(f"{served.url}/p/{pid}", lang)
    page = body.decode()
    assert status == 200
    assert headers["content-security-policy"] == CSP
    assert headers["content-language"] == lang
    assert f'<html lang="{lang}">' in page
    text, ids = _read(page)
    main, _ = _read(page[page.index("<main") : page.index("</main>")])
    for said in SAYS[lang]["both"] + SAYS[lang][state]:
        assert said in text, said
    assert not ABSENT_IDS & set(ids), ABSENT_IDS & set(ids)
    for word in ABSENT_WORDS[lang]:
        assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", main, re.I), word
    assert len(ids) == len(set(ids)), "an id appears twice"
    # the commitment, as the manifest gives it
    pool = served.pools[pid]
    assert hashlib.sha256(pool).hexdigest() in text
    assert 'data-live="no"' in page  # nothing to refresh
    quotas = re.findall(
        r"<tr><td>(\w+)</td><td>(\w+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>",
        page,
    )
    want = rule(pool, 12 if pid == DRAWN else 8)["quotas"]
    assert quotas == [(q["feature"], q["value"], str(q["min"]), str(q["max"])) for q in want]
    # the open data, linked
    for name in ("entries.jsonl", "results.csv"):
        assert f'href="/processes/{pid}/{name}"' in page
    if state == "pending":
        assert "not-drawn" in ids and "panel" not in ids and "replay" not in ids
        return
    # the panel in the order drawn, each with their values
    rows = re.findall(
        r'<tr data-member="([^"]+)"><th scope="row" class="num">(\d+)</th>'
        r"<td><code>[^<]+</code></td>((?:<td>[^<]*</td>)+)</tr>",
        page,
    )
    assert [(m, int(seat)) for m, seat, _ in rows] == [
        (m, k) for k, (m, _) in enumerate(served.panel, start=1)
    ]
    assert [tuple(re.findall(r"<td>([^<]*)</td>", cells)) for _, _, cells in rows] == [
        values for _, values in served.panel
    ]
    assert served.randomness == randomness(SIGNATURE).hex()
    assert f'<code class="key" id="beacon-randomness">{served.randomness}</code>' in page
    assert f'<a href="/log/entries/{served.draw_index}">{served.draw_index}</a>' in page
    assert "not-drawn" not in ids
    key = served.log.verifier.vkey
    assert f"--log-key '{key}'</pre>" in page


def test_no_english_is_left_on_the_french_pages(served: Served) -> None:
    english = _english_words()
    for pid in (PENDING, DRAWN):
        pages = {
            lang: _read(_get(f"{served.url}/p/{pid}", lang)[2].decode())[0] for lang in LANGUAGES
        }
        shown = [w for w in english if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", pages["en"])]
        assert len(shown) >= 10, shown
        left = [w for w in shown if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", pages["fr"])]
        assert left == [], f"English left on the French /p/{pid}: {left}"
        # French typography: a no-break space before the high punctuation
        assert not re.search(r"[^\u00a0\u202f] [:;?!]", pages["fr"]), pid


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_home_page_lists_the_sortitions(served: Served, lang: str) -> None:
    status, _, body = _get(served.url + "/", lang)
    assert status == 200
    text, _ = _read(body.decode())
    label = {"en": "citizens' panel", "fr": "panel citoyen"}[lang]
    assert text.count(label) == 2
    for pid in (PENDING, DRAWN):
        assert f'href="/p/{pid}"' in body.decode()


def test_the_replay_command_on_the_page_says_valid(served: Served, tmp_path: Path) -> None:
    """What the page tells an observer to do works: its open data, the pool
    and the command it shows, with the key it shows."""
    _, _, body = _get(f"{served.url}/p/{DRAWN}")
    command = re.search(
        r'<pre class="command" id="replay-command" tabindex="0">([^<]+)</pre>', body.decode()
    )
    assert command is not None
    args = html.unescape(command.group(1)).split(" ")
    assert args[:3] == ["urne-verify", "sortition", f"{DRAWN}-entries.jsonl"]
    status, headers, export = _get(f"{served.url}/processes/{DRAWN}/entries.jsonl")
    assert status == 200 and f'filename="{DRAWN}-entries.jsonl"' in headers["content-disposition"]
    (tmp_path / args[2]).write_bytes(export)
    (tmp_path / "pool.csv").write_bytes(served.pools[DRAWN])
    argv = [a.strip("'") for a in args[1:]]
    argv[1] = str(tmp_path / args[2])
    argv[argv.index("POOL_FILE")] = str(tmp_path / "pool.csv")
    out = CliRunner().invoke(verify_app, argv)
    assert out.exit_code == 0, out.output
    assert out.output.rstrip().endswith("VALID sortition")
    assert served.randomness in out.output
    # the same panel, from the export alone
    got = replay(
        check_export(export.splitlines(keepends=True), served.log.verifier), served.pools[DRAWN]
    )
    assert [(m.id, m.values) for m in got.panel] == served.panel
    status, _, csv = _get(f"{served.url}/processes/{DRAWN}/results.csv")
    assert status == 200 and len(csv.decode().splitlines()) == 1 + len(served.panel)


# -- in a browser -------------------------------------------------------------------------


def _open(new_page: Any, served: Served, state: str, lang: str, width: int = 390) -> Any:
    page = new_page(lang, width=width)
    response = page.goto(f"{served.url}/p/{STATES[state]}")
    assert response.status == 200
    return page


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("state", list(STATES))
def test_the_page_shows_what_matters(new_page: Any, served: Served, state: str, lang: str) -> None:
    page = _open(new_page, served, state, lang)
    assert page.locator("html").get_attribute("lang") == lang
    shown = re.sub(r"[ \t\r\n]+", " ", page.locator("main").inner_text())
    for said in SAYS[lang]["both"] + SAYS[lang][state]:
        said = said.replace("citizens' panel", "CITIZENS' PANEL").replace(
            "panel citoyen", "PANEL CITOYEN"
        )  # the kind is set in capitals
        assert said in shown, said
    # the quotas: a table with a caption and column headers
    quotas = page.locator("#quotas")
    assert quotas.locator("caption").count() == 1
    assert quotas.locator("thead th[scope=col]").count() == (5 if state == "drawn" else 4)
    want = rule(served.pools[STATES[state]], 12 if state == "drawn" else 8)["quotas"]
    assert quotas.locator("tbody tr").count() == len(want)
    first = quotas.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first[:4] == [
        want[0]["feature"],
        want[0]["value"],
        str(want[0]["min"]),
        str(want[0]["max"]),
    ]
    assert page.locator("#take-part-link, #counts, #proposals, #results").count() == 0
    if state == "pending":
        assert page.locator("#panel-members").count() == 0
        assert page.locator("#not-drawn").is_visible()
        return
    rows = page.locator("#panel-members tbody tr")
    assert rows.count() == len(served.panel)
    for k, (member, values) in enumerate(served.panel):
        row = rows.nth(k)
        assert row.locator("th[scope=row]").inner_text() == str(k + 1)
        assert row.locator("td").all_inner_texts() == [member, *values]
    assert page.locator("#beacon-randomness").inner_text() == served.randomness
    command = page.locator("#replay-command").inner_text()
    assert command == (
        f"urne-verify sortition {DRAWN}-entries.jsonl --pool POOL_FILE "
        f"--log-key '{served.log.verifier.vkey}'"
    )


@pytest.mark.browser
@pytest.mark.parametrize("width", (390, 1280))
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("state", list(STATES))
def test_axe_finds_no_violation(
    new_page: Any, served: Served, state: str, lang: str, width: int
) -> None:
    page = _open(new_page, served, state, lang, width)
    result = run_axe(page)
    assert result["violations"] == []
    assert result["passes"] > 20  # axe ran its rules on a real page


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("state", list(STATES))
def test_no_sideways_scrolling_on_a_phone(
    new_page: Any, served: Served, artifacts: Path, state: str, lang: str
) -> None:
    page = _open(new_page, served, state, lang)
    shots = artifacts / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"sortition-{state}-{lang}-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # the tables fit too: no region scrolls by itself at this width
    widths = page.evaluate(
        "[...document.querySelectorAll('.table-scroll')].map(e => e.scrollWidth - e.clientWidth)"
    )
    assert widths and all(w <= 0 for w in widths), widths


@pytest.mark.browser
@pytest.mark.parametrize("state", list(STATES))
def test_the_keyboard_reaches_the_open_data(new_page: Any, served: Served, state: str) -> None:
    """Tab alone goes through the page to the open data, each stop showing
    where the focus is; the tables and the command can be scrolled from it."""
    page = _open(new_page, served, state, "fr")
    pid = STATES[state]
    wanted = [
        f'a[href="/processes/{pid}/entries.jsonl"]',
        f'a[href="/processes/{pid}/results.csv"]',
    ]
    if state == "drawn":
        wanted = [
            "#panel-members",
            f'#replay a[href="/processes/{pid}/entries.jsonl"]',
            "#replay-command",
            f'#open-data a[href="/processes/{pid}/entries.jsonl"]',
            f'#open-data a[href="/processes/{pid}/results.csv"]',
        ]
    else:
        wanted = [f"#open-data {w}" for w in wanted]
    reached: list[str] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        focus = page.evaluate(
            """(wanted) => {
              const e = document.activeElement, s = getComputedStyle(e);
              const hit = wanted.find((w) => e === document.querySelector(w)
                || (e.classList.contains('table-scroll') && e.querySelector(w)));
              return [hit || null, s.outlineStyle, parseFloat(s.outlineWidth)];
            }""",
            wanted,
        )
        if focus[0] is not None:
            assert focus[1] != "none" and focus[2] >= 2, focus
            if focus[0] not in reached:
                reached.append(focus[0])
        if len(reached) == len(wanted):
            break
    assert reached == wanted
