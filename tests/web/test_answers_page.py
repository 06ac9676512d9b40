"""The institution's answers on a process page (docs/spec/answers.md §3,
docs/guides/web.md §2), in English and French: by when they are due, where
each promised answer stands by the service's clock (on time, late, not yet,
missing past the deadline), the last answer's status, text, cost, date and
log index, and the answers nobody promised.

The service runs for real (uvicorn on a loopback port) on an SQLite log, its
clock moved by the test as the institution answers (the service refuses an
answer dated more than 300 s from its clock), then past the deadlines:

- ``trees``, a petition promising its answer by 30 June: reached, answered
  "under study" on 1 April then "accepted" with a cost on 2 May, in French
  and English;
- ``square``, a vote promising answers to two proposals by 31 May: one
  answered late (15 June, in English only), the other never; a third
  proposal, not promised, answered all the same;
- ``plan``, a budget that promises nothing, with one answer;
- ``later``, a vote promising an answer by December: not answered yet.

The plain HTTP tests need no browser; the others open the pages in Debian's
Chromium at 390 CSS pixels and run axe-core in them (tests/web/conftest.py)."""

from __future__ import annotations

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

from tests.support.axe import run_axe
from tests.support.civic import Citizen, Institution, open_in
from tests.support.paths import ROOT
from tests.support.service import serving
from urne.api.main import create_app
from urne.api.web import CSP
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log
from urne.verifier.citizen import authoring

LANGUAGES = ("en", "fr")
PO = ROOT / "api" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
NBSP = "\u00a0"
#: CLDR: French groups thousands with a narrow no-break space, and English
#: puts one before AM and PM
NNBSP = "\u202f"
#: when the pages are read: past the petition's and the vote's deadlines,
#: before the last one's
READING = datetime(2026, 7, 1, 12, tzinfo=UTC)
PIDS = ("trees", "square", "plan", "later")


def _at(when: str) -> datetime:
    return datetime.fromisoformat(when.replace("Z", "+00:00"))


def _title(en: str, fr: str) -> dict[str, str]:
    return {"en": en, "fr": fr}


def _proposal(pid: str, en: str, fr: str, cost: int | None = None) -> dict[str, Any]:
    return authoring.proposal(
        pid, _title(en, fr), _title(f"<p>{en}.</p>", f"<p>{fr}.</p>"), cost=cost
    )


