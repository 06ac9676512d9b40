"""``urne process answer``: an institution answers a petition over HTTP, in
two languages; bad input is refused before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.service import serving
from urne.api.cli.main import app as urne
from urne.ledger.db.settings import Settings
from urne.ledger.log import Log

runner = CliRunner()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Log]]:
    from urne.api.main import create_app, open_log

    monkeypatch.setenv("URNE_DATABASE_URL", f"sqlite:///{tmp_path / 'urne.db'}")
    monkeypatch.setenv("URNE_ISSUANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'issuance.db'}")
    monkeypatch.setenv("URNE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("URNE_ORIGIN", "answers.example/log")
    settings = Settings()
    log = open_log(settings)
    try:
        with serving(create_app(log, settings, rate_limit=None)) as base:
            yield base, log
    finally:
        log.close()


def _run(args: list[str], code: int = 0) -> str:
    r = runner.invoke(urne, args)
    assert r.exit_code == code, r.output
    return r.output


def test_an_institution_answers_a_petition(tmp_path: Path, served: tuple[str, Log]) -> None:
    base, log = served
    key = tmp_path / "city.json"
    out = _run(["institution", "keygen", "city-hall", "--out", str(key)])
    _run(["institution", "add", "city-hall", out.split("public key:")[1].split()[0]])
    srv = ["--server", base, "--key", str(key)]
    desc = {
        "id": "trees",
        "type": "petition",
        "title": {"en": "Plant trees"},
        "text": {"en": "Plant a tree per child born."},
        "opens": "2020-01-01T00:00:00Z",
        "closes": "2099-12-31T23:59:59Z",
        "rule": {"threshold": 1},
        "answers": {"by": "2099-12-31T23:59:59Z", "proposals": []},
    }
    (tmp_path / "trees.json").write_text(json.dumps(desc))
    _run(["process", "open", str(tmp_path / "trees.json"), *srv])
    size = log.size
    assert "expected one of" in _run(
        ["process", "answer", "trees", "--status", "maybe", "--text", "x", *srv], 2
    )
    assert "one plain text" in _run(
        ["process", "answer", "trees", "--status", "accepted", "--text", "a", "--text", "b", *srv],
        2,
    )
    assert log.size == size
    out = _run(
        [
            "process",
            "answer",
            "trees",
            "--status",
            "in_study",
            "--cost",
            "250000",
            "--text",
            "fr:Le conseil étudie la demande.",
            "--text",
            "en:The council studies it.",
            *srv,
        ]
    )
    assert "answered the petition of trees (in_study)" in out
    entry = json.loads(log.entries(log.size - 1, log.size)[0])
    assert entry["kind"] == "answer" and entry["about"] is None and entry["cost"] == 250000
    assert entry["text"] == {"fr": "Le conseil étudie la demande.", "en": "The council studies it."}
    _run(["process", "answer", "trees", "--status", "accepted", "--text", "Planted.", *srv])
    out = _run(["process", "answer", "trees", "--status", "rejected", "--text", "No.", *srv], 1)
    assert "already_answered" in out
    out = _run(
        [
            "process",
            "answer",
            "trees",
            "--proposal",
            "p1",
            "--status",
            "accepted",
            "--text",
            "x",
            *srv,
        ],
        1,
    )
    assert "unknown_proposal" in out
