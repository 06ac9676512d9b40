"""A petition from start to end, through real processes and real HTTP only.

The operator initialises the log, registers an institution's key and runs
``urne serve``; the institution opens a petition and imports its roll with its
own command line; citizens obtain blind credentials with their one-time codes
and sign (and the service refuses, over HTTP, a second signature, a code used
twice and forged credentials); the institution closes the petition and
publishes the result of its own recount. Then every receipt is checked with
the installed ``urne-verify receipt``, offline and against the live log, the
whole log with ``urne-verify audit``, the process's open data with
``urne-verify export``, and the published result against a recount of the
downloaded entries. The server is restarted on the same database and every
receipt must still be included in the same log. Once on SQLite and once on
PostgreSQL (``conftest.py``).
"""

from __future__ import annotations

import base64
import csv
import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from typer.testing import CliRunner

from tests.support.deployment import ORIGIN, Deployment, Laps, describe, expect
from urne.ledger.issuance.issuer_key import IssuerKey
from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import Result, b64decode, b64encode, decode_entry
from urne.verifier.civic.process import Registry
from urne.verifier.cli.main import app as urne_verify
from urne.verifier.credentials.credential import (
    ISSUER_PUBLIC_KEY_SIZE,
    credential_message,
    verify_credential,
)
from urne.verifier.tlog.note import Ed25519Verifier

pytestmark = pytest.mark.slow  # real servers and processes: the full run

PID = "e2e-library-sundays"
#: Citizens who sign, and one more who obtains a credential but comes too late.
CITIZENS = 25
THRESHOLD = 20
LATE = f"ES-{CITIZENS:04d}"
PEOPLE = [f"ES-{i:04d}" for i in range(CITIZENS + 1)]
_T = "%Y-%m-%dT%H:%M:%SZ"


# --------------------------------------------------------------------------
# HTTP, as any client does it
# --------------------------------------------------------------------------


def send(http: httpx2.Client, method: str, path: str, **kwargs: Any) -> httpx2.Response:
    """One request; a ``429 rate_limited`` is waited out as its ``Retry-After``
    says (every request of this test comes from one loopback address)."""
    for _ in range(10):
        r = http.request(method, path, **kwargs)
        if r.status_code != 429:
            return r
        time.sleep(min(float(r.headers.get("retry-after", "1")), 5.0))
    return r


def post_entry(http: httpx2.Client, leaf: bytes) -> httpx2.Response:
    return send(
        http, "POST", "/entries", content=leaf, headers={"Content-Type": "application/json"}
    )


def log_size(http: httpx2.Client) -> int:
    size: int = expect(send(http, "GET", "/log"), 200)["size"]
    return size


def download_entries(http: httpx2.Client) -> list[bytes]:
    """Every entry of the log, as ``GET /log/entries/{i}`` serves its bytes."""
    size = log_size(http)
    out = []
    for i in range(size):
        body = expect(send(http, "GET", f"/log/entries/{i}"), 200)
        assert body["index"] == i
        out.append(base64.b64decode(body["data"]))
    return out


# --------------------------------------------------------------------------
# The institution
# --------------------------------------------------------------------------


class Institution:
    """The institution's side, with its own command line only: a key made
    with ``urne institution keygen`` (registered by the operator with
    ``urne institution add``), then ``urne process open``, ``urne roll
    import``, ``urne process close`` and ``urne process publish`` against the
    server, each saving the receipt of its entry."""

    NAME = "city-council"

    def __init__(self, dep: Deployment, receipts: Path) -> None:
        self.dep = dep
        self.key_file = dep.workdir / "institution.key"
        self.receipts = receipts
        r = dep.urne("institution", "keygen", self.NAME, "--out", self.key_file)
        [self.public_key] = [
            line.split()[-1] for line in r.stdout.splitlines() if line.startswith("public key:")
        ]
        assert len(b64decode(self.public_key, "institution key", size=32)) == 32
        assert self.key_file.stat().st_mode & 0o077 == 0, "the key file is private"

    def register(self) -> None:
        """The operator's step."""
        r = self.dep.urne("institution", "add", self.NAME, self.public_key)
        assert f"registered {self.NAME}" in r.stdout, r.stdout

    def _as_institution(self, *args: str | Path, server: str) -> str:
        return self.dep.urne(*args, "--server", server, "--key", self.key_file).stdout

    def open(self, server: str, petition: Path) -> Path:
        receipt = self.receipts / "institution-open.json"
        out = self._as_institution("process", "open", petition, "--receipt", receipt, server=server)
        assert f"opened {PID}: manifest at index" in out, out
        return receipt

    def import_roll(self, server: str, people: Path, codes_out: Path) -> None:
        out = self._as_institution(
            "roll", "import", PID, people, "--codes-out", codes_out, server=server
        )
        assert f"{len(PEOPLE)} people added to the roll of {PID}" in out, out
        assert codes_out.stat().st_mode & 0o077 == 0, "the codes file is private"

    def close(self, server: str) -> Path:
        receipt = self.receipts / "institution-close.json"
        out = self._as_institution("process", "close", PID, "--receipt", receipt, server=server)
        assert f"closed {PID}: close at index" in out, out
        return receipt

    def publish(self, server: str, log_key: str) -> tuple[Path, str]:
        """The result, certified from the institution's own recount of the
        process's open data (checked against the published ``log_key``)."""
        receipt = self.receipts / "institution-result.json"
        out = self._as_institution(
            "process", "publish", PID, "--log-key", log_key, "--receipt", receipt, server=server
        )
        assert "published: result at index" in out, out
        return receipt, out


