"""The pages in English and French, without a browser: which language a
request gets, the switch and its cookie, the catalogue against what the code
and templates say, every page in both languages with no English left on a
French one, numbers and dates for the language, and the 404 page."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from tests.support.civic import Institution, open_in
from tests.support.paths import ROOT
from urne.api import i18n
from urne.api.main import create_app
from urne.api.web import CSP, local_path
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
PO = ROOT / "api" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
POT = ROOT / "api" / "locale" / "messages.pot"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
NNBSP = "\u202f"


# -- which language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cookie", "header", "want"),
    [
        (None, None, None, "en"),
        (None, None, "", "en"),
        (None, None, "fr", "fr"),
        (None, None, "fr-CA", "fr"),
        (None, None, "FR-be;q=0.8", "fr"),
        (None, None, "de-DE,de;q=0.9,fr;q=0.8,en;q=0.7", "fr"),  # no German: the next one
        (None, None, "en;q=0.5,fr;q=0.9", "fr"),  # q-values, not order
        (None, None, "fr;q=0.5,en;q=0.5", "fr"),  # a tie: the header's order
        (None, None, "fr;q=0,en", "en"),  # q=0: not that one
        (None, None, "fr;q=0", "en"),
        (None, None, "fr;q=abc,en;q=0.1", "en"),  # a q that is no number counts as 0
        (None, None, "fr;q=2", "en"),  # nor one above 1
        (None, None, "*", "en"),
        (None, None, "de, it", "en"),  # nothing Urne speaks: English
        (None, None, ",,;;q=1,fr", "fr"),
        (None, "fr", "en", "fr"),  # the cookie over the browser
        (None, "de", "fr", "fr"),  # a cookie for no catalogue is no choice
        ("en", "fr", "fr", "en"),  # the query over everything
        ("fr", None, "en", "fr"),
        ("FR", None, None, "fr"),
        ("de", None, None, "en"),  # unknown: English, unless something else chose
        ("de", None, "fr", "fr"),
        ("", "fr", None, "fr"),
        ("x" * 100, None, None, "en"),
    ],
)
def test_the_language_is_negotiated(
    query: str | None, cookie: str | None, header: str | None, want: str
) -> None:
    assert i18n.negotiate(query, cookie, header) == want


def test_accepted_languages_in_the_order_wanted() -> None:
    assert i18n.accepted_languages("da, en-GB;q=0.8, en;q=0.7, fr;q=0.9") == ["da", "fr", "en"]
    assert i18n.accepted_languages("ca-ES,ca;q=0.9") == ["ca"]
    assert i18n.accepted_languages("fr;q=0.000, *;q=0.5, 12;q=1") == []
    assert len(i18n.accepted_languages(",".join(["fr"] * 10_000))) == 1


def test_the_readers_languages_for_what_institutions_wrote() -> None:
    assert i18n.preferences("ca", "fr", "de;q=0.5,es") == ["ca", "fr", "es", "de"]
    assert i18n.preferences(None, None, None) == []


def test_each_rendering_has_its_own_language() -> None:
    """The language is a context variable: threads rendering at once in two
    languages never see each other's."""
    barrier = threading.Barrier(8)
    seen: list[tuple[str, str]] = []

    def render(lang: str) -> None:
        with i18n.using(lang):
            barrier.wait()
            seen.append((lang, i18n.gettext("Take part")))

    threads = [threading.Thread(target=render, args=("fr" if k % 2 else "en",)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(seen)) == [("en", "Take part"), ("fr", "Participer")]
    assert i18n.current() == "en"  # and nothing stays set after
    with pytest.raises(ValueError, match="no catalogue"):
        i18n.using("de").__enter__()


# -- numbers, dates, plurals -----------------------------------------------------------------


def test_numbers_and_dates_follow_the_language() -> None:
    with i18n.using("fr"):
        assert i18n.format_number(1234567) == f"1{NNBSP}234{NNBSP}567"
        assert i18n.format_moment("2026-01-01T00:00:00Z") == "1 janvier 2026, 00:00 UTC"
        assert i18n.format_moment(datetime(2026, 9, 1, 8, 5, tzinfo=UTC)).startswith(
            "1 septembre 2026"
        )
        assert i18n.format_chart_time(datetime(2026, 6, 1, 9, tzinfo=UTC)) == "1 juin, 09:00"
        assert i18n.status_label("closed") == "clos"
        assert i18n.kind_label("budget") == "budget participatif"
    with i18n.using("en"):
        assert i18n.format_number(1234567) == "1,234,567"
        assert i18n.format_moment("2026-12-31T23:59:59Z").startswith("December 31, 2026, 11:59")
        assert i18n.status_label("upcoming") == "upcoming"


def test_plural_phrases_for_the_scripts() -> None:
    """One text per CLDR category, as Intl.PluralRules names them; the server
    picks the same one for the same count."""
    with i18n.using("fr"):
        forms = i18n.live_strings()["vote_total"]
        assert isinstance(forms, dict) and set(forms) == {"one", "many", "other"}
        approvals = i18n.live_strings()["approvals"]
        assert str(i18n.fill(approvals, 0, attr="count", approvals=0)).endswith(" soutien")
        assert str(i18n.fill(approvals, 2, attr="count", approvals=2)).endswith(" soutiens")
        reached = i18n.live_strings()["petition_reached"]
        html = str(i18n.fill(reached, 1500, total=1500, threshold=1500, index="17"))
        assert html == (
            f'<span data-field="total">1{NNBSP}500</span> signatures, seuil de '
            f'<span data-field="threshold">1{NNBSP}500</span> atteint à l&#39;index '
            '<span data-field="index">17</span> du journal'
        )
    with i18n.using("en"):
        forms = i18n.live_strings()["vote_total"]
        assert isinstance(forms, dict) and set(forms) == {"one", "other"}
        assert str(i18n.fill(forms, 1, attr="count", total=1)).endswith(" vote")
        assert str(i18n.fill(forms, 0, attr="count", total=0)).endswith(" votes")
        # what is filled in is text, escaped
        assert str(i18n.fill("%(x)s & %%", x="<b>")) == (
            '<span data-field="x">&lt;b&gt;</span> &amp; %'
        )


# -- the catalogue -----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def _extracted(tmp_path: Path) -> Any:
    """What ``pybabel extract -F babel.cfg`` finds in the repository today."""
    out = tmp_path / "extracted.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(out), str(ROOT)]
    )
    with out.open("rb") as f:
        return read_po(f)


