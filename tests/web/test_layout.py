"""Every page, in both languages, on a phone (390 CSS pixels) and a desktop
(1280): nothing wider than the window, the right language, and a screenshot
of each in ``URNE_ARTIFACTS``/screenshots for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.site import Site
from tests.web.views import LANGUAGES, VIEWS, WIDTHS, open_view

pytestmark = pytest.mark.browser

#: Elements wider than the window, with what sticks out (empty when none).
_OVERFLOWING = """() => {
  const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll("body *")]
    .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > w + 0.5)
    .slice(0, 5)
    .map((e) => `${e.tagName}#${e.id}.${e.className}: ${e.getBoundingClientRect().right}`);
}"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("view", list(VIEWS))
def test_every_page_fits_the_window(
    new_page: Any,
    site: Site,
    chart_petition: str,
    upcoming_vote: str,
    artifacts: Path,
    view: str,
    lang: str,
    width: int,
) -> None:
    page = new_page(lang, width=width)
    response = open_view(page, site, view, chart=chart_petition, upcoming=upcoming_vote)
    assert page.locator("html").get_attribute("lang") == lang
    assert response.headers["content-language"] == lang
    shots = artifacts / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"{view}-{lang}-{width}.png"), full_page=True)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, (scroll, page.evaluate(_OVERFLOWING))


def test_the_upcoming_vote_says_when_it_opens(
    new_page: Any, site: Site, upcoming_vote: str
) -> None:
    page = new_page("fr", width=390)
    page.goto(f"{site.url}/p/{upcoming_vote}")
    assert page.locator("#status").inner_text() == "à venir"
    assert page.locator("#take-part-link").count() == 0
    opens = page.locator("#opens-on time")
    assert opens.get_attribute("datetime") == "2026-09-01T08:00:00Z"
    assert page.locator("#opens-on").inner_text() == (
        "Ce processus ouvre le 1 septembre 2026, 08:00 UTC."
    )