def recount(entries: list[bytes], vkey: str) -> Registry:
    """Every entry replayed in log order under every rule, credentials checked;
    registrations and reservations answer to the log's key, ``vkey``."""
    registry = Registry(verify_credential, operator=Ed25519Verifier.from_vkey(vkey).public_key)
    for i, leaf in enumerate(entries):
        registry.admit(decode_entry(leaf), i)
    return registry


def write_petition(path: Path, process_id: str = PID) -> None:
    """A process description, as ``urne process open`` reads it."""
    now = datetime.now(UTC).replace(microsecond=0)
    spec = {
        "id": process_id,
        "type": "petition",
        "title": {"en": "Open the library on Sundays"},
        "text": {"en": "We ask the council to open the central library on Sundays."},
        "opens": (now - timedelta(days=1)).strftime(_T),
        "closes": (now + timedelta(days=30)).strftime(_T),
        "officials": [],
        "proposals": [],
        "rule": {"threshold": THRESHOLD},
    }
    path.write_text(json.dumps(spec, indent=1), encoding="utf-8")


def read_codes(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["person"]: row["code"] for row in csv.DictReader(fh)}


# --------------------------------------------------------------------------
# The citizens
# --------------------------------------------------------------------------


@dataclass
class Citizen:
    person: str
    pseudonym: Pseudonym
    credential: bytes
    receipt: dict[str, Any] | None = None
    receipt_file: Path | None = None


def obtain_credential(
    http: httpx2.Client, process_id: str, issuer_key: bytes, person: str, code: str
) -> Citizen:
    """What a citizen's device does: a fresh pseudonym, ``B = r·H(m)`` sent
    with the code, the answer unblinded and checked under the issuer key the
    manifest on the log announces."""
    pseudonym = Pseudonym.generate()
    state, blinded = blind(credential_message(process_id, pseudonym.public_key))
    r = send(
        http, "POST", f"/issuance/{process_id}", json={"code": code, "blinded": b64encode(blinded)}
    )
    answer = expect(r, 200)
    assert r.headers["cache-control"] == "no-store"
    credential = unblind(state, b64decode(answer["blind_signature"], "answer"), issuer_key)
    assert verify_credential(issuer_key, process_id, pseudonym.public_key, credential)
    return Citizen(person, pseudonym, credential)


def sign_petition(http: httpx2.Client, citizen: Citizen, process_id: str, out: Path) -> None:
    leaf = authoring.signature(process_id, citizen.pseudonym, citizen.credential)
    r = post_entry(http, leaf)
    receipt = expect(r, 201)
    assert r.headers["location"] == f"/entries/{receipt['index']}/receipt"
    assert base64.b64decode(receipt["entry"]) == leaf
    citizen.receipt = receipt
    citizen.receipt_file = out / f"{citizen.person}.json"
    citizen.receipt_file.write_text(json.dumps(receipt), encoding="utf-8")


# --------------------------------------------------------------------------
# Checking receipts with urne-verify
# --------------------------------------------------------------------------


def check_receipt_output(stdout: str, size: int | None) -> None:
    assert stdout.rstrip().endswith("VALID receipt"), stdout
    assert "2. entry " in stdout and "(inclusion proof): ok" in stdout, stdout
    if size is not None:
        assert f"latest checkpoint (size {size}) extends it (consistency proof): ok" in stdout, (
            stdout
        )


