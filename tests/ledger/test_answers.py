"""Answers on the service and in the audit: dated by the service's clock,
exported with their process, a forged answer caught with evidence, and the
answers a manifest promised that are late or missing reported."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.civic import IN_2026, Citizen, Institution, institution_name, open_in
from tests.support.evidence import audit_catches
from tests.support.exported import exported_log
from urne.ledger.civic.opendata import entries_jsonl, open_export
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.check.audit import DirectorySource, audit
from urne.verifier.check.opendata import check_export
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import OperatorKey
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.civic.process import EntryRefused
from urne.verifier.tlog.note import Ed25519Signer

NOW = "2026-06-01T00:00:00Z"  # IN_2026
BY = "2026-09-30T00:00:00Z"


def _petition(inst: Institution) -> bytes:
    return inst.process(
        "pet", "petition", rule={"threshold": 1}, answers={"by": BY, "proposals": []}
    )


def test_the_service_holds_an_answer_to_its_clock_and_exports_it(log: Log) -> None:
    civic = CivicRecord(log, clock=lambda: IN_2026)
    inst = Institution()
    open_in(civic, _petition(inst))
    civic.append(Citizen.enrol(inst, "pet").ballot())
    for when in ("2026-05-31T23:54:59Z", "2026-06-01T00:05:01Z"):
        with pytest.raises(EntryRefused) as e:
            civic.append(authoring.answer("pet", inst.key, None, "in_study", "Soon.", when))
        assert e.value.code == "answer_time_off"
    at = civic.append(
        authoring.answer("pet", inst.key, None, "accepted", "Yes.", "2026-06-01T00:04:00Z")
    )
    lines = list(entries_jsonl(open_export(civic, "pet")))
    report = check_export(lines, log.verifier)
    assert report.last_index == at
    assert report.state is not None and report.state.answers[None][0][0] == at


def _leaves(signer: Ed25519Signer, inst: Institution, answered: bool) -> list[bytes]:
    operator = OperatorKey(signer)
    key = inst.key.public_key
    manifest = _petition(inst)
    p = decode_entry(manifest).body
    issuer = {"public_key": b64encode(p.issuer_key), "threshold": 1, "shares": 1}  # type: ignore[union-attr]
    out = [
        authoring.registration(institution_name(key), key, operator),
        authoring.reservation("pet", key, issuer, operator),
        manifest,
        Citizen.enrol(inst, "pet").ballot(),
    ]
    if answered:
        out.append(authoring.answer("pet", inst.key, None, "accepted", "Yes.", NOW))
    return out


def test_the_audit_reports_a_promised_answer_missing_past_its_deadline(tmp_path: Path) -> None:
    signer, inst = Ed25519Signer.generate("audit.example/answers"), Institution()
    r = audit(
        DirectorySource(exported_log(tmp_path, "late", signer, _leaves(signer, inst, False))),
        signer.verifier,
    )
    # the deadline has passed by the auditor's clock (BY is in the past)
    assert datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") > BY
    assert r.ok, r.findings  # a late institution is reported, the log is not at fault
    assert r.answers_behind == {
        "pet": [{"about": None, "state": "overdue", "status": None, "index": None}]
    }
    r = audit(
        DirectorySource(exported_log(tmp_path, "good", signer, _leaves(signer, inst, True))),
        signer.verifier,
    )
    assert r.ok and r.answers_behind == {}


def test_the_audit_catches_an_answer_by_another_key(tmp_path: Path) -> None:
    signer, inst = Ed25519Signer.generate("audit.example/answers"), Institution()
    leaves = _leaves(signer, inst, False)
    forged = authoring.answer("pet", Institution().key, None, "rejected", "No.", NOW)
    audit_catches(tmp_path, signer, [*leaves, forged], 4, "bad_entry_signature")


def test_the_audit_catches_an_answer_after_a_decision(tmp_path: Path) -> None:
    signer, inst = Ed25519Signer.generate("audit.example/answers"), Institution()
    leaves = _leaves(signer, inst, True)
    again = authoring.answer("pet", inst.key, None, "rejected", "No after all.", NOW)
    audit_catches(tmp_path, signer, [*leaves, again], 6, "already_answered")


def test_urne_verify_export_says_where_each_promised_answer_stands(
    log: Log, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from urne.verifier.cli.main import app

    civic = CivicRecord(log, clock=lambda: IN_2026)
    inst = Institution()
    open_in(civic, _petition(inst))
    civic.append(Citizen.enrol(inst, "pet").ballot())
    at = civic.append(authoring.answer("pet", inst.key, None, "accepted", "Yes.", NOW))
    (tmp_path / "e.jsonl").write_bytes(b"".join(entries_jsonl(open_export(civic, "pet"))))
    out = CliRunner().invoke(
        app, ["export", str(tmp_path / "e.jsonl"), "--log-key", log.verifier.vkey]
    )
    assert out.exit_code == 0, out.output
    assert f"answers promised by {BY}: 1 due" in out.output
    assert f"  the petition: answered, last accepted at index {at}" in out.output
