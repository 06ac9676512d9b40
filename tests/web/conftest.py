"""The pages in a real browser: Debian's Chromium driven by Playwright.

The service runs for real (uvicorn on a loopback port, in a thread of the test
process) on an SQLite log filled with a petition, a vote and a budget, so the
browser fetches pages, scripts, tallies, checkpoints and proofs over HTTP as a
citizen's would. Chromium is the system's (``URNE_CHROMIUM``, else ``chromium``
on the PATH): Playwright never downloads a browser here. Without it the browser
tests are skipped, and under ``CI=true`` they fail.

One browser per test module: Playwright's synchronous API runs an event loop
in the test thread while a browser is open, so a browser kept for the whole
session would make ``asyncio.run`` fail in the tests collected after these.

Screenshots and other artefacts go to ``URNE_ARTIFACTS`` (default
``test-artifacts/`` at the repository root, ignored by git).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.support.civic import Institution, open_in
from tests.support.paths import ROOT
from tests.support.site import NOW, Site
from urne.api.main import create_app
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log

CHROMIUM = os.environ.get("URNE_CHROMIUM") or shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _populate(site: Site) -> None:
    inst, civic = site.institution, site.civic
    open_in(civic, inst.process("petition", "petition", rule={"threshold": 6}))
    open_in(civic, inst.process("vote", "vote"))
    open_in(civic, inst.process("budget", "budget"))
    for _ in range(4):
        site.cast("petition")
    civic.append(inst.paper("petition", "street-1", signatures=2))
    for choice in (["a"], ["b"], ["a"], ["c"], ["a"]):
        site.cast("vote", choice)
    civic.append(inst.paper("vote", "hall-1", counts={"a": 1, "b": 3, "c": 0}))
    for choice in (["park"], ["bikes", "bench"], ["park", "bikes"], ["bikes"]):
        site.cast("budget", choice)
    civic.append(inst.close("vote"))
    through = civic.log.size - 1
    civic.append(inst.result("vote", through, civic.tally("vote", through)))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    d = tmp_path_factory.mktemp("site")
    log = Log.open(f"sqlite:///{d / 'urne.db'}", key_dir=d / "keys", origin="pages.test/log")
    app = create_app(
        log, keyring=IssuerKeyring(d / "issuer-keys"), clock=lambda: NOW, rate_limit=None
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    # the app's own civic record: the one the pages read
    civic = app.state.civic
    site = Site(f"http://127.0.0.1:{port}", log, civic, Institution())
    _populate(site)
    try:
        yield site
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        log.close()


#: A petition with enough signatures for its chart, and counts in the
#: thousands (a paper batch): added by the ``chart_petition`` fixture.
CHART_PETITION = "chart"


@pytest.fixture(scope="module")
def chart_petition(site: Site) -> str:
    """The id of a petition whose page draws the signatures chart."""
    if CHART_PETITION not in site.civic.process_ids():
        inst, civic = site.institution, site.civic
        open_in(civic, inst.process(CHART_PETITION, "petition", rule={"threshold": 1500}))
        for _ in range(12):
            site.cast(CHART_PETITION)
        civic.append(inst.paper(CHART_PETITION, "market-1", signatures=1234))
        for _ in range(12):
            site.cast(CHART_PETITION)
    return CHART_PETITION


#: A vote that opens after the tests' clock (``NOW``): added by ``upcoming_vote``.
UPCOMING_VOTE = "later"


@pytest.fixture(scope="module")
def upcoming_vote(site: Site) -> str:
    """The id of a vote that is not open yet."""
    if UPCOMING_VOTE not in site.civic.process_ids():
        manifest = site.institution.process(UPCOMING_VOTE, "vote", opens="2026-09-01T08:00:00Z")
        open_in(site.civic, manifest)
    return UPCOMING_VOTE


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the tests leave what a person looks at (screenshots)."""
    where = Path(os.environ.get("URNE_ARTIFACTS") or ROOT / "test-artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        message = "Chromium is not installed (apt-get install chromium, or set URNE_CHROMIUM)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _watched(context: Any) -> Any:
    pg = context.new_page()
    errors: list[str] = []
    pg.urne_errors = errors  # a test that provokes an error clears it
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    return pg


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any console error or CSP violation fails the test."""
    context = browser.new_context()
    pg = _watched(context)
    try:
        yield pg
    finally:
        context.close()
    assert not pg.urne_errors, f"errors in the browser console: {pg.urne_errors}"


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(lang="fr", width=390)``: a fresh page in a browser whose
    language (``Accept-Language``, ``navigator.language``) is ``lang`` and
    whose window is ``width`` CSS pixels wide. As ``page``, any console error
    or CSP violation fails the test."""
    opened: list[tuple[Any, Any]] = []

    def open_page(lang: str = "en", width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(
            locale={"en": "en-GB", "fr": "fr-FR"}.get(lang, lang),
            viewport={"width": width, "height": height},
        )
        pg = _watched(context)
        opened.append((context, pg))
        return pg

    try:
        yield open_page
    finally:
        for context, _ in opened:
            context.close()
    errors = [e for _, pg in opened for e in pg.urne_errors]
    assert not errors, f"errors in the browser console: {errors}"
