"""WCAG 2.1 AA (the RGAA's reference) as axe-core checks it, on every page,
in both languages, on a phone and a desktop; and the keyboard: a skip link
to the content and a visible focus.

axe-core is vendored in ``tests/web/vendor/axe-core`` (MPL-2.0, a test tool:
the service never serves it), its files checked against the SHA-256 its
``SOURCES.md`` gives. It is run in the page through the DevTools protocol
(``page.evaluate``), which the pages' Content-Security-Policy does not govern,
so the pages are checked under their real policy.

On ``/docs`` the checks cover Urne's own parts of the page; Swagger UI's
DOM (``#swagger-ui``) is left out: its operation summaries are buttons
holding links and buttons (``nested-interactive``), its method badges and
version stamp lack contrast, and fixing that means changing the vendored
bundle, which is copied unmodified (docs/guides/web.md §5).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.axe import AXE, RUN, TAGS, axe_source
from tests.support.paths import ROOT
from tests.support.site import Site
from tests.web.views import LANGUAGES, VIEWS, WIDTHS, open_view


def _sources() -> dict[str, str]:
    rows = re.findall(
        r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", (AXE / "SOURCES.md").read_text(), re.M
    )
    return dict(rows)


def test_axe_core_is_the_vendored_release() -> None:
    manifest = _sources()
    files = {p.name for p in AXE.iterdir()} - {"SOURCES.md"}
    assert set(manifest) == files == {"axe.min.js", "LICENSE", "LICENSE-3RD-PARTY.txt"}
    for name, digest in manifest.items():
        assert hashlib.sha256((AXE / name).read_bytes()).hexdigest() == digest, name
    assert axe_source().startswith("/*! axe v4.14.1")
    sources = (AXE / "SOURCES.md").read_text()
    assert "axe-core` 4.14.1" in sources and "integrity `sha512-" in sources


def test_axe_core_is_never_served(tmp_path: Any) -> None:
    """A test tool under the MPL: not in the package, not on the site."""
    from urne.api.main import create_app
    from urne.ledger.log import Log

    assert not list((ROOT / "api").rglob("axe*.js"))
    with (
        Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="a/log") as log,
        TestClient(create_app(log, rate_limit=None)) as client,
    ):
        for path in ("/static/vendor/axe-core/axe.min.js", "/static/axe.min.js"):
            assert client.get(path).status_code == 404


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("view", list(VIEWS))
def test_axe_finds_no_violation(
    new_page: Any,
    site: Site,
    chart_petition: str,
    upcoming_vote: str,
    view: str,
    lang: str,
    width: int,
) -> None:
    page = new_page(lang, width=width)
    open_view(page, site, view, chart=chart_petition, upcoming=upcoming_vote)
    page.evaluate(axe_source())
    exclude = [["#swagger-ui"]] if view == "docs" else []
    result = page.evaluate(RUN, [TAGS, exclude])
    assert result["violations"] == []
    assert result["passes"] > 20  # axe ran its rules on a real page


@pytest.mark.browser
def test_axe_would_find_a_violation(page: Any, site: Site) -> None:
    """The check above can fail: an unlabelled field and grey on grey."""
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    page.evaluate(
        """() => {
        document.querySelector('label[for="trusted-key"]').remove();
        document.querySelector("#key-warning").classList.add("small");
        document.querySelector("#key-warning").style.color = "#ddd";
    }"""
    )
    page.evaluate(axe_source())
    found = {v["rule"] for v in page.evaluate(RUN, [TAGS, []])["violations"]}
    assert {"label", "color-contrast"} <= found


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_the_keyboard_reaches_the_content_first(new_page: Any, site: Site, width: int) -> None:
    """The first Tab shows a link to the content, and every link shows where
    the focus is."""
    page = new_page("fr", width=width)
    page.goto(site.url + "/p/vote")
    skip = page.locator("a.skip")
    assert skip.inner_text() == "Aller au contenu"
    assert skip.bounding_box()["y"] + skip.bounding_box()["height"] <= 0  # out of sight
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    box = skip.bounding_box()
    assert box["y"] >= 0 and box["x"] >= 0 and box["x"] + box["width"] <= width
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the first link of the content
    focused = page.evaluate(
        """() => {
          const e = document.activeElement, s = getComputedStyle(e);
          return [e.tagName, s.outlineStyle, parseFloat(s.outlineWidth)];
        }"""
    )
    assert focused[0] == "A" and focused[1] != "none" and focused[2] >= 2
