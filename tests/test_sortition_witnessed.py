"""A sortition's commitment dated by the witnesses (docs/spec/sortition.md §3):
an operator whose clock was set back can append a manifest naming a round
already out, and choose its pool knowing the randomness; the audit, reading
the log's quorum-cosigned checkpoints, says whether the witnesses saw the
manifest before the round was released."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.civic import Institution, open_in
from tests.support.service import serving
from tests.support.sortition import ROUND, pool_file, rule
from tests.support.witnessing import witness_servers
from urne.api.main import create_app
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.ledger.log.witnessing import Witnessing, wait_cosigned
from urne.verifier.check.audit import HttpSource, audit
from urne.verifier.civic.beacon import QUICKNET
from urne.verifier.tlog.cosignature import WitnessPolicy


@dataclass
class Served:
    url: str
    log: Log
    civic: CivicRecord
    witnessing: Witnessing
    policy: WitnessPolicy
    clock: list[datetime]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with ExitStack() as stack:
        log = Log.open(
            f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="sw.test/log"
        )
        stack.callback(log.close)
        endpoints = witness_servers(stack, tmp_path, log, 3)
        witnessing = Witnessing(log, endpoints, 2, interval=0.05)
        clock = [datetime.now(UTC)]
        app = create_app(log, rate_limit=None, witnessing=witnessing, clock=lambda: clock[0])
        witnessing.start()
        stack.callback(witnessing.close)
        url = stack.enter_context(serving(app))
        yield Served(url, log, app.state.civic, witnessing, witnessing.policy, clock)


def _open(served: Served, pid: str, round_: int, opens: str, closes: str) -> None:
    inst = Institution(officials=[])
    data = pool_file(100)
    open_in(
        served.civic,
        inst.process(
            pid,
            "sortition",
            rule=rule(data, 10, round_=round_),
            proposals=[],
            opens=opens,
            closes=closes,
        ),
    )


def test_a_commitment_the_witnesses_saw_before_its_round_is_proven(served: Served) -> None:
    now = datetime.now(UTC)
    ahead = QUICKNET.round_at(int((now + timedelta(hours=1)).timestamp()))
    _open(served, "soon", ahead, "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    assert wait_cosigned(served.witnessing, served.log.size - 1, 20) is not None
    r = audit(HttpSource(served.url), served.log.verifier, policy=served.policy)
    assert r.ok, r.findings
    c = r.commitments["soon"]
    assert c["proven_before_round"] is True
    assert c["first_witnessed"] < c["round_released"] == QUICKNET.round_time(ahead)


def test_a_commitment_made_with_a_clock_set_back_is_not_proven(served: Served) -> None:
    """The operator's clock says June 2024, before the round (October 2024):
    the service appends the manifest; the witnesses, whose clocks say now,
    first cosign it two years after the round was out."""
    served.clock[0] = datetime(2024, 6, 1, tzinfo=UTC)
    _open(served, "backdated", ROUND, "2024-01-01T00:00:00Z", "2024-12-31T00:00:00Z")
    assert wait_cosigned(served.witnessing, served.log.size - 1, 20) is not None
    r = audit(HttpSource(served.url), served.log.verifier, policy=served.policy)
    c = r.commitments["backdated"]
    assert c["proven_before_round"] is False
    assert c["first_witnessed"] > c["round_released"]


def test_the_audit_command_says_so(served: Served) -> None:
    from typer.testing import CliRunner

    from urne.verifier.cli.main import app

    served.clock[0] = datetime(2024, 6, 1, tzinfo=UTC)
    _open(served, "backdated", ROUND, "2024-01-01T00:00:00Z", "2024-12-31T00:00:00Z")
    assert wait_cosigned(served.witnessing, served.log.size - 1, 20) is not None
    keys = [a for w in served.policy.witnesses for a in ("--witness", w.vkey)]
    out = CliRunner().invoke(
        app,
        [
            "audit",
            "--log",
            served.url,
            "--log-key",
            served.log.verifier.vkey,
            *keys,
            "--quorum",
            str(served.policy.quorum),
        ],
    )
    assert out.exit_code == 0, out.output
    assert (
        "sortition backdated: no cosigned checkpoint proves its commitment came before its "
        "round (released 2024-10-14T17:13:33Z)" in out.output
    )