def _key(message: Any) -> tuple[str | None, str]:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return message.context, msgid


def test_every_message_is_translated_into_french(tmp_path: Path) -> None:
    extracted = {_key(m): m for m in _extracted(tmp_path) if m.id}
    assert len(extracted) > 150  # the extraction found the templates and the code
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    assert catalog.num_plurals == 2 and catalog.plural_expr == "(n > 1)"
    translated = {_key(m): m for m in catalog if m.id}
    problems = []
    for key, message in extracted.items():
        entry = translated.get(key)
        forms = (
            ()
            if entry is None
            else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        )
        if entry is None:
            problems.append(f"missing: {key}")
        elif entry.fuzzy or not all(forms):
            problems.append(f"untranslated or fuzzy: {key}")
        elif isinstance(message.id, tuple) != isinstance(entry.id, tuple):
            problems.append(f"plural in one and not the other: {key}")
        else:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            want = {p for i in ids for p in _PLACEHOLDER.findall(i)} - {"%(num)s"}
            for form in forms:
                got = set(_PLACEHOLDER.findall(form)) - {"%(num)s"}
                if got != want:
                    problems.append(f"placeholders {sorted(got)} for {sorted(want)}: {key}")
    stale = sorted(str(k) for k in translated.keys() - extracted.keys())
    assert problems == []
    assert stale == [], "in messages.po but no longer in the code (pybabel update)"
    assert [str(e) for m in catalog for e in m.check(catalog)] == []


