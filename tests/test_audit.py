"""The audit against real logs, and an attack suite: each scenario is a real
tampering of a real log, and the audit must catch it, name it, and give
evidence a third party can check."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import Citizen, Institution, authority_for, institution_name, open_in
from tests.support.evidence import check_evidence
from tests.support.exported import exported_log
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.check.audit import DirectorySource, audit
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import AuthorKey, OperatorKey
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import decode_entry
from urne.verifier.civic.process import Registry
from urne.verifier.tlog.note import Ed25519Signer
from urne.verifier.tlog.rfc9162 import hash_leaf
from urne.verifier.tlog.tiles import entries_path, tile_path


@dataclass
class World:
    inst: Institution
    signer: Ed25519Signer
    leaves: list[bytes]
    citizens: dict[str, list[Citizen]]


ORIGIN = "audit.example/log"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("world")
    inst = Institution()
    signer = Ed25519Signer.generate(ORIGIN)
    log = Log.open(f"sqlite:///{tmp / 'real.db'}", signer=signer)
    rec = CivicRecord(log)
    open_in(rec, inst.process("pet", "petition"))
    open_in(rec, inst.process("vote", "vote"))
    open_in(rec, inst.process("pb", "budget"))
    citizens: dict[str, list[Citizen]] = {k: [] for k in ("pet", "vote", "pb")}
    for _ in range(4):
        c = Citizen.enrol(inst, "pet")
        citizens["pet"].append(c)
        rec.append(c.ballot())
    for choice in ("a", "b", "b"):
        c = Citizen.enrol(inst, "vote")
        citizens["vote"].append(c)
        rec.append(c.ballot([choice]))
    for choice in (["park"], ["bikes", "bench"], ["bench"]):
        c = Citizen.enrol(inst, "pb")
        citizens["pb"].append(c)
        rec.append(c.ballot(choice))
    rec.append(inst.paper("vote", "b1", counts={"a": 5, "c": 1}))
    for pid in ("pet", "vote", "pb"):
        close = rec.append(inst.close(pid))
        rec.append(inst.result(pid, close, rec.tally(pid, close)))
    leaves = log.entries(0, log.size)
    log.close()
    return World(inst, signer, leaves, citizens)


def test_untampered_log_passes(world: World, tmp_path: Path) -> None:
    d = exported_log(tmp_path, "ok", world.signer, world.leaves)
    r = audit(DirectorySource(d), world.signer.verifier, state_dir=tmp_path / "state")
    assert r.ok, [f.message for f in r.findings]
    assert r.entries_checked == len(world.leaves)
    assert r.credentials_checked == 10 and r.results_compared == 3
    assert r.tallies["pet"]["signatures"] == 4 and r.tallies["pet"]["reached"]
    assert r.tallies["vote"]["total"] == {"a": 6, "b": 2, "c": 1}
    assert all(r.steps.values())
    # A second run reads nothing new.
    again = audit(DirectorySource(d), world.signer.verifier, state_dir=tmp_path / "state")
    assert again.ok and again.previous_size == len(world.leaves) and again.entries_checked == 0


def test_incremental_audit_reads_only_what_is_new(world: World, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = exported_log(tmp_path, "first", world.signer, world.leaves[:9])
    r1 = audit(DirectorySource(first), world.signer.verifier, state_dir=state)
    assert r1.ok and r1.entries_checked == 9
    full = exported_log(tmp_path, "full", world.signer, world.leaves)
    r2 = audit(DirectorySource(full), world.signer.verifier, state_dir=state)
    assert r2.ok, [f.message for f in r2.findings]
    assert r2.previous_size == 9 and r2.entries_checked == len(world.leaves) - 9
    assert r2.tallies["pet"]["signatures"] == 4


def _resign(obj: dict[str, Any], key: Any) -> bytes:
    from urne.verifier.citizen.signing import sign_entry

    return sign_entry(obj, key)


def _entry(world: World, kind: str, **match: Any) -> int:
    for i, leaf in enumerate(world.leaves):
        o = json.loads(leaf)
        if o["kind"] == kind and all(o.get(k) == v for k, v in match.items()):
            return i
    raise LookupError(kind)


Attack = Callable[[World, Path], tuple[Path, Path | None]]


def _tampered(world: World, tmp: Path, leaves: list[bytes]) -> tuple[Path, None]:
    return exported_log(tmp, "bad", world.signer, leaves), None


def attack_altered_ballot(world: World, tmp: Path) -> tuple[Path, None]:
    i = _entry(world, "ballot", process="vote")
    o = json.loads(world.leaves[i])
    o["choice"] = ["c"]  # changed after the citizen signed it
    return _tampered(world, tmp, [*world.leaves[:i], canonical(o), *world.leaves[i + 1 :]])


def attack_forged_credential(world: World, tmp: Path) -> tuple[Path, None]:
    rogue = Institution()
    rogue.process("pet", "petition")  # a key the real issuer never held
    forged = Citizen.enrol(rogue, "pet").ballot()
    i = _entry(world, "close", process="pet")
    return _tampered(world, tmp, [*world.leaves[:i], forged, *world.leaves[i:]])


def attack_double_signature(world: World, tmp: Path) -> tuple[Path, None]:
    again = world.citizens["pet"][0].ballot(seq=5)
    i = _entry(world, "close", process="pet")
    return _tampered(world, tmp, [*world.leaves[:i], again, *world.leaves[i:]])


def attack_ballot_after_close(world: World, tmp: Path) -> tuple[Path, None]:
    late = Citizen.enrol(world.inst, "vote").ballot(["a"])
    return _tampered(world, tmp, [*world.leaves, late])


def _replace_result(world: World, tmp: Path, pid: str, change: dict[str, Any]) -> tuple[Path, None]:
    i = _entry(world, "result", process=pid)
    o = json.loads(world.leaves[i])
    tally = dict(o["tally"], **change)
    forged = world.inst.result(pid, o["through"], tally)
    return _tampered(world, tmp, [*world.leaves[:i], forged, *world.leaves[i + 1 :]])


def attack_wrong_count(world: World, tmp: Path) -> tuple[Path, None]:
    return _replace_result(
        world, tmp, "vote", {"total": {"a": 2, "b": 6, "c": 1}, "winners": ["b"]}
    )


def attack_petition_below_threshold(world: World, tmp: Path) -> tuple[Path, None]:
    # drop two signatures from the log, keep the institution's "reached" certificate
    pet = [
        i
        for i, x in enumerate(world.leaves)
        if json.loads(x)["kind"] == "ballot" and json.loads(x)["process"] == "pet"
    ][:2]
    leaves = [x for i, x in enumerate(world.leaves) if i not in pet]
    i = next(
        k
        for k, x in enumerate(leaves)
        if json.loads(x)["kind"] == "result" and json.loads(x)["process"] == "pet"
    )
    o = json.loads(leaves[i])
    fixed = world.inst.result("pet", o["through"] - 2, o["tally"])
    return _tampered(world, tmp, [*leaves[:i], fixed, *leaves[i + 1 :]])


def _recount(world: World, pid: str, through: int) -> dict[str, Any]:
    registry = Registry(credential_check=None, operator=world.signer.verifier.public_key)
    for index, leaf in enumerate(world.leaves):
        registry.admit(decode_entry(leaf), index)
    return registry.tally(pid, through)


def attack_rewound_result(world: World, tmp: Path) -> tuple[Path, None]:
    # After the vote's close and its correct result, a second result, signed by
    # the institution, counting its three ballots but not the paper batch after
    # them: a true recount of that prefix, with another winner.
    through = [
        i
        for i, x in enumerate(world.leaves)
        if json.loads(x)["kind"] == "ballot" and json.loads(x)["process"] == "vote"
    ][2]
    partial = _recount(world, "vote", through)
    assert partial["winners"] != _recount(world, "vote", len(world.leaves) - 1)["winners"]
    return _tampered(world, tmp, [*world.leaves, world.inst.result("vote", through, partial)])


def attack_result_before_the_close_index(world: World, tmp: Path) -> tuple[Path, None]:
    # The vote's only result, after its close, but counting through an earlier index.
    i = _entry(world, "result", process="vote")
    through = json.loads(world.leaves[i])["through"] - 2
    partial = world.inst.result("vote", through, _recount(world, "vote", through))
    return _tampered(world, tmp, [*world.leaves[:i], partial, *world.leaves[i + 1 :]])


def attack_sheet_counted_twice(world: World, tmp: Path) -> tuple[Path, None]:
    # The official records the tally sheet of batch b1 again, as batch b2.
    first = json.loads(world.leaves[_entry(world, "paper", process="vote")])
    again = world.inst.paper("vote", "b2", sheet=first["sheet"], counts=first["counts"])
    i = _entry(world, "close", process="vote")
    return _tampered(world, tmp, [*world.leaves[:i], again, *world.leaves[i:]])


def attack_budget_over(world: World, tmp: Path) -> tuple[Path, None]:
    return _replace_result(
        world, tmp, "pb", {"selected": ["bench", "bikes", "park"], "spent": 1100}
    )


def attack_dropped_ballot(world: World, tmp: Path) -> tuple[Path, Path]:
    # The auditor saw the log; the operator then drops a ballot and re-signs.
    state = tmp / "state"
    good = exported_log(tmp, "good", world.signer, world.leaves)
    assert audit(DirectorySource(good), world.signer.verifier, state_dir=state).ok
    i = _entry(world, "ballot", process="vote")
    # ...and hides it behind growth: a new process makes the log look longer.
    later = Institution()
    manifest = later.process("later", "petition")
    authority = authority_for(manifest, OperatorKey(world.signer), registered=lambda key: False)
    extra = [*authority, manifest, later.close("later")]
    leaves = [*world.leaves[:i], *world.leaves[i + 1 :], *extra]
    return exported_log(tmp, "bad", world.signer, leaves), state


def attack_fork(world: World, tmp: Path) -> tuple[Path, Path]:
    state = tmp / "state"
    good = exported_log(tmp, "good", world.signer, world.leaves)
    assert audit(DirectorySource(good), world.signer.verifier, state_dir=state).ok
    i = _entry(world, "ballot", process="vote")
    other = Citizen.enrol(world.inst, "vote").ballot(["c"])
    leaves = [*world.leaves[:i], other, *world.leaves[i + 1 :]]  # same size, other root
    return exported_log(tmp, "bad", world.signer, leaves), state


def attack_other_key(world: World, tmp: Path) -> tuple[Path, None]:
    return exported_log(tmp, "bad", Ed25519Signer.generate(ORIGIN), world.leaves), None


def attack_truncated_bundle(world: World, tmp: Path) -> tuple[Path, None]:
    d = exported_log(tmp, "bad", world.signer, world.leaves)
    f = d / entries_path(0, len(world.leaves))
    f.write_bytes(f.read_bytes()[:-10])
    return d, None


def attack_replaced_tile(world: World, tmp: Path) -> tuple[Path, None]:
    d = exported_log(tmp, "bad", world.signer, world.leaves)
    f = d / tile_path(0, 0, len(world.leaves))
    data = bytearray(f.read_bytes())
    data[32 * 3 : 32 * 4] = hash_leaf(b"something else")
    f.write_bytes(bytes(data))
    return d, None


# -- authority: who may sign a manifest, or register an institution --------------------


def _unregistered_manifest(world: World) -> tuple[list[bytes], int]:
    """A manifest by an institution the operator never registered, for an id
    nobody reserved, appended without the rules; the log and its index."""
    rogue = Institution()
    return [*world.leaves, rogue.process("rogue", "petition")], len(world.leaves)


def _hijacked_id(world: World) -> tuple[list[bytes], int]:
    """The operator registers institution B and reserves the id "hall" for the
    world's institution A (both genuine entries); B's manifest then takes the id."""
    operator = OperatorKey(world.signer)
    for_a = world.inst.process("hall", "vote")
    (reserved,) = authority_for(for_a, operator, registered=lambda key: True)
    b = Institution()
    registered = authoring.registration(
        institution_name(b.key.public_key), b.key.public_key, operator
    )
    leaves = [*world.leaves, registered, reserved, b.process("hall", "vote")]
    return leaves, len(leaves) - 1


def _self_registered(world: World) -> tuple[list[bytes], int]:
    """An ``institution`` entry signed by a stranger's key, naming that key as
    its registrar (and as the institution's): not the operator, nor anyone the
    operator registered."""
    stranger = AuthorKey.generate()
    entry = authoring.registration("city-hall", stranger.public_key, stranger)
    return [*world.leaves, entry], len(world.leaves)


def attack_manifest_by_unregistered_key(world: World, tmp: Path) -> tuple[Path, None]:
    return _tampered(world, tmp, _unregistered_manifest(world)[0])


def attack_hijacked_id(world: World, tmp: Path) -> tuple[Path, None]:
    return _tampered(world, tmp, _hijacked_id(world)[0])


def attack_registration_not_by_the_operator(world: World, tmp: Path) -> tuple[Path, None]:
    return _tampered(world, tmp, _self_registered(world)[0])


ATTACKS: list[tuple[Attack, int, str]] = [
    (attack_dropped_ballot, 2, "inconsistent_checkpoints"),
    (attack_altered_ballot, 4, "bad_entry_signature"),
    (attack_forged_credential, 5, "bad_credential"),
    (attack_double_signature, 6, "already_signed"),
    (attack_ballot_after_close, 6, "process_closed"),
    (attack_wrong_count, 7, "wrong_result"),
    (attack_petition_below_threshold, 7, "wrong_result"),
    (attack_budget_over, 7, "wrong_result"),
    (attack_rewound_result, 6, "result_exists"),
    (attack_result_before_the_close_index, 7, "bad_through"),
    (attack_sheet_counted_twice, 6, "duplicate_sheet"),
    (attack_manifest_by_unregistered_key, 4, "unreserved_process"),
    (attack_hijacked_id, 4, "reserved_for_another"),
    (attack_registration_not_by_the_operator, 4, "unknown_registrar"),
    (attack_fork, 2, "fork"),
    (attack_other_key, 1, "unknown_key"),
    (attack_truncated_bundle, 3, "bad_entry_bundle"),
    (attack_replaced_tile, 3, "tile_mismatch"),
]


@pytest.mark.parametrize(
    ("attack", "step", "code"), ATTACKS, ids=[a.__name__[7:] for a, _, _ in ATTACKS]
)
def test_audit_catches(world: World, tmp_path: Path, attack: Attack, step: int, code: str) -> None:
    directory, state = attack(world, tmp_path)
    r = audit(DirectorySource(directory), world.signer.verifier, state_dir=state)
    assert not r.ok
    found = [(f.step, f.code) for f in r.findings]
    assert (step, code) in found, found
    assert r.steps[step] is False
    finding = next(f for f in r.findings if (f.step, f.code) == (step, code))
    _check_evidence(world, finding.evidence, finding.index)
    r2 = r.to_json()
    assert r2["ok"] is False and json.dumps(r2)


def _check_evidence(world: World, ev: dict[str, Any], index: int | None) -> None:
    """What a third party does with the evidence, trusting only the log's key."""
    check_evidence(world.signer.verifier, ev, index)


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (_unregistered_manifest, "unreserved_process"),
        (_hijacked_id, "reserved_for_another"),
        (_self_registered, "unknown_registrar"),
    ],
    ids=["unregistered_key", "hijacked_id", "self_registered"],
)
def test_an_entry_without_authority_is_refused_alone_with_its_proof(
    world: World,
    tmp_path: Path,
    tamper: Callable[[World], tuple[list[bytes], int]],
    code: str,
) -> None:
    """The one entry without authority is the only finding, at its index; its
    evidence proves, with the log's key alone, that exactly that entry is in
    the log there. The entries around it (genuine registrations and
    reservations included) pass, and the tallies are the untampered ones."""
    leaves, index = tamper(world)
    r = audit(DirectorySource(_tampered(world, tmp_path, leaves)[0]), world.signer.verifier)
    assert [(f.step, f.code, f.index) for f in r.findings] == [(4, code, index)]
    assert r.steps == {1: True, 2: True, 3: True, 4: False, 5: True, 6: True, 7: True}
    entry = check_evidence(world.signer.verifier, r.findings[0].evidence, index)
    assert entry == leaves[index]
    assert r.results_compared == 3 and r.tallies["vote"]["total"] == {"a": 6, "b": 2, "c": 1}


