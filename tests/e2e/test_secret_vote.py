"""A secret vote from start to end, through real processes and real HTTP only,
on SQLite and on PostgreSQL (``conftest.py``): three trustees make their keys
with ``urne-trustee keygen``; the institution opens the vote with them
(threshold 2) and its roll with ``urne``; the trustees run their ceremony at
once, each with its own ``urne-trustee ceremony``; the institution ends it
with ``urne process election-key``; citizens vote with ``urne-wallet`` (one
revotes); the institution closes; trustee 2 is absent, trustees 1 and 3 run
``urne-trustee decrypt``; the institution publishes its recount, equal to the
choices cast; the log passes ``urne-verify audit``, secret ballots' proofs
included, and holds no choice in clear."""

from __future__ import annotations

import base64

import httpx2
import pytest

from tests.support import secret_e2e
from tests.support.deployment import Deployment
from urne.verifier.civic.entries import decode_entry

pytestmark = pytest.mark.slow  # real servers and processes

PID = "secret-park"
PEOPLE = [f"RES-{i:03d}" for i in range(5)]
#: each citizen's choices, in order: the last one counts
CHOICES = {
    "RES-000": [["meadow"], ["river"]],
    "RES-001": [["river"]],
    "RES-002": [["lake"]],
    "RES-003": [["river"]],
}


def test_a_secret_vote_end_to_end(deployment: Deployment) -> None:
    dep = deployment
    url, http, vkey, key, codes = secret_e2e.serve_and_open(
        dep,
        PID,
        PEOPLE,
        type="vote",
        title={"fr": "Le nom du parc", "en": "The park's name"},
        text={"fr": "Un nom, en secret.", "en": "One name, in secret."},
        proposals=[
            {"id": x, "title": x.title(), "body": f"The {x}."} for x in ("meadow", "river", "lake")
        ],
        rule={"method": "single", "min": 1, "max": 1, "revoting": True},
    )

    # before the ceremony ends, the vote takes no ballot
    def wallet(person: str, *args: str, expect: int = 0) -> str:
        r = dep.run("urne-wallet", *args, "--wallet", dep.workdir / person, expect=expect)
        return r.stdout + r.stderr

    wallet("RES-004", "join", url, PID, "--code", codes["RES-004"])
    assert "no_election_key" in wallet("RES-004", "vote", PID, "river", expect=1)

    # the ceremony: the three trustees at once, each its own process
    out = secret_e2e.ceremony(dep, url, vkey, key, PID)
    assert "qualified trustees: [1, 2, 3]" in out, out
    process = http.get(f"/processes/{PID}").json()
    assert process["secret"]["election_key"] and process["secret"]["qualified"] == [1, 2, 3]

    # citizens vote in secret; RES-000 changes their mind
    for person, choices in CHOICES.items():
        wallet(person, "join", url, PID, "--code", codes[person])
        for choice in choices:
            wallet(person, "vote", PID, *choice)

    # nothing on the log says what anyone chose
    size = http.get("/log").json()["size"]
    for i in range(size):
        entry = decode_entry(_entry(http, i))
        if entry.kind == "ballot":
            assert "choice" not in entry.obj and "encrypted" in entry.obj

    dep.urne("process", "close", PID, "--server", url, "--key", key)
    secret_e2e.decrypt(dep, url, vkey, [1, 3])  # trustee 2 is absent
    out = dep.urne(
        "process", "publish", PID, "--server", url, "--key", key, "--log-key", vkey
    ).stdout
    assert "published: result at index" in out, out

    want = {"meadow": 0, "river": 0, "lake": 0}
    for choices in CHOICES.values():
        want[choices[-1][0]] += 1  # the last ballot of each counts
    assert want == {"meadow": 0, "river": 3, "lake": 1}
    tally = http.get(f"/processes/{PID}/tally").json()
    assert tally["counts"] == want and tally["ballots"] == 4 and tally["winners"] == ["river"]
    assert tally["secret"] is True
    page = http.get(f"/p/{PID}", headers={"Accept": "text/html"}).text
    assert 'id="secret-counts"' in page and "This vote was secret" in page  # after the result

    r = dep.verify("audit", "--log", url, "--log-key", vkey)
    assert "secret ballots' proofs: 5" in r.stdout, r.stdout
    http.close()


def _entry(http: httpx2.Client, index: int) -> bytes:
    return base64.b64decode(http.get(f"/entries/{index}/receipt").json()["entry"])
