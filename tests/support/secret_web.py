"""The wallet page of a secret process in Chromium, for tests/web: a served
site whose secret votes or budgets each have their trustees' :class:`Board`
(three trustees, threshold two), a browser on its wallet page, and what the
page shows of a sealed ballot."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tests.support.axe import run_axe
from tests.support.secret import Board
from tests.support.service import Served
from urne.verifier.check.receipt import Receipt
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import decode_entry

#: Chromium's own console line for a request answered with a refusal or cut:
#: expected where a test provokes one, an error anywhere else.
NETWORK_LINE = "Failed to load resource"


def shots() -> Path:
    """Where the screenshots go (``URNE_ARTIFACTS``, see tests/web/conftest.py)."""
    out = Path(os.environ.get("URNE_ARTIFACTS", "test-artifacts")) / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


def fingerprint(encrypted: dict[str, Any]) -> str:
    """What the page shows of a sealed ballot: SHA-256 of the JCS of ``encrypted``."""
    digest = hashlib.sha256(canonical(encrypted)).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, 64, 4))


class Site:
    """The service, its secret processes' trustees and its codes: every process
    it opens is of type ``ptype`` (``vote`` or ``budget``) with ``rule`` (and
    ``proposals``, a budget's projects), for ``people`` citizens."""

    def __init__(
        self,
        served: Served,
        ptype: str,
        rule: dict[str, Any],
        *,
        people: int,
        proposals: list[dict[str, Any]] | None = None,
    ) -> None:
        self.served = served
        self.url = served.url
        self.ptype = ptype
        self.rule = rule
        self.people = people
        self.proposals = proposals
        self.codes: dict[str, list[str]] = {}
        self.boards: dict[str, Board] = {}

    def open(self, pid: str, *, ceremony: bool = True) -> Board:
        """A secret process of three trustees, threshold two; its key made, unless
        not ``ceremony``."""
        board = Board.make(pid, 3, 2)
        manifest: dict[str, Any] = {"rule": self.rule, "secret": board.manifest_field()}
        if self.proposals is not None:
            manifest["proposals"] = self.proposals
        self.codes[pid] = self.served.open(pid, self.ptype, self.people, **manifest)
        board.opened(self.served.log.entry(self.served.civic.process(pid).index))
        self.boards[pid] = board
        if ceremony:
            self.ceremony(pid)
        return board

    def ceremony(self, pid: str) -> None:
        """The trustees of ``pid`` make its election key on the log."""
        self.boards[pid].ceremony(self.served.civic.append, self.served.inst.key)

    def code(self, pid: str) -> str:
        """A code of ``pid`` no test has used yet."""
        return self.codes[pid].pop()

    def entry(self, index: int) -> dict[str, Any]:
        return decode_entry(self.served.log.entry(index)).obj

    def ballots(self, pid: str) -> list[dict[str, Any]]:
        """Every ballot of ``pid`` in the log, in order."""
        log = self.served.log
        objs = [decode_entry(leaf).obj for leaf in log.entries(0, log.size)]
        return [o for o in objs if o["kind"] == "ballot" and o["process"] == pid]

    def decrypt(self, pid: str) -> tuple[int, dict[str, Any]]:
        """The close of ``pid``, then trustees 1 and 3 of three decrypt its
        aggregates: the index the close is at and the tally through it."""
        civic, board = self.served.civic, self.boards[pid]
        closed = civic.append(self.served.inst.close(pid))
        secret = civic.process(pid).secret
        assert secret is not None and secret.aggregates is not None
        aggregates = secret.aggregates
        civic.append(board.decryption(1, aggregates))
        civic.append(board.decryption(3, aggregates))
        return closed, civic.tally(pid, closed)

    def publish(self, pid: str, closed: int, tally: dict[str, Any]) -> None:
        """The institution's result of ``pid``: ``tally`` through ``closed``."""
        self.served.civic.append(self.served.inst.result(pid, closed, tally))


class Booth:
    """One browser (a fresh profile) on the wallet page of a site's secret processes."""

    def __init__(self, browser: Any, site: Site, locale: str = "en-US", width: int = 1280) -> None:
        self.site = site
        self.locale = locale
        self.width = width
        self.context = browser.new_context(
            locale=locale, accept_downloads=True, viewport={"width": width, "height": 900}
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        #: every request's URL, and those of the ballots posted to the log
        self.requests: list[str] = []
        self.posted: list[str] = []
        self.downloaded: Path | None = None
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.context.on("request", self._request)

    def _request(self, request: Any) -> None:
        self.requests.append(request.url)
        if request.method == "POST" and request.url.endswith("/entries"):
            self.posted.append(request.url)

    def goto(self, pid: str) -> None:
        self.page.goto(f"{self.site.url}/p/{pid}/take-part")
        self.page.wait_for_selector("body[data-ready=yes]")

    def join(self, code: str) -> None:
        self.page.fill("#code", code)
        self.page.click("#get-credential")
        self.page.wait_for_selector("body[data-wallet=joined]")

    def choose(self, *ids: str) -> None:
        for i in ids:
            self.page.check(f"#choice-{i}")

    def sealed(self) -> str:
        """The fingerprint of the ballot sealed for the current choice, once shown."""
        self.page.wait_for_selector("#sealed-ready:not([hidden])")
        shown: str = self.page.inner_text("#sealed-fingerprint")
        return shown

    def cast(self) -> Receipt:
        """Cast what is chosen; the receipt the page checked and keeps."""
        before = self.page.locator("#receipt-list li").count()
        self.page.click("#cast")
        self.page.locator("#receipt-list li").nth(before).wait_for()
        assert self.page.get_attribute("#receipt-verdict", "data-result") == "valid"
        index = int(self.page.locator("#receipt-list li").last.get_attribute("data-index"))
        return Receipt.from_json(self.site.served.log.receipt(index).to_json())

    def challenge(self) -> dict[str, Any]:
        """Check the sealed ballot: the challenge file the page offers."""
        self.page.click("#challenge")
        return self.challenge_file()

    def challenge_file(self) -> dict[str, Any]:
        """The challenge file the page offers once it checked it, downloaded."""
        self.page.wait_for_selector("#challenge-verdict[data-result=valid]")
        with self.page.expect_download() as download:
            self.page.click("#challenge-download")
        assert download.value.suggested_filename.startswith("challenge-")
        self.downloaded = Path(download.value.path())
        file: dict[str, Any] = json.loads(self.downloaded.read_text())
        return file

    def record(self) -> dict[str, Any]:
        """The wallet record the page keeps in IndexedDB."""
        record: dict[str, Any] = self.page.evaluate(
            """async () => (await import("/static/wallet/take-part.js")).load()"""
        )
        return record

    def message(self) -> tuple[str, str]:
        """The code and sentence of the refusal the page shows."""
        box = self.page.wait_for_selector("#wallet-message[data-kind=error]")
        return box.get_attribute("data-code"), box.inner_text()

    def screenshot(self, name: str) -> None:
        """The whole page, as ``<name>-<language>-<width>.png`` among the screenshots."""
        path = shots() / f"{name}-{self.locale[:2]}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=True)

    def assert_accessible(self) -> None:
        """axe finds no violation on the page as it is, and nothing is wider than the screen."""
        result = run_axe(self.page)
        assert result["violations"] == []
        assert result["passes"] > 20
        assert self.page.evaluate("document.documentElement.scrollWidth") <= self.width

    def assert_accessible_in(self, state: str, shot: str) -> None:
        """From the ballot as it is, to ``state`` (``challenged``: checked,
        ``receipt``: cast, any other: as it is), where axe finds no violation;
        the screenshot ``shot`` (see :meth:`screenshot`), and the browser closed."""
        if state == "challenged":
            self.challenge()
        if state == "receipt":
            self.cast()
        self.assert_accessible()
        self.screenshot(shot)
        self.close()

    def close(self, *, network_errors: bool = False) -> None:
        """Close the browser: no error in its console (but the network's, where
        ``network_errors``), no request outside the service."""
        errors = [e for e in self.errors if not (network_errors and NETWORK_LINE in e)]
        outside = [u for u in self.requests if not u.startswith((self.site.url, "blob:", "data:"))]
        self.context.close()
        assert not errors, f"errors in the browser console: {errors}"
        assert not outside, f"requests outside the service: {outside}"