def test_the_template_is_current(tmp_path: Path) -> None:
    extracted = {_key(m) for m in _extracted(tmp_path) if m.id}
    with POT.open("rb") as f:
        template = {_key(m) for m in read_po(f) if m.id}
    assert template == extracted, "api/locale/messages.pot: run pybabel extract"


def test_the_catalogue_is_in_the_package() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = data["package-data"]["urne.api"]
    assert "locale/*/LC_MESSAGES/*.po" in shipped and "locale/*.pot" in shipped
    assert any(d.startswith("babel") for d in tomllib.loads(
        (ROOT / "pyproject.toml").read_text()
    )["project"]["optional-dependencies"]["server"])  # fmt: skip


def test_a_fuzzy_translation_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As msgfmt: a fuzzy entry (a guess pybabel update made) shows the English."""
    po = tmp_path / "fr" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    text = PO.read_text(encoding="utf-8").replace(
        'msgid "Take part"', '#, fuzzy\nmsgid "Take part"', 1
    )
    po.write_text(text, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        with i18n.using("fr"):
            assert i18n.gettext("Take part") == "Take part"
            assert i18n.gettext("Check a receipt") == "Vérifier un reçu"
    finally:
        i18n.translations.cache_clear()


# -- the pages in both languages --------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TestClient, CivicRecord, Institution]]:
    log = Log.open(f"sqlite:///{tmp_path / 'u.db'}", key_dir=tmp_path / "k", origin="i18n.test/log")
    app = create_app(
        log, keyring=IssuerKeyring(tmp_path / "ik"), clock=lambda: NOW, rate_limit=None
    )
    with TestClient(app) as client:
        civic: CivicRecord = app.state.civic
        inst = Institution()
        open_in(civic, inst.process("pet", "petition", rule={"threshold": 1500}))
        civic.append(inst.paper("pet", "market", signatures=1234))
        open_in(civic, inst.process("vote", "vote"))
        civic.append(inst.paper("vote", "hall", counts={"a": 1, "b": 3, "c": 0}))
        open_in(civic, inst.process("budget", "budget"))
        open_in(civic, inst.process("soon", "vote", opens="2026-09-01T08:00:00Z"))
        civic.append(inst.close("vote"))
        through = civic.log.size - 1
        civic.append(inst.result("vote", through, civic.tally("vote", through)))
        yield client, civic, inst
    log.close()


class _VisibleText(HTMLParser):
    """The text a reader sees: no scripts, no code, no attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code", "pre", "title"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "pre", "title"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _visible(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    # ASCII white space only: French numbers hold no-break spaces
    return re.sub(r"[ \t\r\n]+", " ", "".join(parser.parts)).strip()


PAGES = [
    *("/", "/p/pet", "/p/vote", "/p/budget", "/p/soon", "/receipt"),
    *("/p/nothing", "/nope", "/docs"),
]


