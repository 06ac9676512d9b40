"""A credential issuer with no dealer, as its offices and the institution run it
(docs/spec/issuer-ceremony.md): three offices make their keys with
``urne-trustee keygen --office``; the institution reserves the process id with
them; the offices run the key ceremony on the log at the same time; the
institution publishes the issuer key and opens the process with the offices'
addresses; each office installs its share and its copy of the roll and serves
``/issuance`` on its own ``urne serve --role issuance``; citizens get their
credentials from two offices with ``urne-wallet`` (the third is down for one of
them) and sign; a second credential for a code is refused; the log passes the
audit. The service that keeps the log never holds any share of the key."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import httpx2
import pytest

from tests.support.deployment import Deployment, console_script

pytestmark = pytest.mark.slow

PID = "petition-offices"
PEOPLE = [f"RES-{i:03d}" for i in range(4)]
PETITION = {
    "id": PID,
    "type": "petition",
    "title": {"fr": "Ouvrir la bibliothèque le dimanche", "en": "Open the library on Sundays"},
    "text": {"fr": "Nous le demandons.", "en": "We ask for it."},
    "opens": "2020-01-01T00:00:00Z",
    "closes": "2099-12-31T23:59:59Z",
    "rule": {"threshold": 2},
}


def _office(tmp: Path, i: int) -> Deployment:
    """An office's own machine: its key directory and its roll, no log."""
    work = tmp / f"office-{i}"
    work.mkdir()
    return Deployment(
        "sqlite", f"sqlite:///{work / 'unused-log.db'}", work, f"sqlite:///{work / 'roll.db'}"
    )


