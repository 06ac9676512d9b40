"""The two command lines, as a newcomer runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as urne
from verifier.cli import app as urne_verify

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("URNE_DATABASE_URL", f"sqlite:///{tmp_path / 'urne.db'}")
    monkeypatch.setenv("URNE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("URNE_ORIGIN", "cli.example/log")
    return tmp_path


def _vkey(out: str) -> str:
    line = next(x for x in out.splitlines() if x.startswith("verifier key:"))
    return line.split()[-1]


def test_init_append_checkpoint_and_verify(env: Path) -> None:
    r = runner.invoke(urne, ["init"])
    assert r.exit_code == 0, r.output
    vkey = _vkey(r.output)
    assert vkey.startswith("cli.example/log+")
    (env / "a.json").write_bytes(b'{"a": 1}')
    (env / "b.json").write_bytes(b'{"b": 2}')
    r = runner.invoke(urne, ["append", str(env / "a.json"), str(env / "b.json")])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [f"0\t{env / 'a.json'}", f"1\t{env / 'b.json'}"]
    r = runner.invoke(urne, ["checkpoint"])
    assert r.exit_code == 0 and r.output.startswith("cli.example/log\n2\n")
    cp = env / "cp.txt"
    cp.write_text(r.output)

    r = runner.invoke(urne_verify, ["checkpoint", str(cp), "--log-key", vkey])
    assert r.exit_code == 0, r.output
    assert "VALID checkpoint" in r.output and "size:   2" in r.output

    cp.write_text(cp.read_text().replace("\n2\n", "\n3\n"))  # claim a size never signed
    r = runner.invoke(urne_verify, ["checkpoint", str(cp), "--log-key", vkey])
    assert r.exit_code == 1
    assert "INVALID (bad_signature)" in r.output


def test_verify_refuses_unusable_key_and_missing_file(env: Path) -> None:
    r = runner.invoke(urne_verify, ["checkpoint", str(env / "cp.txt"), "--log-key", "nonsense"])
    assert r.exit_code == 2 and "log key is not usable" in r.output
    r = runner.invoke(
        urne_verify,
        [
            "checkpoint",
            str(env / "nope.txt"),
            "--log-key",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        ],
    )
    assert r.exit_code == 2 and "cannot read" in r.output


def test_bad_settings_are_refused_clearly(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URNE_ORIGIN", "https://has a space")
    r = runner.invoke(urne, ["init"])
    assert r.exit_code == 2 and "origin must be a schema-less URL" in r.output


def test_append_refuses_oversized_entry(env: Path) -> None:
    big = env / "big.bin"
    big.write_bytes(b"x" * 70000)
    r = runner.invoke(urne, ["append", str(big)])
    assert r.exit_code == 1
    assert "70000 bytes, the most is 65535" in r.output


def test_fingerprint_matches_decidim(tmp_path: Path) -> None:
    from tests.conftest import load_vector

    for case in load_vector("decidim/fingerprints.json")["cases"]:
        f = tmp_path / f"{case['name']}.json"
        f.write_text(json.dumps(case["fields"], indent=2, ensure_ascii=False), encoding="utf-8")
        r = runner.invoke(urne_verify, ["fingerprint", str(f)])
        assert r.exit_code == 0, r.output
        assert r.output == case["fingerprint"] + "\n"


def test_fingerprint_refuses_what_it_cannot_hash(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"title": "t", "body": 1.5}')
    r = runner.invoke(urne_verify, ["fingerprint", str(f)])
    assert r.exit_code == 2 and "error:" in r.output
    f.write_text("[1, 2]")
    r = runner.invoke(urne_verify, ["fingerprint", str(f)])
    assert r.exit_code == 2 and "JSON object" in r.output
    f.write_text("{nope")
    r = runner.invoke(urne_verify, ["fingerprint", str(f)])
    assert r.exit_code == 2 and "not JSON" in r.output