def verify_receipts(
    dep: Deployment, files: list[Path], vkey: str, log_url: str | None, size: int
) -> None:
    """``urne-verify receipt``, the installed command, on every file (two at a
    time): offline, or with ``--log`` against the live log, whose latest
    checkpoint has ``size``."""

    def one(file: Path) -> None:
        args: list[str | Path] = ["receipt", file, "--log-key", vkey]
        if log_url is not None:
            args += ["--log", log_url]
        check_receipt_output(dep.verify(*args).stdout, size if log_url is not None else None)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, files))


def verify_receipts_in_process(files: list[Path], vkey: str, log_url: str, size: int) -> None:
    """The same command's code (``urne.verifier.cli.main``) without a process per
    receipt: the checks after the restart, which repeat what the installed
    command checked before it (the log's state is the same)."""
    runner = CliRunner()
    for file in files:
        r = runner.invoke(urne_verify, ["receipt", str(file), "--log-key", vkey, "--log", log_url])
        assert r.exit_code == 0, r.output
        check_receipt_output(r.stdout, size)


def flip_bit(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def check_tampered_receipts(dep: Deployment, receipt: dict[str, Any], vkey: str) -> None:
    """One flipped bit in the entry, in the inclusion proof or in the
    checkpoint's signature: ``urne-verify receipt`` exits 1 and says why."""
    entry = base64.b64decode(receipt["entry"])
    proof = [base64.b64decode(h) for h in receipt["inclusion_proof"]]
    note, signature_line = receipt["checkpoint"].split("\n\n", 1)
    signer, signature = signature_line.rstrip("\n").rsplit(" ", 1)
    # the signature is a 4-byte key id then 64 bytes: flip one in the latter
    bad_signature = b64encode(flip_bit(base64.b64decode(signature), 40))
    tampered: list[tuple[str, str, dict[str, Any]]] = [
        ("entry", "root_mismatch", {"entry": b64encode(flip_bit(entry, len(entry) // 2))}),
        (
            "proof",
            "root_mismatch",
            {
                "inclusion_proof": [b64encode(flip_bit(proof[0], 7))]
                + [b64encode(h) for h in proof[1:]]
            },
        ),
        ("signature", "bad_signature", {"checkpoint": f"{note}\n\n{signer} {bad_signature}\n"}),
    ]
    for what, code, change in tampered:
        path = dep.workdir / f"tampered-{what}.json"
        path.write_text(json.dumps({**receipt, **change}), encoding="utf-8")
        r = dep.verify("receipt", path, "--log-key", vkey, expect=1)
        assert f"INVALID ({code})" in r.stdout, r.stdout
        assert "VALID receipt" not in r.stdout, r.stdout


# --------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------


def test_a_petition_from_opening_to_certified_result(deployment: Deployment) -> None:
    dep = deployment
    lap = Laps()
    receipts_dir = dep.workdir / "receipts"
    receipts_dir.mkdir()

    # 1. The operator: a new log (its verifier key is what it publishes), the
    #    institution's key registered (the log's first entry, signed by the
    #    log's key), the server started.
    r = dep.urne("init")
    [vkey] = [
        line.split()[-1] for line in r.stdout.splitlines() if line.startswith("verifier key:")
    ]
    assert vkey.startswith(f"{ORIGIN}+")
    institution = Institution(dep, receipts_dir)
    institution.register()
    server = dep.serve()
    http = httpx2.Client(base_url=server.url, timeout=30.0)
    info = expect(send(http, "GET", "/log"), 200)
    assert (info["origin"], info["verifier_key"], info["size"]) == (ORIGIN, vkey, 1)
    lap("operator")

    # 2. The institution: the petition, then its roll and the people's codes.
    petition = dep.workdir / "petition.json"
    write_petition(petition)
    institution_receipts = [institution.open(server.url, petition)]
    people = dep.workdir / "people.csv"
    people.write_text("person,name\n" + "".join(f"{p},Resident {p}\n" for p in PEOPLE))
    codes_file = dep.workdir / "codes.csv"
    institution.import_roll(server.url, people, codes_file)
    codes = read_codes(codes_file)
    assert sorted(codes) == PEOPLE and len(set(codes.values())) == len(PEOPLE)

    process = expect(send(http, "GET", f"/processes/{PID}"), 200)
    assert process["type"] == "petition" and process["rule"] == {"threshold": THRESHOLD}
    assert not process["closed"]
    assert process["roll_size"] == len(PEOPLE) and process["credentials_issued"] == 0
    issuer_key = b64decode(
        process["issuer"]["public_key"], "issuer.public_key", size=ISSUER_PUBLIC_KEY_SIZE
    )
    assert expect(send(http, "GET", f"/issuance/{PID}"), 200)["issuer"] == process["issuer"]

    #    The reservation of the id (made with the issuer key), then the manifest.
    manifest_index = json.loads(institution_receipts[0].read_text())["index"]
    assert manifest_index == 2

    #    A key the operator never registered gets no issuer key, so no process.
    rogue_key = dep.workdir / "rogue.key"
    dep.urne("institution", "keygen", "rogue-council", "--out", rogue_key)
    rogue_petition = dep.workdir / "rogue-petition.json"
    write_petition(rogue_petition, "e2e-rogue")
    r = dep.urne(
        "process", "open", rogue_petition, "--server", server.url, "--key", rogue_key, expect=1
    )
    assert "unknown_institution" in r.stderr, describe(r)
    assert [listed["id"] for listed in expect(send(http, "GET", "/processes"), 200)] == [PID]
    assert log_size(http) == manifest_index + 1
    lap("institution opens the petition")

    # 3. The citizens, several at once: a credential each, then their signature.
    def take_part(person: str) -> Citizen:
        citizen = obtain_credential(http, PID, issuer_key, person, codes[person])
        sign_petition(http, citizen, PID, receipts_dir)
        return citizen

    with ThreadPoolExecutor(max_workers=6) as pool:
        citizens = list(pool.map(take_part, PEOPLE[:CITIZENS]))
    late = obtain_credential(http, PID, issuer_key, LATE, codes[LATE])
    indices = sorted(c.receipt["index"] for c in citizens if c.receipt is not None)
    assert len(set(indices)) == CITIZENS
    lap("citizens sign")

    #    Refusals over real HTTP; none of them reaches the log or the roll.
    size_before = log_size(http)
    first = citizens[0]
    again = authoring.signature(PID, first.pseudonym, first.credential, seq=1)
    expect(post_entry(http, again), 409, "already_signed")
    _, blinded = blind(credential_message(PID, Pseudonym.generate().public_key))
    body = {"code": codes[first.person], "blinded": b64encode(blinded)}
    expect(send(http, "POST", f"/issuance/{PID}", json=body), 409, "already_issued")
    thief = Pseudonym.generate()  # someone else's credential on a pseudonym of one's own
    stolen = authoring.signature(PID, thief, citizens[1].credential)
    expect(post_entry(http, stolen), 422, "bad_credential")
    rogue = IssuerKey.generate()  # a credential from a key that is not the process's issuer
    state, blinded = blind(credential_message(PID, thief.public_key))
    forged = authoring.signature(
        PID, thief, unblind(state, rogue.sign_blinded(blinded), rogue.public_key)
    )
    expect(post_entry(http, forged), 422, "bad_credential")
    refused = {again, stolen, forged}
    assert log_size(http) == size_before
    process = expect(send(http, "GET", f"/processes/{PID}"), 200)
    assert process["credentials_issued"] == len(PEOPLE)
    assert process["tally"]["signatures"] == CITIZENS
    lap("refusals")

    # 4. The institution closes the petition (a close signed by another key,
    #    and a signature after the close, are refused) and publishes the result
    #    of its own recount.
    r = dep.urne("process", "close", PID, "--server", server.url, "--key", rogue_key, expect=1)
    assert "bad_entry_signature" in r.stderr, describe(r)
    institution_receipts.append(institution.close(server.url))
    late_signature = authoring.signature(PID, late.pseudonym, late.credential)
    expect(post_entry(http, late_signature), 409, "process_closed")
    refused.add(late_signature)
    result_receipt, published = institution.publish(server.url, vkey)
    institution_receipts.append(result_receipt)
    size = log_size(http)
    assert size == manifest_index + 1 + CITIZENS + 2
    lap("close and publish")

    # 5a. Every receipt with urne-verify: offline with the published key, then
    #     against the live log; a receipt with one flipped bit is refused.
    files = [c.receipt_file for c in citizens if c.receipt_file is not None]
    files += institution_receipts
    assert len(files) == CITIZENS + 3
    verify_receipts(dep, files, vkey, None, size)
    lap("receipts offline")
    verify_receipts(dep, files, vkey, server.url, size)
    lap("receipts against the live log")
    check_tampered_receipts(dep, citizens[2].receipt or {}, vkey)
    lap("tampered receipts")

    # 5b. The whole log, audited by an observer who keeps what it verified.
    state_dir = dep.workdir / "auditor"
    report_file = dep.workdir / "audit.json"
    r = dep.verify(
        "audit", "--log", server.url, "--log-key", vkey, "--state", state_dir, "--json", report_file
    )
    assert r.stdout.rstrip().endswith("PASSED"), r.stdout
    report = json.loads(report_file.read_text())
    assert report["ok"] and report["findings"] == []
    assert report["size"] == size and report["entries_checked"] == size
    assert report["credentials_checked"] == CITIZENS and report["results_compared"] == 1
    lap("audit")

    # 5c. The published result is the recount of the downloaded entries.
    entries = download_entries(http)
    assert len(entries) == size
    assert refused.isdisjoint(entries)
    for c in citizens:
        assert c.receipt is not None
        assert entries[c.receipt["index"]] == base64.b64decode(c.receipt["entry"])
    assert [json.loads(e)["kind"] for e in entries[: manifest_index + 1]] == [
        "institution",
        "reservation",
        "process",
    ]
    registry = recount(entries, vkey)
    assert registry.authority(PID) == [0, 1]  # the reservation, the registration
    assert [i.name for i in registry.institutions.values()] == [Institution.NAME]
    st = registry.state(PID)
    [(result_index, result)] = st.results
    assert isinstance(result, Result)
    assert st.closed_at is not None and st.closed_at < result_index == size - 1
    assert st.index <= result.through < result_index
    recounted = registry.tally(PID, result.through)
    assert canonical(result.tally) == canonical(recounted)
    assert recounted == {
        "process": PID,
        "type": "petition",
        "ballots": CITIZENS,
        "paper_batches": {},
        "signatures": CITIZENS,
        "paper_signatures": 0,
        "total": CITIZENS,
        "threshold": THRESHOLD,
        "reached": True,
        "reached_at": indices[THRESHOLD - 1],
    }
    assert report["tallies"][PID] == recounted
    [printed] = [line for line in published.splitlines() if line.startswith("{")]
    assert json.loads(printed) == recounted, published

    # 5d. The process's open data, checked and recounted by urne-verify export.
    opendata = dep.workdir / "opendata"
    opendata.mkdir()
    for name in ("entries.jsonl", "results.csv"):
        answer = send(http, "GET", f"/processes/{PID}/{name}")
        assert answer.status_code == 200, answer.text
        (opendata / name).write_bytes(answer.content)
    out = dep.verify("export", opendata, "--log-key", vkey).stdout
    assert out.rstrip().endswith("VALID export"), out
    assert f"2. {size} entries (indices 0 to {size - 1})" in out, out
    assert f"4. credentials checked: {CITIZENS}: ok" in out, out
    assert "6. results.csv equals the recount: ok" in out, out
    assert f"outcome: published, the result at index {result_index}" in out, out
    [tally_line] = [line for line in out.splitlines() if line.startswith("tally: ")]
    assert json.loads(tally_line.removeprefix("tally: ")) == recounted, out

    # 5e. And the service says the same.
    process = expect(send(http, "GET", f"/processes/{PID}"), 200)
    assert process["closed"] and process["closed_at"] == st.closed_at
    assert process["results"] == [{"index": result_index, "through": result.through}]
    assert process["tally"] == recounted
    assert expect(send(http, "GET", f"/processes/{PID}/tally"), 200) == recounted
    assert process["credentials_issued"] == process["roll_size"] == len(PEOPLE)
    checkpoint_before = send(http, "GET", "/checkpoint").text
    http.close()
    lap("recounts")

    # 6. A restart on the same database: the same log, every receipt still in it.
    assert server.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert "Application shutdown complete." in server.output(), server.output()
    server = dep.serve()
    http = httpx2.Client(base_url=server.url, timeout=30.0)
    info = expect(send(http, "GET", "/log"), 200)
    assert (info["size"], info["verifier_key"]) == (size, vkey)
    # the same size and root (the signature may be a new one)
    assert (
        send(http, "GET", "/checkpoint").text.split("\n")[:3] == checkpoint_before.split("\n")[:3]
    )
    lap("restart")
    verify_receipts_in_process(files, vkey, server.url, size)
    verify_receipts(dep, [files[0]], vkey, server.url, size)  # and the installed command once
    r = dep.verify("audit", "--log", server.url, "--log-key", vkey, "--state", state_dir)
    assert f"had verified it up to size {size}" in r.stdout, r.stdout
    assert r.stdout.rstrip().endswith("PASSED"), r.stdout
    assert expect(send(http, "GET", f"/processes/{PID}"), 200)["tally"] == recounted
    http.close()
    server.assert_running()
    lap("receipts and audit after the restart")
