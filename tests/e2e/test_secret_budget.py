"""A secret participatory budget from start to end, through real processes and
real HTTP only, on SQLite and on PostgreSQL (``conftest.py``): three trustees
make their keys with ``urne-trustee keygen``; the institution opens a capped
budget with a minimum share (threshold 2) and its roll with ``urne``; the
trustees run their ceremony, each its own ``urne-trustee ceremony``; the
institution ends it with ``urne process election-key``; citizens choose
projects with ``urne-wallet budget`` (one changes their mind; a choice over the
budget, or under its minimum share, is refused before anything is sent); one
makes a challenge file that ``urne-verify challenge`` checks; the institution
closes; trustee 1 is absent, trustees 2 and 3 run ``urne-trustee decrypt``;
the institution publishes its recount, greedy over the approvals cast; the log
passes ``urne-verify audit``, every spending proof included, and holds no
choice in clear."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx2
import pytest

from tests.support import secret_e2e
from tests.support.civic import RULES
from tests.support.deployment import Deployment
from urne.verifier.civic import budget
from urne.verifier.civic.entries import decode_entry

pytestmark = pytest.mark.slow  # real servers and processes

PID = "secret-budget-2027"
PEOPLE = [f"RES-{i:03d}" for i in range(6)]
COSTS = {"library": 500_000, "pool": 700_000, "trees": 150_000, "bikes": 300_000}
BUDGET = 1_000_000
#: each citizen's choices, in order: the last one counts
CHOICES = {
    "RES-000": [["pool"], ["library", "trees", "bikes"]],
    "RES-001": [["pool", "bikes"]],
    "RES-002": [["library", "trees"]],
    "RES-003": [["pool", "trees"]],
    "RES-004": [["library", "bikes"]],
}


def test_a_secret_budget_end_to_end(deployment: Deployment) -> None:
    dep = deployment
    url, http, vkey, key, codes = secret_e2e.serve_and_open(
        dep,
        PID,
        PEOPLE,
        type="budget",
        title={"fr": "Budget participatif", "en": "Participatory budget"},
        text={"fr": "Des projets, en secret.", "en": "Projects, in secret."},
        proposals=[
            {"id": x, "title": x.title(), "body": f"The {x}.", "cost": c} for x, c in COSTS.items()
        ],
        rule={**RULES["budget"], "budget": BUDGET, "min_share_percent": 40, "revoting": True},
    )

    def wallet(person: str, *args: str | Path, expect: int = 0) -> str:
        r = dep.run("urne-wallet", *args, "--wallet", dep.workdir / person, expect=expect)
        return r.stdout + r.stderr

    out = secret_e2e.ceremony(dep, url, vkey, key, PID)
    assert "qualified trustees: [1, 2, 3]" in out, out

    for person, choices in CHOICES.items():
        wallet(person, "join", url, PID, "--code", codes[person])
        for choice in choices:
            wallet(person, "budget", PID, *choice)

    # over the budget, or under its minimum share: refused before anything is sent
    wallet("RES-005", "join", url, PID, "--code", codes["RES-005"])
    size = http.get("/log").json()["size"]
    assert "over_budget" in wallet("RES-005", "budget", PID, "library", "pool", expect=1)
    assert "min_share" in wallet("RES-005", "budget", PID, "trees", expect=1)
    assert http.get("/log").json()["size"] == size

    # a challenge of a ballot for library and bikes, checked elsewhere, never cast
    challenge = dep.workdir / "res5-challenge.json"
    wallet("RES-005", "challenge", PID, "library", "bikes", "--out", challenge)
    assert "spend" in json.loads(challenge.read_text())["encrypted"]
    r = dep.verify("challenge", challenge, "--service", url, "--log-key", vkey)
    assert "VALID challenge" in r.stdout and "Library, Bikes" in r.stdout, r.stdout
    assert http.get("/log").json()["size"] == size

    # nothing on the log says what anyone chose
    for i in range(http.get("/log").json()["size"]):
        entry = decode_entry(_entry(http, i))
        if entry.kind == "ballot":
            assert "choice" not in entry.obj and "spend" in entry.obj["encrypted"]

    dep.urne("process", "close", PID, "--server", url, "--key", key)
    secret_e2e.decrypt(dep, url, vkey, [2, 3])  # trustee 1 is absent
    out = dep.urne(
        "process", "publish", PID, "--server", url, "--key", key, "--log-key", vkey
    ).stdout
    assert "published: result at index" in out, out

    last = [frozenset(c[-1]) for c in CHOICES.values()]
    want = {x: sum(x in b for b in last) for x in COSTS}
    assert want == {"library": 3, "pool": 2, "trees": 3, "bikes": 3}
    clear = budget.greedy(budget.ApprovalElection.from_ballots(BUDGET, COSTS, last))
    tally = http.get(f"/processes/{PID}/tally").json()
    assert tally["secret"] is True and tally["approvals"] == want
    assert tally["selected"] == sorted(clear) == ["bikes", "library", "trees"]
    assert tally["spent"] == 950_000 and tally["ballots"] == 5

    r = dep.verify("audit", "--log", url, "--log-key", vkey)
    assert "secret ballots' proofs: 6" in r.stdout, r.stdout
    http.close()


def _entry(http: httpx2.Client, index: int) -> bytes:
    return base64.b64decode(http.get(f"/entries/{index}/receipt").json()["entry"])
