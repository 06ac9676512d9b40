"""A citizen takes part with ``urne-wallet`` against the real ``urne serve``,
on SQLite and PostgreSQL: an institution opens a vote, a petition and a
budget with its own command line and imports the roll; citizens join with
their codes, sign, vote, revote and choose projects; their receipts are
checked at once and again once the log has grown; every refusal a citizen
meets is one line with its code; and the log passes ``urne-verify audit``."""

from __future__ import annotations

import csv
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from tests.support.deployment import Deployment

pytestmark = pytest.mark.slow  # real servers and processes: the full run

_T = "%Y-%m-%dT%H:%M:%SZ"
PEOPLE = [f"RES-{i:03d}" for i in range(6)]


def _describe(path: Path, pid: str, ptype: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    spec: dict[str, object] = {
        "id": pid,
        "type": ptype,
        "title": {"fr": f"Consultation {pid}", "en": f"Consultation {pid}"},
        "text": {"fr": "De quoi il s'agit.", "en": "What it is about."},
        "opens": (now - timedelta(days=1)).strftime(_T),
        "closes": (now + timedelta(days=30)).strftime(_T),
    }
    if ptype == "petition":
        spec.update(proposals=[], rule={"threshold": 2})
    elif ptype == "vote":
        spec.update(
            proposals=[
                {"id": "meadow", "title": "Meadow", "body": "A meadow."},
                {"id": "river", "title": "River", "body": "The river banks."},
            ],
            rule={"method": "single", "min": 1, "max": 1, "revoting": True},
        )
    else:
        spec.update(
            proposals=[
                {"id": "trees", "title": "Trees", "body": "Trees.", "cost": 400},
                {"id": "bench", "title": "Benches", "body": "Benches.", "cost": 300},
                {"id": "lights", "title": "Lights", "body": "Lights.", "cost": 500},
            ],
            rule={
                "budget": 1000,
                "outcome": "greedy",
                "min_projects": 1,
                "max_projects": None,
                "min_share_percent": 0,
                "capped": True,
                "revoting": False,
            },
        )
    path.write_text(json.dumps(spec), encoding="utf-8")


def _open_processes(dep: Deployment, url: str) -> dict[str, dict[str, str]]:
    """The institution's part, with its own command line: codes per process."""
    key = dep.workdir / "town.key"
    out = dep.urne("institution", "keygen", "town-hall", "--out", key).stdout
    public = next(x.split()[-1] for x in out.splitlines() if x.startswith("public key:"))
    dep.urne("institution", "add", "town-hall", public)
    people = dep.workdir / "people.csv"
    people.write_text("person\n" + "\n".join(PEOPLE) + "\n", encoding="utf-8")
    codes: dict[str, dict[str, str]] = {}
    for pid, ptype in (("vote", "vote"), ("pet", "petition"), ("bud", "budget")):
        desc = dep.workdir / f"{pid}.json"
        _describe(desc, pid, ptype)
        dep.urne("process", "open", desc, "--server", url, "--key", key)
        out_file = dep.workdir / f"{pid}-codes.csv"
        dep.urne(
            "roll", "import", pid, people, "--server", url, "--key", key, "--codes-out", out_file
        )
        with open(out_file, newline="", encoding="utf-8") as fh:
            codes[pid] = {row["person"]: row["code"] for row in csv.DictReader(fh)}
    return codes


def test_citizens_take_part_with_the_wallet(deployment: Deployment) -> None:
    dep = deployment
    url = dep.serve().url
    http = httpx2.Client(base_url=url, timeout=30)
    try:
        _take_part(dep, url, http)
    finally:
        http.close()


def _take_part(dep: Deployment, url: str, http: httpx2.Client) -> None:
    vkey = http.get("/log").json()["verifier_key"]
    codes = _open_processes(dep, url)

    def wallet(name: str, *args: str, expect: int = 0) -> tuple[str, str]:
        r = dep.run("urne-wallet", *args, "--wallet", dep.workdir / name, expect=expect)
        return r.stdout, r.stderr

    # Alice: joins the vote with her code, trusting the published log key
    out, _ = wallet("alice", "join", url, "vote", "--code", codes["vote"]["RES-000"],
                    "--log-key", vkey)  # fmt: skip
    assert "joined vote" in out and "cast now or later" in out
    state_file = dep.workdir / "alice" / "vote.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_file.parent.stat().st_mode) == 0o700
    out, _ = wallet("alice", "join", url, "vote", "--code", codes["vote"]["RES-000"])
    assert "already joined vote" in out  # nothing asked of the issuer twice
    out, _ = wallet("alice", "vote", "vote", "meadow")
    assert "recorded: your ballot in vote: meadow" in out and "receipt checked" in out
    out, _ = wallet("alice", "vote", "vote", "river")  # a revote: the last ballot counts
    assert "recorded: your ballot in vote: river" in out
    tally = http.get("/processes/vote/tally").json()
    assert (tally["ballots"], tally["counts"]) == (1, {"meadow": 0, "river": 1})

    # Bob: the service's own key (said so), a petition and a budget
    out, _ = wallet("bob", "join", url, "pet", "--code", codes["pet"]["RES-001"])
    assert "compare it with the one the organisers publish" in out
    out, _ = wallet("bob", "sign", "pet")
    assert "recorded: your signature on pet" in out
    _, err = wallet("bob", "sign", "pet", expect=1)
    assert "(already_signed)" in err and err.count("\n") == 1
    wallet("bob", "join", url, "bud", "--code", codes["bud"]["RES-001"])
    out, _ = wallet("bob", "budget", "bud", "trees", "bench")
    assert "recorded: your ballot in bud: trees, bench" in out
    _, err = wallet("bob", "budget", "bud", "lights", "trees", "bench", expect=1)
    assert "(over_budget)" in err  # 1,200 for a budget of 1,000
    _, err = wallet("bob", "budget", "bud", "lights", expect=1)
    assert "(already_voted)" in err  # no revoting in this budget

    # refusals a citizen meets, each one line with its code and what to do
    _, err = wallet("carol", "join", url, "vote", "--code", "AAAA-BBBB-CCCC", expect=1)
    assert "(unknown_code)" in err and "check the code on your letter" in err
    _, err = wallet("carol", "join", url, "vote", "--code", codes["vote"]["RES-000"], expect=1)
    assert "(already_issued)" in err and "help desk" in err
    _, err = wallet("carol", "vote", "vote", "meadow", expect=1)
    assert "(not_joined)" in err
    _, err = wallet("carol", "join", "http://127.0.0.1:9", "down", "--code", "X", expect=2)
    assert "could not be reached" in err
    wallet("carol", "join", url, "vote", "--code", codes["vote"]["RES-002"])
    _, err = wallet("carol", "vote", "vote", "lake", expect=1)
    assert "(unknown_proposal)" in err and "the choices are: meadow, river" in err
    _, err = wallet("carol", "sign", "vote", expect=1)
    assert "(bad_choice)" in err and "urne-wallet vote" in err

    # receipts: checked again against the grown log
    out, _ = wallet("alice", "receipts")
    lines = out.splitlines()
    assert len(lines) == 2 and all(x.startswith("ok ") for x in lines), out
    assert "meadow (replaced by a later one)" in lines[0] and "river (counts)" in lines[1]
    out, _ = wallet("bob", "list")
    assert "pet\t" in out and "bud\t" in out

    # the institution closes the vote: nothing more is cast, the log audits clean
    key = dep.workdir / "town.key"
    dep.urne("process", "close", "vote", "--server", url, "--key", key)
    _, err = wallet("carol", "vote", "vote", "meadow", expect=1)
    assert "(process_closed)" in err and "has closed" in err
    _, err = wallet("dave", "join", url, "vote", "--code", codes["vote"]["RES-003"], expect=1)
    assert "(process_closed)" in err
    out = dep.verify("audit", "--log", url, "--log-key", vkey).stdout
    assert "PASSED" in out
    out, _ = wallet("alice", "receipts")
    assert out.count("ok ") == 2
