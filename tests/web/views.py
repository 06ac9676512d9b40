"""Every page of the site in each state worth looking at, for the tests that
go through them all (layout, screenshots, accessibility)."""

from __future__ import annotations

from typing import Any

from tests.support.site import Site

#: view name -> (path, HTTP status); ``{chart}`` and ``{upcoming}`` are the
#: ids of the conftest's ``chart_petition`` and ``upcoming_vote``.
VIEWS: dict[str, tuple[str, int]] = {
    "index": ("/", 200),
    "petition": ("/p/petition", 200),
    "petition-chart": ("/p/{chart}", 200),
    "vote": ("/p/vote", 200),
    "vote-upcoming": ("/p/{upcoming}", 200),
    "budget": ("/p/budget", 200),
    "receipt": ("/receipt", 200),
    "receipt-checked": ("/receipt?index={ballot}", 200),
    "no-such-process": ("/p/no-such-process", 404),
    "not-found": ("/no/such/page", 404),
    "docs": ("/docs", 200),
}
WIDTHS = (390, 1280)
LANGUAGES = ("en", "fr")


def open_view(page: Any, site: Site, view: str, *, chart: str, upcoming: str) -> Any:
    """Go to ``view`` and wait until it shows what it is for; the response."""
    path, status = VIEWS[view]
    url = site.url + path.format(chart=chart, upcoming=upcoming, ballot=site.ballots["vote"][0])
    response = page.goto(url)
    assert response.status == status, (view, response.status)
    if status == 404:
        page.urne_errors.clear()  # the browser logs the 404 itself
    if view == "receipt-checked":
        page.wait_for_function("() => document.querySelector('#receipt-text').value.length > 0")
        page.click("#check")
        page.wait_for_selector("#verdict[data-result=valid]")
    elif view == "docs":
        page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=20_000)
    elif view.startswith("receipt"):
        page.wait_for_selector("#receipt-form[data-ready=yes]")
    return response
