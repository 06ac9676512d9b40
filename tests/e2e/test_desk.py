"""The institution's remaining tools against the real ``urne serve``, on
SQLite and PostgreSQL: an official's key and a paper batch recorded with it;
the help desk replacing a lost code (the old one refused, the count
published); and the service split in two hosts, ``--role casting`` and
``--role issuance``, on which a citizen still takes part."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from tests.support.deployment import Deployment

pytestmark = pytest.mark.slow  # real servers and processes: the full run

_T = "%Y-%m-%dT%H:%M:%SZ"


def _vote(path: Path, official: dict[str, str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    spec = {
        "id": "hall",
        "type": "vote",
        "title": "Where the new hall goes",
        "text": "Two places are proposed.",
        "opens": (now - timedelta(days=1)).strftime(_T),
        "closes": (now + timedelta(days=30)).strftime(_T),
        "officials": [official],
        "proposals": [
            {"id": "north", "title": "North", "body": "North of the river."},
            {"id": "south", "title": "South", "body": "South of the river."},
        ],
        "rule": {"method": "single", "min": 1, "max": 1, "revoting": False},
    }
    path.write_text(json.dumps(spec), encoding="utf-8")


def _institution(dep: Deployment, url: str) -> tuple[Path, dict[str, str]]:
    """The town hall registered, the vote opened with an official, its roll
    imported: (the institution's key file, codes by person)."""
    key = dep.workdir / "town.key"
    out = dep.urne("institution", "keygen", "town-hall", "--out", key).stdout
    public = next(x.split()[-1] for x in out.splitlines() if x.startswith("public key:"))
    dep.urne("institution", "add", "town-hall", public)
    out = dep.urne("official", "keygen", "Polling station 3", "--out", dep.workdir / "o.key").stdout
    official = json.loads(out.strip().splitlines()[-1])
    assert official["name"] == "Polling station 3"
    desc = dep.workdir / "hall.json"
    _vote(desc, official)
    dep.urne("process", "open", desc, "--server", url, "--key", key)
    people = dep.workdir / "people.csv"
    people.write_text("person\nP-1\nP-2\nP-3\n", encoding="utf-8")
    codes_file = dep.workdir / "codes.csv"
    dep.urne("roll", "import", "hall", people, "--server", url, "--key", key,
             "--codes-out", codes_file)  # fmt: skip
    with open(codes_file, newline="", encoding="utf-8") as fh:
        return key, {row["person"]: row["code"] for row in csv.DictReader(fh)}


def test_paper_batches_and_the_help_desk(deployment: Deployment) -> None:
    dep = deployment
    url = dep.serve().url
    key, codes = _institution(dep, url)

    # an official records a paper batch, signed with the official's key
    sheet = dep.workdir / "sheet-3.pdf"
    sheet.write_bytes(b"%PDF tally sheet of polling station 3, signed")
    official_key = dep.workdir / "o.key"
    out = dep.urne("paper", "record", "hall", sheet, "--batch", "station-3", "--count",
                   "north=41", "--count", "south=17", "--server", url,
                   "--key", official_key).stdout  # fmt: skip
    assert f"(sheet {hashlib.sha256(sheet.read_bytes()).hexdigest()})" in out
    # the same sheet again, under another batch id: counted once only
    r = dep.urne("paper", "record", "hall", sheet, "--batch", "station-3b", "--count",
                 "north=41", "--server", url, "--key", dep.workdir / "o.key", expect=1)  # fmt: skip
    assert "duplicate_sheet" in r.stderr
    # the institution's key is no official's
    r = dep.urne("paper", "record", "hall", dep.workdir / "hall.json", "--batch", "x",
                 "--count", "north=1", "--server", url, "--key", key, expect=1)  # fmt: skip
    assert "unknown_official" in r.stderr
    r = dep.urne("paper", "record", "hall", sheet, "--batch", "y", "--server", url,
                 "--key", dep.workdir / "o.key", expect=2)  # fmt: skip
    assert "exactly one of" in r.stderr

    # the help desk: P-2 lost the letter
    out = dep.urne("roll", "replace", "hall", "P-2", "--server", url, "--key", key).stdout
    new_code = out.splitlines()[0].split()[-1]
    assert "codes replaced in hall so far: 1 (published)" in out
    wallet = dep.workdir / "w"
    r = dep.run("urne-wallet", "join", url, "hall", "--code", codes["P-2"], "--wallet", wallet,
                expect=1)  # fmt: skip
    assert "(unknown_code)" in r.stderr  # the old code no longer works
    dep.run("urne-wallet", "join", url, "hall", "--code", new_code, "--wallet", wallet)
    dep.run("urne-wallet", "vote", "hall", "south", "--wallet", wallet)
    r = dep.urne("roll", "replace", "hall", "P-2", "--server", url, "--key", key, expect=1)
    assert "already_issued" in r.stderr  # a new code now would be a second credential
    with httpx2.Client(base_url=url) as http:
        assert http.get("/issuance/hall").json()["codes_replaced"] == 1
        detail = http.get("/processes/hall").json()
        assert detail["codes_replaced"] == 1
        assert "1 code replaced by the help desk" in http.get("/p/hall").text
        tally = detail["tally"]
        official = json.loads((dep.workdir / "hall.json").read_text())["officials"][0]["key"]
        assert (tally["total"], tally["paper_batches"]) == (
            {"north": 41, "south": 18},
            {official: 1},
        )
        vkey = http.get("/log").json()["verifier_key"]
    assert "PASSED" in dep.verify("audit", "--log", url, "--log-key", vkey).stdout


def test_issuance_on_a_host_of_its_own(deployment: Deployment) -> None:
    """``--role casting`` and ``--role issuance`` on the same databases: the
    issuance host has no log and no pages; a citizen joins through it
    (``urne-wallet join --issuer``) and casts on the casting host."""
    dep = deployment
    casting = dep.serve("--role", "casting")
    issuance = dep.serve("--role", "issuance")
    _, codes = _institution(dep, casting.url)
    with httpx2.Client() as http:
        assert http.get(f"{issuance.url}/checkpoint").status_code == 404  # no log there
        assert http.get(f"{issuance.url}/issuance/hall").json()["roll_size"] == 3
        r = http.post(f"{casting.url}/issuance/hall", json={"code": "x", "blinded": "x"})
        assert r.status_code in (404, 405)  # not served by the casting host
    assert "issuance only" in issuance.output() and "casting only" in casting.output()
    wallet = dep.workdir / "w2"
    out = dep.run("urne-wallet", "join", casting.url, "hall", "--code", codes["P-1"],
                  "--issuer", issuance.url, "--wallet", wallet).stdout  # fmt: skip
    assert "joined hall" in out
    out = dep.run("urne-wallet", "vote", "hall", "north", "--wallet", wallet).stdout
    assert "recorded: your ballot in hall: north" in out