@dataclass
class Served:
    url: str
    log: Log
    #: the service's clock, which the tests move
    now: list[datetime]
    #: the log index of each answer, by (process, subject, status)
    answers: dict[tuple[str, str | None, str], int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    d = tmp_path_factory.mktemp("answers-site")
    log = Log.open(f"sqlite:///{d / 'urne.db'}", key_dir=d / "keys", origin="answers.test/log")
    now = [_at("2026-02-01T09:00:00Z")]
    app = create_app(
        log, keyring=IssuerKeyring(d / "issuer-keys"), clock=lambda: now[0], rate_limit=None
    )
    stack = ExitStack()
    base = stack.enter_context(serving(app))
    civic = app.state.civic
    inst = Institution(officials=[])
    served = Served(base, log, now)

    def answer(
        pid: str, about: str | None, status: str, text: Any, when: str, cost: int | None = None
    ) -> None:
        now[0] = _at(when)  # the service holds an answer's date to its clock
        at = civic.append(authoring.answer(pid, inst.key, about, status, text, when, cost=cost))
        served.answers[(pid, about, status)] = at

    open_in(
        civic,
        inst.process(
            "trees",
            "petition",
            rule={"threshold": 3},
            title=_title("Plant trees on the ring road", "Planter des arbres sur le boulevard"),
            answers={"by": "2026-06-30T00:00:00Z", "proposals": []},
        ),
    )
    vote = [
        _proposal("tram", "A tram line", "Une ligne de tram"),
        _proposal("bus", "More buses", "Plus de bus"),
        _proposal("bikes", "Bike lanes", "Des pistes cyclables"),
    ]
    open_in(
        civic,
        inst.process(
            "square",
            "vote",
            proposals=vote,
            title=_title("Getting to the square", "Aller à la place"),
            answers={"by": "2026-05-31T00:00:00Z", "proposals": ["tram", "bus"]},
        ),
    )
    open_in(
        civic,
        inst.process(
            "plan",
            "budget",
            proposals=[
                _proposal("park", "A park", "Un parc", 600),
                _proposal("bench", "Benches", "Des bancs", 200),
            ],
            title=_title("The 2026 budget", "Le budget 2026"),
        ),
    )
    open_in(
        civic,
        inst.process(
            "later",
            "vote",
            title=_title("Later", "Plus tard"),
            answers={"by": "2026-12-01T00:00:00Z", "proposals": ["a"]},
        ),
    )
    now[0] = _at("2026-03-01T10:00:00Z")
    for _ in range(3):
        civic.append(Citizen.enrol(inst, "trees").ballot())
    for choice in (["tram"], ["bus"], ["tram"]):
        civic.append(Citizen.enrol(inst, "square").ballot(choice))
    answer(
        "trees",
        None,
        "in_study",
        {"fr": "Le conseil étudie la demande.", "en": "The council studies the request."},
        "2026-04-01T09:00:00Z",
    )
    answer(
        "trees",
        None,
        "accepted",
        {"fr": "Le conseil plantera 300 arbres.", "en": "The council will plant 300 trees."},
        "2026-05-02T14:30:00Z",
        cost=250000,
    )
    answer("square", "bikes", "in_study", "Les pistes sont à l'étude.", "2026-05-10T08:00:00Z")
    answer("square", "tram", "rejected", {"en": "A tram costs too much."}, "2026-06-15T16:00:00Z")
    answer("plan", "park", "accepted", "Le parc sera fait.", "2026-06-20T10:00:00Z", cost=600)
    now[0] = READING
    log.catch_up()
    try:
        yield served
    finally:
        stack.close()
        log.close()


# -- without a browser ------------------------------------------------------------------------


def _get(url: str, lang: str = "en") -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(
        url, headers={"Accept-Language": lang, "Accept": "text/html,*/*;q=0.8"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.status, dict(r.headers.items()), r.read().decode()


class _Visible(HTMLParser):
    """The text a reader sees (no scripts, no attributes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _read(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    # ASCII white space only: French keeps its no-break spaces
    return re.sub(r"[ \t\r\n]+", " ", "".join(parser.parts)).strip()


def _section(page: str) -> str:
    """The answers section of a page, as HTML."""
    start = page.index('<section id="answers"')
    return page[start : page.index("</section>", start)]


def _items(page: str) -> dict[str, tuple[str, str]]:
    """Each answered or due subject of the section: its state and its text."""
    items = re.findall(
        r'<li class="answer" data-about="([^"]*)" data-state="(\w+)">(.*?)</li>',
        _section(page),
        re.S,
    )
    return {about: (state, _read(body)) for about, state, body in items}


def _link(index: int) -> str:
    return f'<a href="/log/entries/{index}">{index}</a>'


def test_the_petition_answered_on_time_then_decided(served: Served) -> None:
    first = served.answers[("trees", None, "in_study")]
    last = served.answers[("trees", None, "accepted")]
    says = {
        "en": [
            "The institution's answers",
            "The institution promised to answer by June 30, 2026, 12:00" + NNBSP + "AM UTC; "
            "that date has passed.",
            "The petition itself",
            "Answered on time",
            "Status: accepted",
            "The council will plant 300 trees.",
            "cost 250,000",
            f"answered on May 2, 2026, 2:30{NNBSP}PM UTC, at log index {last}",
            f"Earlier answer: under study on April 1, 2026, 9:00{NNBSP}AM UTC, "
            f"at log index {first}.",
        ],
        "fr": [
            "Les réponses de l'institution",
            "L'institution a promis de répondre d'ici le 30 juin 2026, 00:00 UTC"
            f"{NBSP}; cette date est passée.",
            "La pétition elle-même",
            "Répondu dans les délais",
            f"Statut{NBSP}: acceptée",
            "Le conseil plantera 300 arbres.",
            f"coût{NBSP}: 250{NNBSP}000",
            f"réponse du 2 mai 2026, 14:30 UTC, à l'index {last} du journal",
            f"Réponse précédente{NBSP}: à l'étude le 1 avril 2026, 09:00 UTC, "
            f"à l'index {first} du journal.",
        ],
    }
    for lang in LANGUAGES:
        status, headers, page = _get(f"{served.url}/p/trees", lang)
        assert status == 200
        assert headers["content-security-policy"] == CSP
        assert headers["content-language"] == lang
        items = _items(page)
        assert list(items) == [""]  # the petition itself, once
        state, text = items[""]
        assert state == "answered"
        for said in says[lang]:
            assert said in _read(_section(page)), said
        other = {"en": "Le conseil", "fr": "The council"}[lang]
        assert other not in text
        assert _link(last) in _section(page) and _link(first) in _section(page)
        assert 'data-state="late"' not in page and "answers-also" not in page


def test_the_vote_answered_late_missing_and_unpromised(served: Served) -> None:
    late = served.answers[("square", "tram", "rejected")]
    extra = served.answers[("square", "bikes", "in_study")]
    says = {
        "en": {
            "tram": ["A tram line", "Answered late, after the deadline", "Status: rejected"],
            "bus": ["More buses", "Not answered by the deadline"],
            "bikes": ["Bike lanes", "Status: under study", "Les pistes sont à l'étude."],
        },
        "fr": {
            "tram": [
                "Une ligne de tram",
                "Répondu en retard, après l'échéance",
                f"Statut{NBSP}: rejetée",
            ],
            "bus": ["Plus de bus", "Sans réponse à l'échéance"],
            "bikes": [
                "Des pistes cyclables",
                f"Statut{NBSP}: à l'étude",
                "Les pistes sont à l'étude.",
            ],
        },
    }
    for lang in LANGUAGES:
        _, _, page = _get(f"{served.url}/p/square", lang)
        items = _items(page)
        # the promised ones in the manifest's order, then the unpromised one
        assert [(k, s) for k, (s, _) in items.items()] == [
            ("tram", "late"),
            ("bus", "overdue"),
            ("bikes", "also"),
        ]
        for about, said in says[lang].items():
            for s in said:
                assert s in items[about][1], (about, s)
        # English only: the French page shows it, marked as English
        assert "A tram costs too much." in items["tram"][1]
        marked = ' lang="en"' if lang == "fr" else ""
        assert f'<blockquote class="answer-text"{marked}><p>A tram costs too much.' in page
        assert '<blockquote class="answer-text"><p>Les pistes' in page  # a plain string
        assert _link(late) in _section(page) and _link(extra) in _section(page)
        assert "answer-cost" not in _section(page)
        text = _read(_section(page))
        also = {
            "en": "Also answered, though the manifest did not promise it:",
            "fr": f"Également répondu, sans que le manifeste l'ait promis{NBSP}:",
        }[lang]
        assert also in text
        # the bus: no answer, so nothing of one
        assert "Status" not in items["bus"][1] and "Statut" not in items["bus"][1]


def test_answers_with_no_promise(served: Served) -> None:
    index = served.answers[("plan", "park", "accepted")]
    for lang in LANGUAGES:
        _, _, page = _get(f"{served.url}/p/plan", lang)
        items = _items(page)
        assert [(k, s) for k, (s, _) in items.items()] == [("park", "also")]
        text = _read(_section(page))
        want = {
            "en": [
                "The manifest promises no answer; the institution answered all the same:",
                "A park",
                "Status: accepted",
                "cost 600",
            ],
            "fr": [
                f"Le manifeste ne promet aucune réponse{NBSP}; l'institution a répondu "
                f"tout de même{NBSP}:",
                "Un parc",
                f"Statut{NBSP}: acceptée",
                f"coût{NBSP}: 600",
            ],
        }[lang]
        for said in want:
            assert said in text, said
        # no due or late wording
        for word in (
            "promised to answer",
            "on time",
            "late",
            "deadline",
            "délais",
            "retard",
            "échéance",
            "promis de",
        ):
            assert word not in text, word
        assert _link(index) in _section(page)
        assert "answers-due" not in page


def test_a_promise_not_due_yet_and_pages_without_answers(served: Served) -> None:
    for lang in LANGUAGES:
        _, _, page = _get(f"{served.url}/p/later", lang)
        items = _items(page)
        assert [(k, s) for k, (s, _) in items.items()] == [("a", "pending")]
        said = {"en": "Not answered yet", "fr": "Pas encore de réponse"}[lang]
        assert said in items["a"][1]
        due = {
            "en": f"The institution promised to answer by December 1, 2026, 12:00{NNBSP}AM UTC.",
            "fr": "L'institution a promis de répondre d'ici le 1 décembre 2026, 00:00 UTC.",
        }[lang]
        assert due in _read(_section(page))


def test_the_states_follow_the_service_clock(served: Served) -> None:
    """Before the vote's deadline its missing answer is pending, after it
    overdue; an answer dated after the deadline is late whenever it is read."""
    try:
        served.now[0] = _at("2026-05-30T23:59:59Z")
        page = _get(f"{served.url}/p/square")[2]
        assert [(k, s) for k, (s, _) in _items(page).items()][:2] == [
            ("tram", "late"),
            ("bus", "pending"),
        ]
        assert "The institution promised to answer by May 31, 2026, 12:00" in _read(page)
        assert "that date has passed" not in page
        served.now[0] = _at("2026-05-31T00:00:01Z")
        page = _get(f"{served.url}/p/square")[2]
        assert 'data-about="bus" data-state="overdue"' in page
        assert "that date has passed" in page
    finally:
        served.now[0] = READING


def test_no_english_is_left_on_the_french_pages(served: Served) -> None:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    english = [
        m.id
        for m in catalog
        if isinstance(m.id, str)
        and isinstance(m.string, str)
        and m.string != m.id
        and not re.search(r"[%{<]", m.id)
        and len(m.id) >= 4
    ]
    for pid in PIDS:
        fr = _read(_section(_get(f"{served.url}/p/{pid}", "fr")[2]))
        fr = fr.replace("A tram costs too much.", "")  # the institution wrote it in English
        left = [w for w in english if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", fr)]
        assert left == [], f"English left on the French /p/{pid}: {left}"
        assert not re.search(r"[^\u00a0\u202f] [:;?!]", fr), pid


# -- in a browser -------------------------------------------------------------------------


def _open(new_page: Any, served: Served, pid: str, lang: str, width: int = 390) -> Any:
    page = new_page(lang, width=width)
    response = page.goto(f"{served.url}/p/{pid}")
    assert response.status == 200
    return page


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("pid", PIDS)
def test_axe_finds_no_violation_on_a_phone(
    new_page: Any, served: Served, artifacts: Path, pid: str, lang: str
) -> None:
    page = _open(new_page, served, pid, lang)
    assert page.locator("#answers").is_visible()
    result = run_axe(page)
    assert result["violations"] == []
    assert result["passes"] > 20  # axe ran its rules on a real page
    shots = artifacts / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"answers-{pid}-{lang}-390.png"), full_page=True)
    page.locator("#answers").screenshot(path=str(shots / f"answers-{pid}-{lang}-390-section.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_states_are_words_in_the_browser(new_page: Any, served: Served, lang: str) -> None:
    page = _open(new_page, served, "square", lang)
    badges = page.locator("#answers .answer-badge").all_inner_texts()
    assert (
        badges
        == {
            "en": ["Answered late, after the deadline", "Not answered by the deadline"],
            "fr": ["Répondu en retard, après l'échéance", "Sans réponse à l'échéance"],
        }[lang]
    )
    headings = page.locator("#answers h3").all_inner_texts()
    assert (
        headings
        == {
            "en": ["A tram line", "More buses", "Bike lanes"],
            "fr": ["Une ligne de tram", "Plus de bus", "Des pistes cyclables"],
        }[lang]
    )


@pytest.mark.browser
def test_the_keyboard_reaches_the_answers(new_page: Any, served: Served) -> None:
    """Tab alone reaches each answer's log index, in order, each stop showing
    where the focus is."""
    page = _open(new_page, served, "trees", "fr")
    wanted = [
        f'#answers a[href="/log/entries/{served.answers[("trees", None, s)]}"]'
        for s in ("accepted", "in_study")
    ]
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focus = page.evaluate(
            """(wanted) => {
              const e = document.activeElement, s = getComputedStyle(e);
              const hit = wanted.find((w) => e === document.querySelector(w));
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
    # and the section is in view once its link has the focus
    assert page.evaluate(
        "(() => { const r = document.activeElement.getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= innerHeight; })()"
    )
