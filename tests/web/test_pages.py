"""The process pages and the list, in Chromium: every number on the page is the
recount the civic record gives, and the live counts follow new entries; the
bars and the chart stay readable on a phone; the language switch works."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.site import Site
from urne.api.web import CHART_GROUP

pytestmark = pytest.mark.browser

NARROW_NBSP = "\u202f"


def _text(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.inner_text()).strip()


def _number(text: str) -> int:
    """A count as the page shows it, thousands separators and all."""
    digits = re.sub(r"[\s,.\u202f\u00a0]", "", text)
    assert digits.isdigit(), text
    return int(digits)


def test_the_list_shows_every_process_with_its_participants(page: Any, site: Site) -> None:
    page.goto(site.url + "/")
    cards = page.locator("ul.processes > li.card")
    assert cards.count() == len(site.civic.process_ids()) >= 3
    for pid in ("petition", "vote", "budget"):
        card = page.locator(f'li.card[data-process="{pid}"]')
        shown = card.locator('[data-count="participants"]').inner_text()
        assert _number(shown) == site.civic.tally(pid)["ballots"]
        assert card.locator("h2 a").get_attribute("href") == f"/p/{pid}"
        # machine-readable dates next to the ones people read
        opens = site.civic.process(pid).process.opens
        assert card.locator("time").first.get_attribute("datetime") == opens
        shown_date = card.locator("time").first.inner_text()
        assert shown_date.startswith("January 1, 2026") and shown_date.endswith(" UTC")
    status = page.locator('li.card[data-process="vote"] .status')
    assert status.inner_text() == "closed" and status.get_attribute("data-status") == "closed"
    assert _number(_text(page, "#log-size")) == site.log.size
    assert _text(page, "#verifier-key") == site.log.verifier.vkey


def test_petition_page_progress_and_chart(page: Any, site: Site) -> None:
    page.goto(site.url + "/p/petition")
    t = site.civic.tally("petition")
    assert (t["signatures"], t["paper_signatures"], t["total"]) == (
        len(site.ballots["petition"]),
        2,
        len(site.ballots["petition"]) + 2,
    )
    for k in ("total", "threshold", "signatures", "paper_signatures"):
        assert _text(page, f'#counts [data-field="{k}"]') == str(t[k])
    bar = page.locator("#petition-progress")
    assert int(bar.get_attribute("max")) == t["threshold"]
    assert int(bar.get_attribute("value")) == min(t["total"], t["threshold"])
    assert t["reached"]
    total, threshold, index = t["total"], t["threshold"], t["reached_at"]
    assert _text(page, "#reached") == (
        f"{total} signatures, threshold {threshold} reached at log index {index}"
    )
    # too few signatures for a chart: no point may stand for one person's
    assert t["total"] < CHART_GROUP
    assert page.locator("#signature-chart").count() == 0
    assert str(CHART_GROUP) in _text(page, "#no-chart")


@pytest.mark.parametrize("width", [390, 1280])
def test_the_chart_is_legible_at_any_width(
    new_page: Any, site: Site, chart_petition: str, width: int
) -> None:
    """The chart spans the column, and its labels keep the size of the text
    around them (a scaled-down SVG once printed them 5 pixels high at 390)."""
    page = new_page("fr", width=width)
    page.goto(f"{site.url}/p/{chart_petition}")
    t = site.civic.tally(chart_petition)
    chart = page.locator("#signature-chart")
    box = chart.bounding_box()
    assert box["width"] >= min(width - 80, 600) and box["height"] >= 150
    labels = page.locator(".chart .label")
    assert labels.count() == 4
    for i in range(labels.count()):
        label = labels.nth(i)
        size = float(label.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
        rect = label.bounding_box()
        assert size >= 11 and rect["height"] >= 11, (label.inner_text(), size, rect)
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= width
    # the axis in French, with the threshold's thousands separator
    assert (
        labels.first.inner_text()
        == f"1{NARROW_NBSP}500"
        == f"{t['threshold']:,}".replace(",", NARROW_NBSP)
    )
    assert "seuil" in _text(page, ".chart .legend")
    assert page.locator("#chart-points tbody tr").count() >= 1
    # the accessible name of the drawing says what it shows
    title = page.locator("#signature-chart title").text_content()
    assert title.startswith("Signatures au fil du temps")


@pytest.mark.parametrize("width", [390, 1280])
def test_vote_page_counts_bars_winner_and_result(new_page: Any, site: Site, width: int) -> None:
    page = new_page("en", width=width)
    page.goto(site.url + "/p/vote")
    t = site.civic.tally("vote")
    top = max(t["total"].values())
    for pid in ("a", "b", "c"):
        row = page.locator(f'#vote-counts li[data-proposal="{pid}"]')
        for k in ("counts", "paper_counts", "total"):
            assert row.locator(f'[data-count="{k}"]').inner_text() == str(t[k][pid])
        assert ("winner" in (row.get_attribute("class") or "")) == (pid in t["winners"])
        assert row.locator('[data-badge="winner"]').is_visible() == (pid in t["winners"])
        # the bar: its length in proportion to the votes, never 0 px for a vote
        fill = row.locator("rect.fill").bounding_box()
        track = row.locator("rect.track").bounding_box()
        assert track["width"] >= min(width - 80, 900)  # the column, at most 960 px
        assert fill["width"] > 0
        assert fill["width"] / track["width"] == pytest.approx(t["total"][pid] / top, abs=0.01)
    assert t["winners"] == ["a", "b"]  # 3 online + 1 paper, 1 online + 3 paper: a tie
    assert _text(page, "#status") == "closed"
    assert page.locator("#take-part-link").count() == 0  # closed: nothing to take part in
    st = site.civic.process("vote")
    links = page.locator("#results a").all_inner_texts()
    assert links == [str(i) for i, _ in st.results]
    assert "final" in _text(page, "#live-note")


def test_budget_page_states_the_selected_projects_and_their_cost(page: Any, site: Site) -> None:
    page.goto(site.url + "/p/budget")
    t = site.civic.tally("budget")
    p = site.civic.process("budget").process
    cost = {q.id: q.cost for q in p.proposals}
    title = {q.id: q.title["en"] for q in p.proposals}
    assert _number(_text(page, '#budget-outcome [data-field="spent"]')) == t["spent"]
    assert _number(_text(page, '#budget-outcome [data-field="budget"]')) == t["budget"] == 1000
    assert _text(page, '#budget-outcome [data-field="budget"]') == "1,000"
    assert int(page.locator("#budget-meter").get_attribute("value")) == t["spent"]
    # the selected projects, plainly, with their cost, adding up to what is spent
    chosen = page.locator("#budget-selected li[data-proposal]")
    assert sorted(chosen.evaluate_all("els => els.map(e => e.dataset.proposal)")) == t["selected"]
    for i in range(chosen.count()):
        li = chosen.nth(i)
        pid = li.get_attribute("data-proposal")
        assert li.locator(".name").inner_text() == title[pid]
        assert _number(li.locator(".num").inner_text()) == cost[pid]
    assert sum(cost[pid] for pid in t["selected"]) == t["spent"]
    selected = page.locator("#budget-counts li.selected").evaluate_all(
        "els => els.map(e => e.dataset.proposal)"
    )
    assert sorted(selected) == t["selected"]
    for pid, n in t["approvals"].items():
        cell = page.locator(f'#budget-counts li[data-proposal="{pid}"] [data-count="approvals"]')
        assert cell.inner_text() == str(n)
        badge = page.locator(f'#budget-counts li[data-proposal="{pid}"] [data-badge="selected"]')
        assert badge.is_visible() == (pid in t["selected"])


def test_an_open_process_links_to_taking_part(page: Any, site: Site) -> None:
    for pid in ("petition", "budget"):
        page.goto(f"{site.url}/p/{pid}")
        assert _text(page, "#status") == "open"
        link = page.locator("#take-part-link")
        assert link.inner_text() == "Take part"
        assert link.get_attribute("href") == f"/p/{pid}/take-part"
        assert page.locator("#opens-on").count() == 0


def test_fingerprints_are_the_manifests(page: Any, site: Site) -> None:
    for pid in ("vote", "budget"):
        page.goto(site.url + f"/p/{pid}")
        p = site.civic.process(pid).process
        shown = {
            el.get_attribute("data-proposal"): el.inner_text()
            for el in page.locator("code.fingerprint").all()
        }
        assert shown == {q.id: q.fingerprint for q in p.proposals}
        assert all(re.fullmatch(r"[0-9a-f]{64}", f) for f in shown.values())


def test_the_language_switch_changes_every_page(new_page: Any, site: Site) -> None:
    """Without JavaScript: a link to /lang/fr, a cookie, back to the same page."""
    page = new_page("en")
    page.goto(site.url + "/receipt?index=3")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    assert page.locator("html").get_attribute("lang") == "en"
    switch = page.locator('nav.languages a[hreflang="fr"]')
    assert switch.inner_text() == "Français" and switch.get_attribute("lang") == "fr"
    switch.click()
    page.wait_for_url(site.url + "/receipt?index=3")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert _text(page, "h1") == "Vérifier un reçu"
    cookie = {c["name"]: c for c in page.context.cookies()}["lang"]
    assert (cookie["value"], cookie["path"], cookie["sameSite"]) == ("fr", "/", "Lax")
    assert cookie["httpOnly"]
    page.goto(site.url + "/p/vote")  # the cookie holds, whatever the browser asks for
    assert page.locator("html").get_attribute("lang") == "fr"
    assert _text(page, "#status") == "clos"
    assert page.locator('nav.languages a[aria-current="true"]').inner_text() == "Français"
    page.locator('nav.languages a[hreflang="en"]').click()
    page.wait_for_url(site.url + "/p/vote")
    assert _text(page, "#status") == "closed"


def test_the_scripts_words_come_from_the_page(new_page: Any, site: Site) -> None:
    """receipt.js says everything in the page's language, from its
    ``urne-strings`` block: a French page checks a receipt in French."""
    page = new_page("fr")
    page.goto(site.url + f"/receipt?index={site.ballots['vote'][0]}")
    page.wait_for_function("() => document.querySelector('#receipt-text').value.length > 0")
    page.click("#check")
    page.wait_for_selector("#verdict[data-result=valid]")
    assert page.locator("#verdict .title").inner_text().endswith("Reçu valide")
    detail = page.locator("#verdict .detail").inner_text()
    assert detail.startswith(f"L'entrée {site.ballots['vote'][0]} (bulletin du processus")
    steps = page.locator("#checks li").all_inner_texts()
    assert len(steps) == 4 and all(s and not s.startswith("step_") for s in steps)
    assert "Clé de confiance" in steps[1]
    page.fill("#trusted-key", "not a key")
    page.click("#check")
    page.wait_for_selector("#verdict[data-result=invalid]")
    assert page.locator("#verdict .title").inner_text().endswith("Non valide")
    assert "la clé de vérification" in page.locator("#verdict .detail").inner_text()
    assert page.evaluate("window.UrneStrings.missing") == []


@pytest.mark.slow
def test_live_counts_follow_new_signatures(page: Any, site: Site) -> None:
    page.goto(site.url + "/p/petition")
    before = int(_text(page, '#counts [data-field="total"]'))
    site.cast("petition")
    site.cast("petition")
    after = site.civic.tally("petition")
    assert after["total"] == before + 2
    # the page polls the tally every few seconds; wait for it
    page.wait_for_function(
        "n => document.querySelector('#counts [data-field=\"total\"]').textContent === String(n)",
        arg=after["total"],
        timeout=15000,
    )
    assert int(page.locator("#petition-progress").evaluate("e => e.value")) == min(
        after["total"], after["threshold"]
    )
    assert ("reached at log index" in _text(page, "#reached")) == after["reached"]
    assert page.evaluate("window.UrneStrings.missing") == []


@pytest.mark.slow
def test_live_counts_are_formatted_for_the_language(
    new_page: Any, site: Site, chart_petition: str
) -> None:
    """live.js writes numbers as the server does: 1 259 in French, with the
    narrow no-break space, and rebuilds the sentence in French."""
    page = new_page("fr", width=390)
    page.goto(f"{site.url}/p/{chart_petition}")
    total = site.civic.tally(chart_petition)["total"]
    assert total > 1000
    shown = _text(page, '#reached [data-field="total"]')
    assert shown == f"{total:,}".replace(",", NARROW_NBSP)
    site.cast(chart_petition)
    want = f"{total + 1:,}".replace(",", NARROW_NBSP)
    page.wait_for_function(
        "s => document.querySelector('#reached [data-field=\"total\"]').textContent === s",
        arg=want,
        timeout=15000,
    )
    assert _text(page, "#reached").startswith(f"{want} signatures, seuil de 1{NARROW_NBSP}500")
    assert int(page.locator("#process").get_attribute("data-updated")) >= 1
    assert page.evaluate("window.UrneStrings.missing") == []


def test_unknown_process_is_a_clear_404(page: Any, site: Site) -> None:
    response = page.goto(site.url + "/p/no-such-process")
    assert response.status == 404
    assert "no-such-process" in _text(page, "#error-message")
    page.urne_errors.clear()  # the 404 itself is logged by the browser


def test_an_unknown_path_is_the_sites_404_page(new_page: Any, site: Site) -> None:
    page = new_page("fr")
    response = page.goto(site.url + "/no/such/page")
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert _text(page, "h1") == "Page introuvable"
    assert "/no/such/page" in _text(page, "#error-message")
    assert page.locator("header.top nav.languages a").count() == 2
    page.urne_errors.clear()  # the 404 itself is logged by the browser
