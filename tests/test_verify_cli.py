"""urne-verify against the real service over HTTP on loopback: audit through
the tile endpoints, a receipt checked offline and against the live log."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from tests.support.civic import Citizen, Institution, open_in
from urne.api.main import create_app
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.ledger.log.export import export_tiles
from urne.verifier.cli.main import app as urne_verify

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Log, CivicRecord, Institution]]:
    log = Log.open(
        f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="cli.example/log"
    )
    rec = CivicRecord(log)
    inst = Institution()
    open_in(rec, inst.process("pet", "petition"))
    for _ in range(300):  # more than one tile
        rec.append(Citizen.enrol(inst, "pet").ballot())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(log), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", log, rec, inst
    finally:
        server.should_exit = True
        thread.join(10)
        log.close()


@pytest.mark.slow
def test_audit_over_http_then_incrementally(
    served: tuple[str, Log, CivicRecord, Institution], tmp_path: Path
) -> None:
    url, log, rec, inst = served
    key = log.verifier.vkey
    state, report = tmp_path / "state", tmp_path / "report.json"
    r = runner.invoke(
        urne_verify,
        ["audit", "--log", url, "--log-key", key, "--state", str(state), "--json", str(report)],
    )
    assert r.exit_code == 0, r.output
    assert "PASSED" in r.output and "7. recount" in r.output
    data = json.loads(report.read_text())
    # the registration, the reservation, the manifest and 300 signatures
    size = log.size
    assert size == 303
    assert data["ok"] and data["entries_checked"] == size and data["credentials_checked"] == 300
    close = rec.append(inst.close("pet"))
    rec.append(inst.result("pet", close, rec.tally("pet", close)))
    r = runner.invoke(
        urne_verify,
        ["audit", "--log", url, "--log-key", key, "--state", str(state), "--json", str(report)],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(report.read_text())
    assert data["previous_size"] == size and data["entries_checked"] == 2
    assert data["tallies"]["pet"]["signatures"] == 300


@pytest.mark.slow
def test_audit_of_an_exported_directory_and_a_wrong_key(
    served: tuple[str, Log, CivicRecord, Institution], tmp_path: Path
) -> None:
    _, log, _, _ = served
    export_tiles(log, tmp_path / "export")
    ok = runner.invoke(
        urne_verify, ["audit", "--log", str(tmp_path / "export"), "--log-key", log.verifier.vkey]
    )
    assert ok.exit_code == 0, ok.output
    other = "cli.example/log+a7b2ab7f+AXg3sOrOO7FDPqLZ56JMHk8qJpXsXaJ0Bp1vd3w5yd+A"
    r = runner.invoke(urne_verify, ["audit", "--log", str(tmp_path / "export"), "--log-key", other])
    assert r.exit_code in (1, 2)
    assert "FAILED" in r.output or "not usable" in r.output


@pytest.mark.slow
def test_receipt_offline_and_against_the_live_log(
    served: tuple[str, Log, CivicRecord, Institution], tmp_path: Path
) -> None:
    url, log, rec, inst = served
    f = tmp_path / "receipt.json"
    f.write_text(json.dumps(log.receipt(7).to_json()))
    key = log.verifier.vkey
    r = runner.invoke(urne_verify, ["receipt", str(f), "--log-key", key])
    assert r.exit_code == 0 and "VALID receipt" in r.output, r.output
    rec.append(Citizen.enrol(inst, "pet").ballot())  # the log grows afterwards
    r = runner.invoke(urne_verify, ["receipt", str(f), "--log-key", key, "--log", url])
    assert r.exit_code == 0, r.output
    assert f"3. the log's latest checkpoint (size {log.size}) extends it" in r.output
    bad = json.loads(f.read_text())
    bad["index"] = 6  # inside the tree, but not where this entry is
    f.write_text(json.dumps(bad))
    r = runner.invoke(urne_verify, ["receipt", str(f), "--log-key", key])
    assert r.exit_code == 1 and "INVALID (root_mismatch)" in r.output


def test_a_log_that_does_not_answer_is_could_not_check_exit_2(tmp_path: Path) -> None:
    """ "Could not check" (exit 2) is never "invalid" (exit 1)."""
    with Log.open(
        f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="cli.example/log"
    ) as log:
        log.append(b"an entry")
        receipt, key = log.receipt(0).to_json(), log.verifier.vkey
    f = tmp_path / "receipt.json"
    f.write_text(json.dumps(receipt))
    down = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    r = runner.invoke(urne_verify, ["receipt", str(f), "--log-key", key, "--log", down])
    assert r.exit_code == 2, r.output
    assert "COULD NOT CHECK (fetch_failed)" in r.output and "INVALID" not in r.output
    r = runner.invoke(urne_verify, ["audit", "--log", down, "--log-key", key])
    assert r.exit_code == 2, r.output
    assert "could not run" in r.output and "FAILED" not in r.output


def test_pb_command_prints_the_funded_projects() -> None:
    from tests.support.paths import VECTORS

    expected = json.loads((VECTORS / "pabulib" / "expected_outcomes.json").read_text())
    r = runner.invoke(
        urne_verify,
        ["pb", str(VECTORS / "pabulib" / "Netherlands_Assen_2024.pb"), "--rule", "mes-then-greedy"],
    )
    assert r.exit_code == 0, r.output
    want = expected["outcomes"]["Netherlands_Assen_2024.pb"]["mes_then_greedy"]
    assert r.output.split() == want


# --------------------------------------------------------------------------
# urne-verify export: a process as open data
# --------------------------------------------------------------------------


@pytest.fixture
def exported_process(tmp_path: Path) -> Iterator[tuple[Path, Log, CivicRecord, Institution]]:
    """A vote with ballots, a revote, a paper batch, its close and its result,
    exported with ``urne export``'s function into a directory."""
    from datetime import UTC, datetime

    from urne.ledger.civic.opendata import export_process

    log = Log.open(
        f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="cli.example/log"
    )
    rec = CivicRecord(log, clock=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    inst = Institution()
    open_in(rec, inst.process("other", "petition"))
    open_in(rec, inst.process("v", "vote"))
    people = [Citizen.enrol(inst, "v") for _ in range(5)]
    for k, c in enumerate(people):
        rec.append(c.ballot([("a", "b", "c")[k % 3]]))
        rec.append(Citizen.enrol(inst, "other").ballot())
    rec.append(people[0].ballot(["c"]))  # a revote
    rec.append(inst.paper("v", "hall-1", counts={"b": 4}))
    close = rec.append(inst.close("v"))
    rec.append(inst.result("v", close, rec.tally("v", close)))
    export_process(rec, "v", tmp_path / "v")
    try:
        yield tmp_path / "v", log, rec, inst
    finally:
        log.close()


def test_export_valid_with_its_results(
    exported_process: tuple[Path, Log, CivicRecord, Institution],
) -> None:
    folder, log, _, _ = exported_process
    key = log.verifier.vkey
    r = runner.invoke(
        urne_verify,
        [
            "export",
            str(folder / "entries.jsonl"),
            "--results",
            str(folder / "results.csv"),
            "--key",
            key,
        ],
    )
    assert r.exit_code == 0, r.output
    out = r.output
    assert "process: v" in out
    # the registration of the institution (the log's first entry), the
    # reservation of "v", its manifest, 6 ballots, a paper batch, the close,
    # and the result (the log's last entry), after the close
    result = log.size - 1
    assert f"2. 12 entries (indices 0 to {result})" in out
    assert "4. credentials checked: 6: ok" in out
    assert "5. published results equal to the recount: 1" in out
    assert "6. results.csv equals the recount: ok" in out
    assert (
        f"outcome: published, the result at index {result} (counting through index {result - 1})"
        in out
    )
    assert '"total":{"a":1,"b":6,"c":2}' in out and '"winners":["b"]' in out
    assert out.rstrip().endswith("VALID export")
    # a directory: its entries.jsonl and results.csv; --log-key works as for the others
    r = runner.invoke(urne_verify, ["export", str(folder), "--log-key", key])
    assert r.exit_code == 0 and "6. results.csv equals the recount: ok" in r.output, r.output


def test_export_tampered_or_unusable(
    exported_process: tuple[Path, Log, CivicRecord, Institution], tmp_path: Path
) -> None:
    folder, log, _, _ = exported_process
    key = log.verifier.vkey
    lines = (folder / "entries.jsonl").read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    # the header, the registration, the reservation, the manifest, then ballots
    assert [json.loads(x)["entry"]["kind"] for x in lines[1:6]] == [
        "institution",
        "reservation",
        "process",
        "ballot",
        "ballot",
    ]
    bad.write_bytes(b"".join(lines[:5] + lines[6:]))  # the second ballot dropped
    r = runner.invoke(urne_verify, ["export", str(bad), "--key", key])
    assert r.exit_code == 1
    assert "INVALID (wrong_result): line" in r.output and "VALID export" not in r.output
    bad.write_bytes(b"".join(lines).replace(b'"seq":0', b'"seq":7', 1))
    r = runner.invoke(urne_verify, ["export", str(bad), "--key", key])
    first_ballot = json.loads(lines[4])["index"]
    assert r.exit_code == 1, r.output
    assert f"INVALID (leaf_hash_mismatch): line 5 (index {first_ballot})" in r.output
    csv = tmp_path / "results.csv"
    csv.write_bytes((folder / "results.csv").read_bytes().replace(b",true", b",false"))
    r = runner.invoke(
        urne_verify, ["export", str(folder / "entries.jsonl"), "--results", str(csv), "--key", key]
    )
    assert r.exit_code == 1 and "INVALID (wrong_results_csv): results.csv line" in r.output
    other = "cli.example/log+a7b2ab7f+AXg3sOrOO7FDPqLZ56JMHk8qJpXsXaJ0Bp1vd3w5yd+A"
    r = runner.invoke(urne_verify, ["export", str(folder), "--key", other])
    assert r.exit_code in (1, 2)
    assert "INVALID" in r.output or "not usable" in r.output
    r = runner.invoke(urne_verify, ["export", str(tmp_path / "missing.jsonl"), "--key", key])
    assert r.exit_code == 2 and "cannot read" in r.output
    r = runner.invoke(urne_verify, ["export", str(folder), "--key", "not-a-key"])
    assert r.exit_code == 2 and "not usable" in r.output
