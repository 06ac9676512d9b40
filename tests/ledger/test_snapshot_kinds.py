"""A service restarted from its snapshot holds the newer kinds of entries as
a replay of the whole log does: a sortition's draw, an institution's answers,
a majority judgment's grades, a Schulze ranking, delegates and delegations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.civic import Citizen, Institution, open_in, proposal
from tests.support.sortition import SIGNATURE, pool_file, rule
from urne.ledger.civic.opendata import entries_jsonl, open_export
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.check.opendata import check_export
from urne.verifier.check.sortition import compute_draw
from urne.verifier.citizen import authoring
from urne.verifier.tlog.note import Ed25519Signer

SCALE = [{"id": "good", "label": "Good"}, {"id": "fair", "label": "Fair"}]
PIDS = ("panel", "pet", "mj", "rank", "dv")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def _fill(log: Log, clock: list[datetime]) -> CivicRecord:
    rec = CivicRecord(log, clock=lambda: clock[0], snapshot_every=5)
    inst = Institution(officials=[])
    data = pool_file(300)
    clock[0] = datetime(2024, 6, 1, tzinfo=UTC)  # before the sortition's round
    open_in(
        rec,
        inst.process(
            "panel", "sortition", rule=rule(data, 12), proposals=[], opens="2024-01-01T00:00:00Z"
        ),
    )
    report = check_export(list(entries_jsonl(open_export(rec, "panel"))), log.verifier)
    got = compute_draw(report, data, SIGNATURE)
    rec.append(
        authoring.draw(
            "panel",
            inst.key,
            got.rule.round,
            SIGNATURE,
            got.outcome.attempt,
            [(m.id, m.values) for m in got.panel],
        )
    )
    clock[0] = datetime(2026, 6, 1, tzinfo=UTC)
    open_in(
        rec,
        inst.process(
            "pet",
            "petition",
            rule={"threshold": 1},
            answers={"by": "2026-09-30T00:00:00Z", "proposals": []},
        ),
    )
    rec.append(Citizen.enrol(inst, "pet").ballot())
    rec.append(authoring.answer("pet", inst.key, None, "in_study", "Soon.", "2026-06-01T00:00:00Z"))
    props = [proposal(x, x.upper()) for x in "abc"]
    open_in(
        rec,
        inst.process(
            "mj",
            "vote",
            proposals=props,
            rule={
                "method": "majority-judgment",
                "min": 3,
                "max": 3,
                "revoting": True,
                "grades": SCALE,
            },
        ),
    )
    for g in (["good", "fair", "fair"], ["fair", "good", "good"], ["good", "good", "fair"]):
        c = Citizen.enrol(inst, "mj")
        rec.append(authoring.graded_ballot("mj", c.pseudonym, c.credential, g))
    open_in(
        rec,
        inst.process(
            "rank",
            "vote",
            proposals=props,
            rule={"method": "schulze", "min": 1, "max": 3, "revoting": True},
        ),
    )
    for r in (["a", "b"], ["b", "c", "a"], ["c"]):
        rec.append(Citizen.enrol(inst, "rank").ballot(r))
    open_in(
        rec,
        inst.process(
            "dv",
            "vote",
            rule={"method": "single", "min": 1, "max": 1, "revoting": True, "delegation": True},
        ),
    )
    ana, bob, cyd = (Citizen.enrol(inst, "dv") for _ in range(3))
    rec.append(authoring.delegate("dv", ana.pseudonym, ana.credential, "Ana"))
    rec.append(authoring.delegation("dv", bob.pseudonym, bob.credential, ana.pseudonym.public_key))
    rec.append(authoring.delegation("dv", cyd.pseudonym, cyd.credential, ana.pseudonym.public_key))
    rec.append(authoring.delegation("dv", cyd.pseudonym, cyd.credential, None, seq=1))
    rec.append(ana.ballot(["c"]))
    return rec


def _state(rec: CivicRecord) -> dict[str, Any]:
    return {
        "size": rec.size,
        "tallies": {pid: rec.tally(pid) for pid in PIDS},
        "answers": [a.status for _, a in rec.process("pet").answers[None]],
        "anomalies": list(rec.anomalies),
    }


def test_a_restart_from_the_snapshot_keeps_every_new_kind(url: str) -> None:
    signer, clock = Ed25519Signer.generate("kinds.example/log"), [datetime.now(UTC)]
    log = Log.open(url, signer=signer)
    rec = _fill(log, clock)
    rec.close()
    before = _state(rec)
    assert before["tallies"]["dv"]["counts"]["c"] == 2 and before["tallies"]["panel"]["panel"]
    log.close()
    log = Log.open(url, signer=signer)
    rec = CivicRecord(log, clock=lambda: clock[0], snapshot_every=5)
    assert rec.started_from.startswith("the snapshot at size ")
    assert _state(rec) == before
    with log.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM log_snapshot"))
    log.close()
    log = Log.open(url, signer=signer)
    rec = CivicRecord(log, clock=lambda: clock[0], snapshot_every=10**9)
    assert rec.started_from == "the log (no snapshot)"
    assert _state(rec) == before
    log.close()