def test_every_step_is_exercised_by_an_attack() -> None:
    assert {s for _, s, _ in ATTACKS} == {1, 2, 3, 4, 5, 6, 7}


def test_state_is_not_advanced_past_a_fork(world: World, tmp_path: Path) -> None:
    bad, state = attack_fork(world, tmp_path)
    assert state is not None
    assert not audit(DirectorySource(bad), world.signer.verifier, state_dir=state).ok
    shutil.rmtree(bad)
    good = exported_log(tmp_path, "good2", world.signer, world.leaves)
    assert audit(DirectorySource(good), world.signer.verifier, state_dir=state).ok


def test_credentials_checked_in_worker_processes(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parallel path (worker processes, small batches) finds exactly what
    the in-process path finds."""
    import urne.verifier.check.audit as audit_module

    bad, _ = attack_forged_credential(world, tmp_path)
    in_process = audit(DirectorySource(bad), world.signer.verifier)
    monkeypatch.setattr(audit_module, "_PARALLEL_MIN", 0)
    monkeypatch.setattr(audit_module, "_CREDENTIAL_BATCH", 2)
    good = exported_log(tmp_path, "good", world.signer, world.leaves)
    r = audit(DirectorySource(good), world.signer.verifier)
    assert r.ok and r.credentials_checked == 10
    parallel = audit(DirectorySource(bad), world.signer.verifier)
    assert (5, "bad_credential") in [(f.step, f.code) for f in parallel.findings]
    assert [(f.step, f.code, f.index) for f in parallel.findings] == [
        (f.step, f.code, f.index) for f in in_process.findings
    ]
