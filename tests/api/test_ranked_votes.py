"""A majority judgment and a Schulze vote on a served Urne, as citizens cast
them with ``urne-wallet``: grades checked against the manifest the log holds,
the tally, ``results.csv`` recounted from the open data, and the audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.civic import proposal
from tests.support.service import Served, served_app
from urne.ledger.civic.opendata import entries_jsonl, open_export, results_csv_bytes
from urne.verifier.check.audit import HttpSource, audit
from urne.verifier.check.opendata import check_export, check_results_csv
from urne.verifier.citizen.cli import app as wallet_app

runner = CliRunner()
SCALE = [
    {"id": "very-good", "label": {"fr": "Très bien", "en": "Very good"}},
    {"id": "good", "label": {"fr": "Bien", "en": "Good"}},
    {"id": "fair", "label": {"fr": "Passable", "en": "Fair"}},
    {"id": "reject", "label": {"fr": "À rejeter", "en": "Reject"}},
]
PROPOSALS = [
    proposal("park", "A park"),
    proposal("bikes", "Bike lanes"),
    proposal("bench", "Benches"),
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_app(tmp_path) as s:
        yield s


def _wallet(tmp: Path, *args: str, code: int = 0) -> str:
    r = runner.invoke(wallet_app, [*args, "--wallet", str(tmp)])
    assert r.exit_code == code, r.output
    return r.output


def _join(served: Served, tmp: Path, pid: str, code: str) -> None:
    _wallet(tmp, "join", served.url, pid, "--code", code, "--log-key", served.log.verifier.vkey)


def test_citizens_grade_and_the_count_is_recounted(served: Served, tmp_path: Path) -> None:
    rule: dict[str, Any] = {
        "method": "majority-judgment",
        "min": 3,
        "max": 3,
        "revoting": False,
        "grades": SCALE,
    }
    codes = served.open("mj", "vote", people=3, rule=rule, proposals=PROPOSALS)
    grades = [
        ["park=very-good", "bikes=good", "bench=reject"],
        ["park=good", "bikes=good", "bench=fair"],
        ["park=fair", "bikes=very-good", "bench=reject"],
    ]
    for k, (code, g) in enumerate(zip(codes, grades, strict=True)):
        w = tmp_path / f"w{k}"
        _join(served, w, "mj", code)
        out = _wallet(w, "grade", "mj", *g)
        assert "recorded: your grades in mj:" in out
    # refused before anything is sent: a proposal missing, a grade off the scale
    w = tmp_path / "w0"
    out = _wallet(w, "grade", "mj", "park=good", code=1)
    assert "bad_grades" in out and "missing: bikes, bench" in out
    out = _wallet(w, "grade", "mj", "park=good", "bikes=superb", "bench=fair", code=1)
    assert "not on the scale: superb" in out
    _wallet(w, "grade", "mj", "park", code=2)
    t = served.civic.tally("mj", served.log.size - 1)
    assert t["ranking"] == [["bikes"], ["park"], ["bench"]] and t["winners"] == ["bikes"]
    assert t["majority_grades"] == {"park": "good", "bikes": "good", "bench": "reject"}
    lines = list(entries_jsonl(open_export(served.civic, "mj")))
    report = check_export(lines, served.log.verifier)
    csv = results_csv_bytes(open_export(served.civic, "mj"))
    check_results_csv(report, csv)
    head, *rows = csv.decode().splitlines()
    assert head.endswith(
        "majority_grade,grade:very-good,grade:good,grade:fair,grade:reject,tier,winner"
    )
    assert rows[1].endswith("good,1,2,0,0,1,true")  # bikes
    _close_and_publish(served, "mj")
    r = audit(HttpSource(served.url), served.log.verifier)
    assert r.ok, r.findings
    assert r.results_compared == 1


def _close_and_publish(served: Served, pid: str) -> None:
    """The institution closes the process and publishes its result, over HTTP."""
    import httpx2

    def post(entry: bytes) -> int:
        r = httpx2.post(
            served.url + "/entries", content=entry, headers={"content-type": "application/json"}
        )
        assert r.status_code in (200, 201), r.text
        return int(r.json()["index"])

    close = post(served.inst.close(pid))
    post(served.inst.result(pid, close, served.civic.tally(pid, close)))


def test_citizens_rank_and_schulze_counts(served: Served, tmp_path: Path) -> None:
    rule = {"method": "schulze", "min": 1, "max": 3, "revoting": True}
    codes = served.open("rank", "vote", people=4, rule=rule, proposals=PROPOSALS)
    rankings = [["bikes", "park"], ["park", "bikes", "bench"], ["bikes"], ["bench", "park"]]
    for k, (code, ranking) in enumerate(zip(codes, rankings, strict=True)):
        w = tmp_path / f"r{k}"
        _join(served, w, "rank", code)
        _wallet(w, "vote", "rank", *ranking)
    _wallet(tmp_path / "r0", "grade", "rank", "park=good", code=1)  # not a majority judgment
    t = served.civic.tally("rank", served.log.size - 1)
    assert t["pairwise"]["bikes"]["park"] == 2 and t["pairwise"]["park"]["bikes"] == 2
    assert t["winners"] == ["bikes", "park"]  # tied: both named
    csv = results_csv_bytes(open_export(served.civic, "rank")).decode().splitlines()
    assert csv[0].endswith("fingerprint,tier,winner")
    _close_and_publish(served, "rank")
    r = audit(HttpSource(served.url), served.log.verifier)
    assert r.ok, r.findings
    assert r.results_compared == 1


def test_their_pages_answer(served: Served) -> None:
    """Until the pages show these counts, they answer without them (no error)."""
    import httpx2

    rule = {"method": "schulze", "min": 1, "max": 3, "revoting": True}
    served.open("rank", "vote", people=1, rule=rule, proposals=PROPOSALS)
    for path in ("/p/rank", "/p/rank?lang=fr", "/processes/rank"):
        assert httpx2.get(served.url + path).status_code == 200, path


def test_an_auditors_state_keeps_grades_and_delegations(served: Served, tmp_path: Path) -> None:
    """A second audit run restores what the first kept (graded ballots, a
    delegate and a delegation) and recounts the same tallies."""
    from urne.verifier.citizen import authoring

    rule: dict[str, Any] = {
        "method": "majority-judgment",
        "min": 3,
        "max": 3,
        "revoting": False,
        "grades": SCALE,
    }
    served.open("mj", "vote", people=1, rule=rule, proposals=PROPOSALS)
    served.open(
        "dv",
        "vote",
        people=1,
        rule={"method": "single", "min": 1, "max": 1, "revoting": True, "delegation": True},
    )
    a, b = served.enrol("mj"), served.enrol("mj")
    served.civic.append(authoring.graded_ballot("mj", a.pseudonym, a.credential, ["good"] * 3))
    served.civic.append(
        authoring.graded_ballot("mj", b.pseudonym, b.credential, ["fair", "good", "reject"])
    )
    ana, bob = served.enrol("dv"), served.enrol("dv")
    served.civic.append(authoring.delegate("dv", ana.pseudonym, ana.credential, "Ana"))
    served.civic.append(
        authoring.delegation("dv", bob.pseudonym, bob.credential, ana.pseudonym.public_key)
    )
    served.civic.append(ana.ballot(["b"]))
    state = tmp_path / "auditor"
    first = audit(HttpSource(served.url), served.log.verifier, state_dir=state)
    assert first.ok, first.findings
    served.civic.append(served.enrol("dv").ballot(["a"]))
    second = audit(HttpSource(served.url), served.log.verifier, state_dir=state)
    assert second.ok, second.findings
    assert second.previous_size == first.size
    assert second.tallies["mj"] == first.tallies["mj"]
    assert second.tallies["dv"]["counts"] == {"a": 1, "b": 2, "c": 0}
    assert second.tallies["dv"]["delegated"] == 1
