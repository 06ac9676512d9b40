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

from api.main import create_app
from ledger import Log
from ledger.civic import CivicRecord
from ledger.export import export_tiles
from tests.civic import Citizen, Institution
from verifier.cli import app as urne_verify

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
    rec.append(inst.process("pet", "petition"))
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
    assert data["ok"] and data["entries_checked"] == 301 and data["credentials_checked"] == 300
    close = rec.append(inst.close("pet"))
    rec.append(inst.result("pet", close, rec.tally("pet", close)))
    r = runner.invoke(
        urne_verify,
        ["audit", "--log", url, "--log-key", key, "--state", str(state), "--json", str(report)],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(report.read_text())
    assert data["previous_size"] == 301 and data["entries_checked"] == 2
    assert data["tallies"]["pet"]["signatures"] == 300


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
    assert "3. the log's latest checkpoint (size 302) extends it" in r.output
    bad = json.loads(f.read_text())
    bad["index"] = 6  # inside the tree, but not where this entry is
    f.write_text(json.dumps(bad))
    r = runner.invoke(urne_verify, ["receipt", str(f), "--log-key", key])
    assert r.exit_code == 1 and "INVALID (root_mismatch)" in r.output


def test_pb_command_prints_the_funded_projects() -> None:
    from tests.conftest import VECTORS

    expected = json.loads((VECTORS / "pabulib" / "expected_outcomes.json").read_text())
    r = runner.invoke(
        urne_verify,
        ["pb", str(VECTORS / "pabulib" / "Netherlands_Assen_2024.pb"), "--rule", "mes-then-greedy"],
    )
    assert r.exit_code == 0, r.output
    want = expected["outcomes"]["Netherlands_Assen_2024.pb"]["mes_then_greedy"]
    assert r.output.split() == want
