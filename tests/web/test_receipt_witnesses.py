"""The receipt page checks witnesses' cosignatures too, with the reader's
policy (keys and quorum, filled in from the service's own configuration),
and says it plainly: "seen by 2 of 2 independent witnesses". A receipt that
lacks the quorum, or carries a forged cosignature, is not valid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import IN_2026, Citizen, Institution, open_in
from tests.support.service import serving
from tests.support.witnessing import witness_servers
from urne.api.main import create_app
from urne.ledger.log import Log
from urne.ledger.log.witnessing import Witnessing, wait_cosigned

pytestmark = pytest.mark.browser


class Witnessed:
    def __init__(self, url: str, index: int, receipt: dict[str, Any]) -> None:
        self.url, self.index, self.receipt = url, index, receipt


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Witnessed]:
    tmp = tmp_path_factory.mktemp("witnessed")
    with ExitStack() as stack:
        log = Log.open(f"sqlite:///{tmp / 'l.db'}", key_dir=tmp / "k", origin="rw.test/log")
        stack.callback(log.close)
        endpoints = witness_servers(stack, tmp, log, 2)
        witnessing = Witnessing(log, endpoints, 2, interval=0.05)
        app = create_app(log, rate_limit=None, witnessing=witnessing, clock=lambda: IN_2026)
        witnessing.start()
        stack.callback(witnessing.close)
        url = stack.enter_context(serving(app))
        inst = Institution()
        open_in(app.state.civic, inst.process("pet", "petition"))
        index = app.state.civic.append(Citizen.enrol(inst, "pet").ballot())
        assert wait_cosigned(witnessing, index, 20) is not None
        receipt = witnessing.receipt(index).to_json()
        yield Witnessed(url, index, receipt)


def _check(page: Any, w: Witnessed, receipt: dict[str, Any] | None = None) -> tuple[str, str]:
    page.goto(f"{w.url}/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    page.fill("#receipt-text", json.dumps(receipt or w.receipt))
    page.click("#check")
    verdict = page.wait_for_selector("#verdict:not([hidden])")
    return verdict.get_attribute("data-result"), verdict.inner_text()


def test_a_cosigned_receipt_is_seen_by_the_witnesses(page: Any, witnessed: Witnessed) -> None:
    page.goto(f"{witnessed.url}/receipt")
    keys = page.input_value("#witness-keys").splitlines()
    assert len(keys) == 2 and all("+" in k for k in keys)
    assert page.input_value("#witness-quorum") == "2"
    result, text = _check(page, witnessed)
    assert result == "valid", text
    assert "Seen by 2 of 2 independent witnesses" in text
    step = page.locator("#checks li[data-step=witnesses]").inner_text()
    assert "seen by 2 of 2 independent witnesses (w0.example, w1.example)" in step


def test_without_the_quorum_or_with_a_forged_line_it_is_not_valid(
    page: Any, witnessed: Witnessed
) -> None:
    note = witnessed.receipt["checkpoint"]
    text, sigs = note.split("\n\n", 1)
    lines = sigs.splitlines(keepends=True)
    fewer = {**witnessed.receipt, "checkpoint": text + "\n\n" + "".join(lines[:2])}
    result, message = _check(page, witnessed, fewer)
    # not a verdict on the log: a receipt from before the witnesses cosigned...
    assert result == "unchecked" and "(no_quorum)" in message
    assert message.startswith("? Not witnessed yet") or "Not witnessed yet" in message
    page.click("#get-witnessed")  # ...is upgraded from the service, and checks
    page.wait_for_selector("#verdict[data-result=valid]")
    assert "Seen by 2 of 2" in page.inner_text("#verdict")
    head, b64 = lines[2].rsplit(" ", 1)
    flipped = b64[:20] + ("A" if b64[20] != "A" else "B") + b64[21:]
    forged = {
        **witnessed.receipt,
        "checkpoint": text + "\n\n" + lines[0] + lines[1] + head + " " + flipped,
    }
    result, message = _check(page, witnessed, forged)
    assert result == "invalid" and "(bad_cosignature)" in message
    page.urne_errors.clear()


def test_an_empty_policy_checks_the_log_s_signature_only(page: Any, witnessed: Witnessed) -> None:
    page.goto(f"{witnessed.url}/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    page.fill("#witness-keys", "")
    page.fill("#receipt-text", json.dumps(witnessed.receipt))
    page.click("#check")
    verdict = page.wait_for_selector("#verdict:not([hidden])")
    assert verdict.get_attribute("data-result") == "valid"
    assert "witnesses" not in verdict.inner_text()


def test_in_french(browser: Any, witnessed: Witnessed, tmp_path: Path) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.urne_errors = []
    try:
        result, text = _check(page, witnessed)
        assert result == "valid" and "Vu par 2 des 2 témoins indépendants" in text
    finally:
        context.close()
