"""The pages in a real browser: Debian's Chromium driven by Playwright.

The service runs for real (uvicorn on a loopback port, in a thread of the test
process) on an SQLite log filled with a petition, a vote and a budget, so the
browser fetches pages, scripts, tallies, checkpoints and proofs over HTTP as a
citizen's would. Chromium is the system's (``URNE_CHROMIUM``, else ``chromium``
on the PATH): Playwright never downloads a browser here. Without it the browser
tests are skipped, and under ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tests.support.civic import Institution, open_in
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


@pytest.fixture(scope="session")
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


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any console error or CSP violation fails the test."""
    context = browser.new_context()
    pg = context.new_page()
    errors: list[str] = []
    pg.urne_errors = errors  # a test that provokes an error clears it
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"errors in the browser console: {errors}"