def _english_words() -> list[str]:
    """Messages French says otherwise, as plain words (no placeholder, no markup)."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    words = []
    for m in catalog:
        plain = m.id and isinstance(m.id, str) and isinstance(m.string, str)
        if plain and m.string != m.id and not re.search(r"[%{<]", m.id) and len(m.id) >= 4:
            words.append(m.id)
    return words


def test_every_page_in_both_languages(world: tuple[TestClient, CivicRecord, Institution]) -> None:
    client, _, _ = world
    english = _english_words()
    assert {"Take part", "Processes", "Opens", "Final result"} <= set(english)
    for path in PAGES:
        pages = {}
        for lang in ("en", "fr"):
            r = client.get(path, headers={"Accept-Language": lang, "Accept": BROWSER})
            assert r.status_code == (404 if path in ("/p/nothing", "/nope") else 200), path
            assert f'<html lang="{lang}">' in r.text, (path, lang)
            assert r.headers["content-language"] == lang
            assert r.headers["content-security-policy"] == CSP
            assert "Accept-Language" in r.headers["vary"]
            pages[lang] = _visible(r.text)
        shown = [w for w in english if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", pages["en"])]
        assert len(shown) >= 5, (path, shown)  # the English page says them
        left = [w for w in shown if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", pages["fr"])]
        assert left == [], f"English left on the French {path}: {left}"


def test_key_sentences_in_french(world: tuple[TestClient, CivicRecord, Institution]) -> None:
    client, civic, _ = world
    fr = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
    home = _visible(client.get("/", headers=fr).text)
    assert "Processus" in home and "budget participatif" in home and "à venir" in home
    assert "Ouverture" in home and "1 janvier 2026, 00:00 UTC" in home
    pet = _visible(client.get("/p/pet", headers=fr).text)
    t = civic.tally("pet")
    assert f"1{NNBSP}234 signatures, seuil de 1{NNBSP}500 pas encore atteint" in pet
    assert t["total"] == 1234 and not t["reached"]
    assert "Participer" in pet and "Signatures au fil du temps" in pet
    vote = _visible(client.get("/p/vote", headers=fr).text)
    assert "Résultat définitif" in vote and "clos" in vote and "Participer" not in vote
    assert "0 bulletin en ligne, plus les lots de bulletins papier" in vote  # 0 is singular
    budget = _visible(client.get("/p/budget", headers=fr).text)
    spent = civic.tally("budget")["spent"]
    assert 0 < spent < 1000
    assert f"Ensemble, ils coûtent {spent} sur un budget de 1{NNBSP}000." in budget
    assert "Projets retenus" in budget and "Règle de décompte" in budget
    soon = _visible(client.get("/p/soon", headers=fr).text)
    assert "Ce processus ouvre le 1 septembre 2026, 08:00 UTC." in soon
    assert "Participer" not in soon
    docs = client.get("/docs", headers=fr).text
    assert "<title>Documentation de l'API · Urne</title>" in docs
    assert '<div id="swagger-ui" lang="en">' in docs  # Swagger UI itself is in English


def test_the_strings_block_is_data_in_the_pages_language(
    world: tuple[TestClient, CivicRecord, Institution],
) -> None:
    client, _, _ = world
    for lang, word in (("en", "Valid receipt"), ("fr", "Reçu valide")):
        html = client.get("/receipt", headers={"Accept-Language": lang}).text
        block = re.search(
            r'<script type="application/json" id="urne-strings">(.*?)</script>', html, re.S
        )
        assert block is not None
        import json

        strings = json.loads(block.group(1))
        assert strings["valid_title"] == word
        assert set(strings) == set(i18n.receipt_strings())
    html = client.get("/p/pet", headers={"Accept-Language": "fr"}).text
    assert '"petition_reached": {"many":' in html or '"petition_reached": {"one":' in html


def test_status_sets_what_the_page_offers(tmp_path: Path) -> None:
    """Open: a link to take part. Upcoming: when it opens. Ended or closed: neither."""
    log = Log.open(f"sqlite:///{tmp_path / 'u.db'}", key_dir=tmp_path / "k", origin="s.test/log")
    try:
        when = {"upcoming": datetime(2025, 12, 1, tzinfo=UTC), "ended": datetime(2027, 1, 2)}
        when["open"] = NOW
        seen = {}
        for status, clock in when.items():
            app = create_app(
                log,
                keyring=IssuerKeyring(tmp_path / "ik"),
                clock=lambda c=clock: c.replace(tzinfo=UTC),
                rate_limit=None,
            )
            with TestClient(app) as client:
                if "p" not in app.state.civic.process_ids():
                    open_in(app.state.civic, Institution().process("p", "petition"))
                html = client.get("/p/p").text
            seen[status] = (
                f'data-status="{status}"' in html,
                'id="take-part-link" class="button" href="/p/p/take-part"' in html,
                'id="opens-on"' in html,
            )
        assert seen == {
            "upcoming": (True, False, True),
            "ended": (True, False, False),
            "open": (True, True, False),
        }
    finally:
        log.close()


# -- the switch ---------------------------------------------------------------------------------


def test_the_switch_sets_a_cookie_and_goes_back(
    world: tuple[TestClient, CivicRecord, Institution],
) -> None:
    client, _, _ = world
    r = client.get("/lang/fr?next=/p/vote%3Fx%3D1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/p/vote?x=1"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("lang=fr;")
    for part in ("Max-Age=31536000", "Path=/", "SameSite=lax", "HttpOnly"):
        assert part in cookie, cookie
    assert r.headers["cache-control"] == "no-store"
    page = client.get("/p/vote")  # the client keeps the cookie
    assert '<html lang="fr">' in page.text
    r = client.get("/lang/de?next=/receipt", follow_redirects=False)
    assert r.headers["set-cookie"].startswith("lang=en;")  # unknown: English
    assert r.headers["location"] == "/receipt"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/p/x",
        "https://evil.example",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " /p/x",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_the_switch_never_leaves_the_site(
    world: tuple[TestClient, CivicRecord, Institution], target: str
) -> None:
    client, _, _ = world
    assert local_path(target) == "/"
    r = client.get("/lang/fr", params={"next": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_local_paths_are_kept() -> None:
    for target in ("/", "/p/vote", "/receipt?index=3", "/p/a%20b", "/p/caf%C3%A9"):
        assert local_path(target) == target


def test_every_page_links_both_languages(
    world: tuple[TestClient, CivicRecord, Institution],
) -> None:
    client, _, _ = world
    html = client.get("/receipt?index=3&lang=fr").text
    assert (
        '<a href="/lang/en?next=/receipt%3Findex%3D3" lang="en" hreflang="en">English</a>' in html
    )
    assert 'lang="fr" hreflang="fr" aria-current="true">Français</a>' in html


# -- the 404 page ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "page"),
    [
        (BROWSER, True),
        ("text/html", True),
        ("application/json, text/html;q=0.5", False),
        ("application/json", False),
        ("*/*", False),
        ("text/html;q=0", False),
        (None, False),
    ],
)
def test_an_unknown_path_is_a_page_for_browsers_and_json_for_the_api(
    world: tuple[TestClient, CivicRecord, Institution], accept: str | None, page: bool
) -> None:
    client, _, _ = world
    headers = {"Accept-Language": "fr"}
    if accept is not None:
        headers["Accept"] = accept
    r = client.get("/no/such/thing", headers=headers)
    assert r.status_code == 404
    if page:
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert '<html lang="fr">' in r.text and "Page introuvable" in r.text
        assert "/no/such/thing" in _visible(r.text)
        assert "<script>" not in r.text
    else:
        assert r.json() == {"error": {"code": "not_found", "message": "Not Found"}}


def test_the_404_page_escapes_the_path(world: tuple[TestClient, CivicRecord, Institution]) -> None:
    client, _, _ = world
    r = client.get("/<script>alert(1)</script>", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert "<script>alert" not in r.text and "&lt;script&gt;" in r.text


def test_an_issuance_only_service_has_the_page_too(tmp_path: Path) -> None:
    with Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="d/log") as log:
        app = create_app(casting=False, rate_limit=None, roll=log.engine)
        with TestClient(app) as client:
            r = client.get("/nope", headers={"Accept": BROWSER, "Accept-Language": "fr"})
            assert r.status_code == 404 and "Page introuvable" in r.text
            # no link to pages this service does not serve
            assert 'href="/receipt"' not in r.text and 'href="/docs"' in r.text
            assert client.get("/nope").json()["error"]["code"] == "not_found"
