"""A sortition on the service's civic record, end to end without HTTP: the
manifest refused unless its round is ahead of the clock, the draw computed
from the open data and the pool, appended, replayed by an observer with the
log's key alone; a dishonest panel caught with evidence; the audit's rules
on the draw; ``results.csv`` one row per member."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.civic import Institution, institution_name, open_in
from tests.support.evidence import audit_catches, check_evidence
from tests.support.exported import exported_log
from tests.support.sortition import ROUND, ROUNDS, SIGNATURE, pool_file, rule
from urne.ledger.civic.opendata import entries_jsonl, open_export, results_csv_bytes
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.check.audit import DirectorySource, audit
from urne.verifier.check.opendata import ExportReport, check_export
from urne.verifier.check.sortition import SortitionMismatch, compute_draw, replay
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import OperatorKey
from urne.verifier.civic.beacon import QUICKNET
from urne.verifier.civic.entries import decode_entry
from urne.verifier.civic.process import EntryConflict
from urne.verifier.cli.main import app as verify_app
from urne.verifier.tlog.note import Ed25519Signer

PID = "panel-2026"
#: before the round the tests name (released 2024-10-14T17:13:33Z)
BEFORE = datetime(2024, 6, 1, tzinfo=UTC)


def _export(civic: CivicRecord) -> tuple[list[bytes], ExportReport]:
    lines = list(entries_jsonl(open_export(civic, PID)))
    return lines, check_export(lines, civic.log.verifier)


@pytest.fixture
def opened(log: Log) -> tuple[CivicRecord, Institution, bytes]:
    civic = CivicRecord(log, clock=lambda: BEFORE)
    inst = Institution(officials=[])
    pool = pool_file(2000)
    manifest = inst.process(
        PID, "sortition", rule=rule(pool, 30), proposals=[], opens="2024-01-01T00:00:00Z"
    )
    open_in(civic, manifest)
    return civic, inst, pool


def test_a_round_already_out_or_about_to_be_is_refused(log: Log) -> None:
    inst = Institution(officials=[])
    pool = pool_file(200)
    released = datetime.fromtimestamp(QUICKNET.round_time(ROUND), UTC)
    for k, now in enumerate((released, released - timedelta(seconds=59))):
        manifest = inst.process(
            f"{PID}-{k}", "sortition", rule=rule(pool, 10), proposals=[],
            opens="2024-01-01T00:00:00Z",
        )  # fmt: skip
        civic = CivicRecord(log, clock=lambda now=now: now)
        with pytest.raises(EntryConflict) as e:
            open_in(civic, manifest)
        assert e.value.code == "round_not_ahead"
        assert "60 s" in str(e.value)
    # a minute ahead is enough
    civic = CivicRecord(log, clock=lambda: released - timedelta(seconds=60))
    open_in(civic, inst.process(PID, "sortition", rule=rule(pool, 10), proposals=[],
                                opens="2024-01-01T00:00:00Z"))  # fmt: skip


def test_the_draw_replays_from_the_open_data_and_the_pool(
    opened: tuple[CivicRecord, Institution, bytes], tmp_path: Path
) -> None:
    civic, inst, pool = opened
    lines, report = _export(civic)
    got = compute_draw(report, pool, SIGNATURE)
    assert len(got.panel) == 30
    # the seed binds the log as it stood just after the manifest
    manifest_index = civic.process(PID).index
    assert got.size == manifest_index + 1
    assert got.root == civic.log.root(manifest_index + 1)
    draw = authoring.draw(
        PID, inst.key, ROUND, SIGNATURE, got.outcome.attempt, [(m.id, m.values) for m in got.panel]
    )
    at = civic.append(draw)
    lines, report = _export(civic)
    again = replay(report, pool)
    assert again.panel == got.panel
    tally = civic.tally(PID, at)
    assert tally["drawn_at"] == at and tally["panel"][0]["id"] == got.panel[0].id
    # results.csv: a row per member, in the order drawn, with their values
    csv = results_csv_bytes(open_export(civic, PID)).decode().splitlines()
    assert csv[0].endswith("seat,member,gender,age,area")
    assert len(csv) == 31
    first = got.panel[0]
    assert csv[1].endswith(f"1,{first.id},{','.join(first.values)}")
    assert ",published," in csv[1]
    # and the observer's command says so, from the files alone
    (tmp_path / "e.jsonl").write_bytes(b"".join(lines))
    (tmp_path / "pool.csv").write_bytes(pool)
    out = CliRunner().invoke(
        verify_app,
        [
            "sortition",
            str(tmp_path / "e.jsonl"),
            "--pool",
            str(tmp_path / "pool.csv"),
            "--log-key",
            civic.log.verifier.vkey,
            "--json",
            str(tmp_path / "out.json"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "VALID sortition" in out.output
    assert f"  1. {first.id} ({', '.join(first.values)})" in out.output
    assert json.loads((tmp_path / "out.json").read_text())["seed"] == again.seed.hex()


def test_a_panel_the_seed_does_not_give_is_caught_with_evidence(
    opened: tuple[CivicRecord, Institution, bytes], tmp_path: Path
) -> None:
    """The institution swaps one member for another person of the same
    values: the quotas hold, the beacon is real, the service (which never
    sees the pool) accepts it; the replay names it, with the entry and its
    inclusion proof under a checkpoint the log's key signed."""
    civic, inst, pool = opened
    _, report = _export(civic)
    got = compute_draw(report, pool, SIGNATURE)
    drawn = {m.id for m in got.panel}
    victim = got.panel[3]
    rows = [line.split(",") for line in pool.decode().splitlines()[1:]]
    friend = next(r[0] for r in rows if tuple(r[1:]) == victim.values and r[0] not in drawn)
    panel = [(friend if m.id == victim.id else m.id, m.values) for m in got.panel]
    at = civic.append(authoring.draw(PID, inst.key, ROUND, SIGNATURE, got.outcome.attempt, panel))
    lines, report = _export(civic)
    with pytest.raises(SortitionMismatch) as e:
        replay(report, pool)
    assert e.value.code == "wrong_panel"
    assert "seat 4" in str(e.value)
    ev = e.value.evidence
    entry = json.dumps(ev["entry"], separators=(",", ":"), ensure_ascii=False).encode()
    proven = check_evidence(
        civic.log.verifier,
        {
            "entry": __import__("base64").b64encode(entry).decode(),
            "checkpoint": ev["checkpoint"],
            "inclusion_proof": ev["inclusion_proof"],
        },
        at,
    )
    assert proven is not None and decode_entry(proven).kind == "draw"
    assert ev["computed_panel"][3] == victim.id
    # the command fails with a one-line verdict and writes the evidence
    (tmp_path / "e.jsonl").write_bytes(b"".join(lines))
    (tmp_path / "pool.csv").write_bytes(pool)
    out = CliRunner().invoke(
        verify_app,
        ["sortition", str(tmp_path / "e.jsonl"), "--pool", str(tmp_path / "pool.csv"),
         "--log-key", civic.log.verifier.vkey, "--json", str(tmp_path / "ev.json")],
    )  # fmt: skip
    assert out.exit_code == 1
    assert "INVALID (wrong_panel)" in out.output
    assert json.loads((tmp_path / "ev.json").read_text())["evidence"]["index"] == at


