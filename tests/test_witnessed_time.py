"""Witnessed time: the witnesses' clocks date entries without trusting the
operator's. A process's close, result and threshold carry the first
quorum-cosigned checkpoint that holds them (``/processes/{id}/witnessed``);
the audit dates every ballot by the log's cosigned checkpoints
(``/log/cosigned``) and reports a ballot the witnesses saw before its
process opened (an operator whose clock ran ahead), with evidence, and counts
those first witnessed after the close."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.support.civic import Citizen, Institution, open_in
from tests.support.service import serving
from tests.support.witnessing import witness_servers
from urne.api.main import create_app
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.ledger.log.witnessing import Witnessing, wait_cosigned
from urne.verifier.check.audit import HttpSource, audit
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.cosignature import WitnessPolicy
from urne.verifier.tlog.proof import verify_inclusion

#: The operator's clock: half a year ahead of the witnesses' (which is now).
AHEAD = datetime(2027, 7, 1, tzinfo=UTC)


@dataclass
class Served:
    url: str
    log: Log
    civic: CivicRecord
    inst: Institution
    witnessing: Witnessing
    policy: WitnessPolicy
    #: the operator's clock, which a test may set
    clock: list[datetime]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with ExitStack() as stack:
        log = Log.open(
            f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="wt.test/log"
        )
        stack.callback(log.close)
        endpoints = witness_servers(stack, tmp_path, log, 3)
        witnessing = Witnessing(log, endpoints, 2, interval=0.05)
        clock = [AHEAD]
        app = create_app(log, rate_limit=None, witnessing=witnessing, clock=lambda: clock[0])
        witnessing.start()
        stack.callback(witnessing.close)
        url = stack.enter_context(serving(app))
        yield Served(url, log, app.state.civic, Institution(), witnessing, witnessing.policy, clock)


def _process(served: Served, pid: str, ptype: str, opens: str, closes: str, **kw: Any) -> None:
    open_in(served.civic, served.inst.process(pid, ptype, opens=opens, closes=closes, **kw))


def test_the_close_result_and_threshold_carry_their_witnessed_time(served: Served) -> None:
    _process(served, "pet", "petition", "2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z",
             rule={"threshold": 2})  # fmt: skip
    for _ in range(3):
        served.civic.append(Citizen.enrol(served.inst, "pet").ballot())
    close = served.civic.append(served.inst.close("pet"))
    served.civic.append(served.inst.result("pet", close, served.civic.tally("pet", close)))
    assert wait_cosigned(served.witnessing, served.log.size - 1, 20) is not None
    before = time.time()
    answer = httpx2.get(f"{served.url}/processes/pet/witnessed", timeout=10).json()
    assert [e["what"] for e in answer["entries"]] == ["close", "result", "threshold"]
    for e in answer["entries"]:
        receipt = Receipt.from_json(e["receipt"])
        assert receipt.index == e["index"]
        signed = check_receipt(receipt, served.log.verifier)
        found = served.policy.check(signed.note)
        assert served.policy.existed_by(found) == e["existed_by"]
        assert before - 120 < e["existed_by"] <= before + 1  # the witnesses' clock: now
    page = httpx2.get(f"{served.url}/log/cosigned", params={"after": 0}, timeout=10).json()
    assert page["next"] is None and page["checkpoints"]
    no = httpx2.get(f"{served.url}/processes/nope/witnessed", timeout=10)
    assert no.status_code == 404 and no.json()["error"]["code"] == "unknown_process"


def test_the_audit_catches_a_ballot_witnessed_before_its_process_opened(served: Served) -> None:
    # The operator's clock says July 2027: "vote" is open, "early" closed in June.
    _process(served, "vote", "vote", "2027-06-01T00:00:00Z", "2027-12-31T00:00:00Z")
    _process(served, "early", "petition", "2027-01-01T00:00:00Z", "2027-06-30T00:00:00Z")
    ballot = served.civic.append(Citizen.enrol(served.inst, "vote").ballot(["a"]))
    assert wait_cosigned(served.witnessing, served.log.size - 1, 20) is not None
    r = audit(HttpSource(served.url), served.log.verifier, policy=served.policy)
    found = [(f.step, f.code, f.index) for f in r.findings]
    assert found == [(6, "witnessed_before_opening", ballot)], r.findings
    assert r.witnessed_checkpoints >= 1
    ev = r.findings[0].evidence
    cp = open_checkpoint(ev["witnessed_checkpoint"], served.log.verifier)
    when = served.policy.existed_by(served.policy.check(cp.note))
    assert when is not None and when < ev["opens"]
    verify_inclusion(
        base64.b64decode(ev["leaf_hash"]),
        ballot,
        cp.checkpoint.size,
        [base64.b64decode(h) for h in ev["inclusion_proof"]],
        cp.checkpoint.root,
    )


def test_entries_first_witnessed_after_the_close_are_counted(served: Served) -> None:
    # The operator's clock runs behind: June 2026, while the witnesses' say now.
    served.clock[0] = datetime(2026, 6, 1, tzinfo=UTC)
    _process(served, "late", "petition", "2026-01-01T00:00:00Z", "2026-06-30T00:00:00Z")
    served.civic.append(Citizen.enrol(served.inst, "late").ballot())
    served.civic.append(Citizen.enrol(served.inst, "late").ballot())
    assert wait_cosigned(served.witnessing, served.log.size - 1, 20) is not None
    r = audit(HttpSource(served.url), served.log.verifier, policy=served.policy)
    assert r.ok, r.findings  # not proven in time is not proven late: reported, not a finding
    assert r.witnessed_late == {"late": 2}


def test_a_clock_a_little_ahead_is_within_the_tolerance(served: Served) -> None:
    """The witnesses' clocks may lag the operator's by a few minutes
    (CLOCK_TOLERANCE): a ballot they date a minute before the opening is no
    finding."""
    now = datetime.now(UTC).replace(microsecond=0)
    opens = now + timedelta(seconds=60)
    served.clock[0] = opens + timedelta(seconds=1)
    _process(served, "soon", "petition", opens.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "2027-12-31T00:00:00Z")  # fmt: skip
    served.civic.append(Citizen.enrol(served.inst, "soon").ballot())
    assert wait_cosigned(served.witnessing, served.log.size - 1, 20) is not None
    r = audit(HttpSource(served.url), served.log.verifier, policy=served.policy)
    assert r.ok, r.findings


def test_the_process_page_says_by_when_the_witnesses_saw_the_close_and_threshold(
    served: Served,
) -> None:
    _process(served, "shown", "petition", "2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z",
             rule={"threshold": 1})  # fmt: skip
    served.civic.append(Citizen.enrol(served.inst, "shown").ballot())
    served.civic.append(served.inst.close("shown"))
    assert wait_cosigned(served.witnessing, served.log.size - 1, 20) is not None
    page = httpx2.get(f"{served.url}/p/shown", headers={"Accept-Language": "en"}, timeout=10)
    year = str(datetime.now(UTC).year)
    assert 'id="close-witnessed"' in page.text and 'id="threshold-witnessed"' in page.text
    close = page.text.split('id="close-witnessed">', 1)[1].split("</span>", 1)[0]
    assert close.startswith("witnessed by") and year in close
    fr = httpx2.get(f"{served.url}/p/shown?lang=fr", timeout=10).text
    assert "vu par les témoins au plus tard le" in fr
