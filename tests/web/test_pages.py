"""The process pages and the list, in Chromium: every number on the page is the
recount the civic record gives, and the live counts follow new entries."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.site import Site
from urne.api.web import CHART_GROUP

pytestmark = pytest.mark.browser


def _text(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.inner_text()).strip()


def test_the_list_shows_every_process_with_its_participants(page: Any, site: Site) -> None:
    page.goto(site.url + "/")
    rows = page.locator("table.processes tbody tr")
    assert rows.count() == 3
    for pid in ("petition", "vote", "budget"):
        row = page.locator(f'tr[data-process="{pid}"]')
        assert row.locator("td.num").inner_text() == str(site.civic.tally(pid)["ballots"])
        assert row.locator("a").get_attribute("href") == f"/p/{pid}"
    status = page.locator('tr[data-process="vote"] .status').inner_text()
    assert status == "closed"
    assert _text(page, "#log-size") == str(site.log.size)
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
    reached = _text(page, "#reached")
    if t["reached"]:
        assert f"index {t['reached_at']}" in reached
    else:
        assert "not reached" in reached
    # too few signatures for a chart: no point may stand for one person's
    assert t["total"] < CHART_GROUP
    assert page.locator("#signature-chart").count() == 0
    assert str(CHART_GROUP) in _text(page, "#no-chart")


def test_vote_page_counts_winner_and_result(page: Any, site: Site) -> None:
    page.goto(site.url + "/p/vote")
    t = site.civic.tally("vote")
    for pid in ("a", "b", "c"):
        row = page.locator(f'#vote-counts tr[data-proposal="{pid}"]')
        for k in ("counts", "paper_counts", "total"):
            assert row.locator(f'[data-count="{k}"]').inner_text() == str(t[k][pid])
        assert ("winner" in (row.get_attribute("class") or "")) == (pid in t["winners"])
    assert t["winners"] == ["a", "b"]  # 3 online + 1 paper, 1 online + 3 paper: a tie
    assert _text(page, "#status") == "closed"
    st = site.civic.process("vote")
    links = page.locator("#results a").all_inner_texts()
    assert links == [str(i) for i, _ in st.results]
    assert "final" in _text(page, "#live-note")


def test_budget_page_outcome_against_the_budget(page: Any, site: Site) -> None:
    page.goto(site.url + "/p/budget")
    t = site.civic.tally("budget")
    assert _text(page, '#budget-outcome [data-field="spent"]') == str(t["spent"])
    assert _text(page, '#budget-outcome [data-field="budget"]') == str(t["budget"])
    assert int(page.locator("#budget-meter").get_attribute("value")) == t["spent"]
    selected = [
        r.get_attribute("data-proposal") for r in page.locator("#budget-counts tr.selected").all()
    ]
    assert sorted(selected) == t["selected"]
    for pid, n in t["approvals"].items():
        cell = page.locator(f'#budget-counts tr[data-proposal="{pid}"] [data-count="approvals"]')
        assert cell.inner_text() == str(n)


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


def test_unknown_process_is_a_clear_404(page: Any, site: Site) -> None:
    response = page.goto(site.url + "/p/no-such-process")
    assert response.status == 404
    assert "no-such-process" in _text(page, "#error-message")
    page.urne_errors.clear()  # the 404 itself is logged by the browser