def test_offices_make_the_key_and_issue_without_a_dealer(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    offices = [_office(tmp_path, i) for i in (1, 2, 3)]
    try:
        _run(dep, offices)
    finally:
        for office in offices:
            office.close()


def _run(dep: Deployment, offices: list[Deployment]) -> None:
    url = dep.serve().url
    http = httpx2.Client(base_url=url, timeout=30)
    vkey = http.get("/log").json()["verifier_key"]

    # 1. each office makes its keys on its own machine
    secrets, publics = [], []
    for i, office in enumerate(offices, start=1):
        secret, public = office.workdir / "office.secret", office.workdir / "office.pub.json"
        office.run(
            "urne-trustee", "keygen", "--office", "--process", PID, "--name", f"Office {i}",
            "--out", secret, "--public", public,
        )  # fmt: skip
        assert secret.stat().st_mode & 0o777 == 0o600
        assert json.loads(public.read_text())["share_key"]
        secrets.append(secret)
        publics.append(public)

    # 2. the institution reserves the id with the three offices, 2 of 3
    key = dep.workdir / "city.key"
    out = dep.urne("institution", "keygen", "city-hall", "--out", key).stdout
    dep.urne("institution", "add", "city-hall", out.split("public key:")[1].split()[0])
    srv = ["--server", url, "--key", key]
    office_args = [a for p in publics for a in ("--office", p)]
    out = dep.urne("process", "reserve", PID, *office_args, "--threshold", "2", *srv).stdout
    assert "reserved petition-offices for 3 offices, 2 of which sign" in out
    # opening before the offices made the key is refused, and burns nothing
    desc = dep.workdir / "petition.json"
    urls = [o.serve("--role", "issuance", "--no-rate-limit").url for o in offices]
    desc.write_text(json.dumps({**PETITION, "issuer": {"offices": urls}}), encoding="utf-8")
    r = dep.urne("process", "open", desc, *srv, "--log-key", vkey, expect=1)
    assert "has not ended" in r.stderr

    # 3. the ceremony, the three offices at once
    ceremony = ["ceremony", "--service", url, "--log-key", vkey, "--wait", "60", "--poll", "0.1"]
    runs = [
        subprocess.Popen(
            [console_script("urne-trustee"), *ceremony, "--secret", str(s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in secrets
    ]
    for p in runs:
        o, e = p.communicate(timeout=180)
        assert p.returncode == 0, o + e
        assert "Your deal is on the log" in o and "Your check is on the log" in o
    out = dep.urne("process", "issuer-key", PID, *srv, "--log-key", vkey).stdout
    assert "qualified offices: [1, 2, 3]" in out
    shown = offices[0].run("urne-trustee", "status", "--service", url, "--secret", secrets[0])
    assert "Your share of the issuer key matches your verification key." in shown.stdout
    assert "urne office install" in shown.stdout
    refused = offices[0].run(
        "urne-trustee", "decrypt", "--service", url, "--secret", secrets[0], expect=1
    )
    assert "(not_a_trustee)" in refused.stderr

    # 4. each office installs its share and its copy of the roll
    people = dep.workdir / "people.csv"
    people.write_text("person\n" + "\n".join(PEOPLE) + "\n", encoding="utf-8")
    codes_file = dep.workdir / "codes.csv"
    dep.urne("roll", "import", PID, people, *srv, "--codes-out", codes_file)
    for office, secret in zip(offices, secrets, strict=True):
        r = office.urne("office", "install", "--server", url, "--secret", secret)
        assert "installed" in r.stdout and "matches its public key on the log" in r.stdout
        r = office.urne("office", "roll", PID, codes_file)
        assert f"{len(PEOPLE)} people added" in r.stdout
        again = office.urne("office", "install", "--server", url, "--secret", secret)
        assert "installed" in again.stdout  # installing again changes nothing
    with open(codes_file, newline="", encoding="utf-8") as fh:
        codes = {row["person"]: row["code"] for row in csv.DictReader(fh)}
    # a lost letter: the log's service holds no code that counts, the offices do
    r = offices[0].urne("office", "replace", PID, "RES-003")
    new_code = r.stdout.split(": ")[1].split()[0]
    assert f"--code {new_code}" in r.stdout
    for office in offices[1:]:
        office.urne("office", "replace", PID, "RES-003", "--code", new_code)
    # the service that keeps the log holds no share of the key
    assert not list((dep.key_dir / "issuers").glob(f"{PID}*.key"))

    # 5. the institution opens the process with the offices' addresses
    out = dep.urne("process", "open", desc, *srv, "--log-key", vkey).stdout
    assert f"opened {PID}" in out
    manifest = http.get(f"/processes/{PID}").json()
    assert [o["url"] for o in manifest["issuer"]["offices"]] == urls

    def wallet(name: str, *args: str | Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
        return dep.run("urne-wallet", *args, "--wallet", dep.workdir / name, expect=expect)

    # 6. citizens: a credential from two offices each, then a signature
    out = wallet("alice", "join", url, PID, "--code", codes["RES-000"], "--log-key", vkey).stdout
    assert f"joined {PID}" in out
    assert "recorded: your signature" in wallet("alice", "sign", PID).stdout
    old = wallet("eve", "join", url, PID, "--code", codes["RES-003"], "--log-key", vkey, expect=1)
    assert "unknown_code" in old.stderr  # the replaced code, refused by every office
    out = wallet("dave", "join", url, PID, "--code", new_code, "--log-key", vkey).stdout
    assert f"joined {PID}" in out
    offices[1].servers[0].stop()  # office 2 is down: offices 1 and 3 answer
    out = wallet("bob", "join", url, PID, "--code", codes["RES-001"], "--log-key", vkey).stdout
    assert f"joined {PID}" in out
    assert "recorded: your signature" in wallet("bob", "sign", PID).stdout
    offices[2].servers[0].stop()  # only office 1 is left: not enough
    r = wallet("carol", "join", url, PID, "--code", codes["RES-002"], "--log-key", vkey, expect=1)
    assert "(not_enough_shares)" in r.stderr and r.stderr.count("\n") == 1
    # a second credential for Alice's code: office 1 signed her blinded point only
    r = wallet("mallory", "join", url, PID, "--code", codes["RES-000"], "--log-key", vkey,
               expect=1)  # fmt: skip
    assert "(not_enough_shares)" in r.stderr and "already_issued" in r.stderr

    tally = http.get(f"/processes/{PID}/tally").json()
    assert tally["signatures"] == 2  # dave joined and has not signed
    # 7. the process's open data, which starts with the ceremony that authorises
    # its manifest, recounts (urne process publish checks it whole first)
    dep.urne("process", "close", PID, *srv)
    out = dep.urne("process", "publish", PID, *srv, "--log-key", vkey).stdout
    assert "result" in out
    data = http.get(f"/processes/{PID}/entries.jsonl").text.splitlines()
    kinds = [json.loads(line)["entry"]["kind"] for line in data[1:]]
    assert kinds[:9] == ["institution", "reservation", *["issuer-deal"] * 3,
                         *["issuer-check"] * 3, "issuer-key"]  # fmt: skip
    # 8. the audit: the ceremony, the manifest's key and both credentials check
    assert "PASSED" in dep.verify("audit", "--log", url, "--log-key", vkey).stdout
    http.close()