def test_another_pool_or_no_draw_yet_is_refused(
    opened: tuple[CivicRecord, Institution, bytes],
) -> None:
    civic, _, pool = opened
    _, report = _export(civic)
    with pytest.raises(Exception) as e:
        replay(report, pool)
    assert getattr(e.value, "code", None) == "not_drawn"
    with pytest.raises(Exception) as e:
        compute_draw(report, pool_file(2000, seed=9), SIGNATURE)
    assert getattr(e.value, "code", None) == "pool_mismatch"
    with pytest.raises(Exception) as e:
        compute_draw(report, pool, ROUNDS[1000])
    assert getattr(e.value, "code", None) == "bad_beacon"


# -- the audit ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def leaves() -> tuple[Ed25519Signer, Institution, list[bytes]]:
    signer = Ed25519Signer.generate("audit.example/sortition")
    operator = OperatorKey(signer)
    inst = Institution(officials=[])
    key = inst.key.public_key
    pool = pool_file(300)
    manifest = inst.process(
        PID, "sortition", rule=rule(pool, 12), proposals=[], opens="2024-01-01T00:00:00Z"
    )
    p = decode_entry(manifest).body
    issuer = {"public_key": __import__("base64").b64encode(p.issuer_key).decode(),  # type: ignore[union-attr]
              "threshold": 1, "shares": 1}  # fmt: skip
    return (
        signer,
        inst,
        [
            authoring.registration(institution_name(key), key, operator),
            authoring.reservation(PID, key, issuer, operator),
            manifest,
        ],
    )


