"""A sortition through the command lines, as an institution and an observer
run them against the service over HTTP: the description names the pool file
and the beacon's time, ``urne process open`` completes it; ``urne process
draw`` takes the round's published signature and appends the panel;
``urne-verify sortition`` replays it from the open data."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.service import serving
from tests.support.sortition import ROUND, ROUNDS, SIGNATURE, pool_file, quotas
from urne.api.cli.main import app as urne
from urne.ledger.db.settings import Settings
from urne.ledger.log import Log
from urne.verifier.civic.beacon import QUICKNET
from urne.verifier.cli.main import app as urne_verify

runner = CliRunner()
#: the service's clock: before the round the tests name (released 2024-10-14)
BEFORE = datetime(2024, 10, 1, tzinfo=UTC)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Log]]:
    from urne.api.main import create_app, open_log

    monkeypatch.setenv("URNE_DATABASE_URL", f"sqlite:///{tmp_path / 'urne.db'}")
    monkeypatch.setenv("URNE_ISSUANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'issuance.db'}")
    monkeypatch.setenv("URNE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("URNE_ORIGIN", "panel.example/log")
    settings = Settings()
    log = open_log(settings)
    app = create_app(log, settings, rate_limit=None, clock=lambda: BEFORE)
    try:
        with serving(app) as base:
            yield base, log
    finally:
        log.close()


def _ok(app: object, args: list[str]) -> str:
    r = runner.invoke(app, args)  # type: ignore[arg-type]
    assert r.exit_code == 0, r.output
    return r.output


def test_a_panel_from_the_description_to_the_replay(
    tmp_path: Path, served: tuple[str, Log]
) -> None:
    base, log = served
    key = tmp_path / "city.json"
    out = _ok(urne, ["institution", "keygen", "city-hall", "--out", str(key)])
    _ok(urne, ["institution", "add", "city-hall", out.split("public key:")[1].split()[0]])
    srv = ["--server", base, "--key", str(key)]
    pool = pool_file(5000)
    (tmp_path / "pool.csv").write_bytes(pool)
    released = QUICKNET.round_iso(ROUND)
    desc = {
        "id": "panel-2024",
        "type": "sortition",
        "title": {"fr": "Convention citoyenne", "en": "Citizens' convention"},
        "text": {"fr": "Trente membres tirés au sort.", "en": "Thirty members drawn by lot."},
        "opens": "2024-09-01T00:00:00Z",
        "closes": "2024-12-31T23:59:59Z",
        "rule": {
            "seats": 30,
            "pool": {"file": "pool.csv"},
            "quotas": quotas(30),
            "algorithm": "urne-legacy-v1",
            "attempts": 100,
            # the first round released at or after this time: ROUND itself
            "beacon": {"at": released.replace(":33Z", ":31Z")},
        },
    }
    (tmp_path / "panel.json").write_text(json.dumps(desc))
    out = _ok(urne, ["process", "open", str(tmp_path / "panel.json"), *srv, "--allow-past"])
    assert "opened panel-2024" in out
    manifest = json.loads(log.entries(log.size - 1, log.size)[0])
    assert manifest["rule"]["beacon"]["round"] == ROUND
    assert manifest["rule"]["pool"]["people"] == 5000
    assert manifest["rule"]["pool"]["features"] == ["gender", "age", "area"]

    # a wrong signature, or a signature of another round, is refused before anything is sent
    size = log.size
    for bad in ("zz", ROUNDS[1000].hex()):
        r = runner.invoke(
            urne,
            [
                "process",
                "draw",
                "panel-2024",
                "--pool",
                str(tmp_path / "pool.csv"),
                "--beacon",
                bad,
                *srv,
            ],
        )
        assert r.exit_code == 2, r.output
    assert log.size == size
    (tmp_path / "other.csv").write_bytes(pool_file(5000, seed=8))
    r = runner.invoke(
        urne,
        [
            "process",
            "draw",
            "panel-2024",
            "--pool",
            str(tmp_path / "other.csv"),
            "--beacon",
            SIGNATURE.hex(),
            *srv,
        ],
    )
    assert r.exit_code == 2 and "pool_mismatch" in r.output, r.output

    out = _ok(
        urne,
        [
            "process",
            "draw",
            "panel-2024",
            "--pool",
            str(tmp_path / "pool.csv"),
            "--beacon",
            SIGNATURE.hex(),
            *srv,
            "--log-key",
            log.verifier.vkey,
        ],
    )
    assert "drew panel-2024: 30 members" in out
    first = next(line for line in out.splitlines() if line.strip().startswith("1. "))

    with urllib.request.urlopen(f"{base}/processes/panel-2024/entries.jsonl") as answer:
        (tmp_path / "e.jsonl").write_bytes(answer.read())
    out = _ok(
        urne_verify,
        [
            "sortition",
            str(tmp_path / "e.jsonl"),
            "--pool",
            str(tmp_path / "pool.csv"),
            "--log-key",
            log.verifier.vkey,
        ],
    )
    assert "VALID sortition" in out and first in out
    with urllib.request.urlopen(f"{base}/processes/panel-2024/results.csv") as answer:
        rows = answer.read().decode().splitlines()
    assert len(rows) == 31 and rows[0].endswith("seat,member,gender,age,area")

    # a second draw is refused by the service
    r = runner.invoke(
        urne,
        [
            "process",
            "draw",
            "panel-2024",
            "--pool",
            str(tmp_path / "pool.csv"),
            "--beacon",
            SIGNATURE.hex(),
            *srv,
        ],
    )
    assert r.exit_code == 1 and "already_drawn" in r.output, r.output