def _panel(n: int = 12) -> list[tuple[str, tuple[str, ...]]]:
    """A panel inside the quotas of :func:`rule` for 12 seats."""
    values = [("F", "a16", "north"), ("F", "a30", "south"), ("F", "a50", "west"),
              ("F", "a30", "east"), ("F", "a50", "centre"), ("F", "a70", "south"),
              ("M", "a16", "west"), ("M", "a30", "north"), ("M", "a50", "south"),
              ("M", "a30", "west"), ("M", "a50", "east"), ("M", "a70", "centre")]  # fmt: skip
    return [(f"p{i:07d}", v) for i, v in enumerate(values[:n])]


def test_an_honest_draw_passes_the_audit(
    leaves: tuple[Ed25519Signer, Institution, list[bytes]], tmp_path: Path
) -> None:
    signer, inst, first = leaves
    draw = authoring.draw(PID, inst.key, ROUND, SIGNATURE, 0, _panel())
    r = audit(DirectorySource(exported_log(tmp_path, "good", signer, [*first, draw])),
              signer.verifier)  # fmt: skip
    assert r.ok, [(f.step, f.code, f.message) for f in r.findings]


@pytest.mark.parametrize(
    ("draw", "code"),
    [
        (
            lambda inst: authoring.draw(PID, inst.key, ROUND, ROUNDS[1000], 0, _panel()),
            "bad_beacon",
        ),
        (
            lambda inst: authoring.draw(PID, inst.key, 1000, ROUNDS[1000], 0, _panel()),
            "wrong_round",
        ),
        (
            lambda inst: authoring.draw(PID, inst.key, ROUND, SIGNATURE, 0, _panel(11)),
            "quota_not_met",
        ),
        (lambda inst: inst.close(PID), "not_for_sortition"),
    ],
    ids=["forged-beacon", "another-round", "a-seat-short", "a-close"],
)
def test_the_audit_catches_a_dishonest_draw(
    leaves: tuple[Ed25519Signer, Institution, list[bytes]],
    tmp_path: Path,
    draw: Any,
    code: str,
) -> None:
    signer, inst, first = leaves
    audit_catches(tmp_path, signer, [*first, draw(inst)], 6, code)


def test_a_second_draw_is_caught(
    leaves: tuple[Ed25519Signer, Institution, list[bytes]], tmp_path: Path
) -> None:
    signer, inst, first = leaves
    draw = authoring.draw(PID, inst.key, ROUND, SIGNATURE, 0, _panel())
    other = authoring.draw(PID, inst.key, ROUND, SIGNATURE, 1, _panel())
    audit_catches(tmp_path, signer, [*first, draw, other], 6, "already_drawn")


def test_a_draw_where_the_seed_gives_no_panel_is_caught_with_evidence(
    opened: tuple[CivicRecord, Institution, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When every attempt the manifest allows fails, the panel on the log
    cannot be the draw's: the replay says so with the same evidence."""
    from urne.verifier.check import sortition as check_sortition
    from urne.verifier.civic.sortition import SortitionImpossible

    civic, inst, pool = opened
    _, report = _export(civic)
    got = compute_draw(report, pool, SIGNATURE)
    at = civic.append(
        authoring.draw(PID, inst.key, ROUND, SIGNATURE, 0, [(m.id, m.values) for m in got.panel])
    )
    _, report = _export(civic)

    def impossible(*args: Any) -> Any:
        raise SortitionImpossible("no panel met the quotas in 100 attempts")

    monkeypatch.setattr(check_sortition, "draw", impossible)
    with pytest.raises(SortitionMismatch) as e:
        replay(report, pool)
    assert e.value.code == "wrong_panel" and "give none" in str(e.value)
    assert e.value.evidence["index"] == at and e.value.evidence["inclusion_proof"]
