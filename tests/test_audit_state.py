"""Audits of real logs with ``--state``: the second run reads only what is
new, and an auditor killed at any point of saving its state goes on, later,
without accusing an honest log (docs/spec/verification.md, "The auditor's state")."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.civic import Citizen, Institution, open_in
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.ledger.log.export import export_tiles
from urne.verifier.check.audit import AuditReport, DirectorySource, audit
from urne.verifier.check.state import LEAVES_FILE, SAVE_STEPS, STATE_FILE
from urne.verifier.errors import FormatError
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.note import Ed25519Signer
from urne.verifier.tlog.proof import verify_inclusion
from urne.verifier.tlog.rfc9162 import HASH_SIZE, hash_leaf

ORIGIN = "state.example/log"
#: The entries before the first ballot: the registration of the institution,
#: then each process's reservation and manifest.
OPENING = ["institution", *["reservation", "process"] * 3]
#: Where the runs below stop: after the six first ballots; inside the ballots
#: before the close; after the close, the result and one more signature.
SIX_BALLOTS, BEFORE_CLOSE, NEAR_THE_END = 13, 15, 21


@dataclass
class World:
    signer: Ed25519Signer
    #: an honest log, every entry accepted
    leaves: list[bytes]
    #: a second signature by a petition signer: refused at any index after the first
    extra_signature: bytes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Every kind of entry the state keeps: manifests, ballots (with a revote),
    a paper batch, a close and a result, then more ballots after them."""
    tmp = tmp_path_factory.mktemp("world")
    inst, signer = Institution(), Ed25519Signer.generate(ORIGIN)
    with Log.open(f"sqlite:///{tmp / 'real.db'}", signer=signer) as log:
        rec = CivicRecord(log)
        for pid, ptype in (("pet", "petition"), ("vote", "vote"), ("pb", "budget")):
            open_in(rec, inst.process(pid, ptype))
        signers = [Citizen.enrol(inst, "pet") for _ in range(5)]
        voters = [Citizen.enrol(inst, "vote") for _ in range(4)]
        rec.append(signers[0].ballot())
        for voter, choice in zip(voters, "abca", strict=True):
            rec.append(voter.ballot([choice]))
        rec.append(signers[1].ballot())
        rec.append(voters[0].ballot(["b"]))  # a revote
        rec.append(inst.paper("vote", "b1", counts={"a": 5, "c": 1}))
        close = rec.append(inst.close("vote"))
        rec.append(inst.result("vote", close, rec.tally("vote", close)))
        for choice in (["park"], ["bikes", "bench"], ["bench"]):
            rec.append(Citizen.enrol(inst, "pb").ballot(choice))
        for citizen in signers[2:]:
            rec.append(citizen.ballot())
        leaves = log.entries(0, log.size)
    world = World(signer, leaves, signers[0].ballot())
    kinds = _kinds(world)
    assert kinds[: len(OPENING)] == OPENING
    assert kinds[len(OPENING) : SIX_BALLOTS] == ["ballot"] * 6
    assert kinds[BEFORE_CLOSE] == "close" and kinds[NEAR_THE_END - 1] == "ballot"
    return world


def _export(tmp: Path, name: str, world: World, leaves: list[bytes]) -> Path:
    """A log holding exactly ``leaves``, exported as a tiles directory."""
    with Log.open(f"sqlite:///{tmp / (name + '.db')}", signer=world.signer) as log:
        for i in range(0, len(leaves), 5):  # several checkpoints
            log.append_many(leaves[i : i + 5])
        export_tiles(log, tmp / name)
    return tmp / name


def _audit(world: World, log: Path, state: Path) -> AuditReport:
    return audit(DirectorySource(log), world.signer.verifier, state_dir=state)


def _findings(r: AuditReport) -> list[tuple[int, str, int | None]]:
    return [(f.step, f.code, f.index) for f in r.findings]


def test_a_second_run_reads_only_what_is_new(world: World, tmp_path: Path) -> None:
    n = len(world.leaves)
    state = tmp_path / "state"
    k = SIX_BALLOTS
    first = _audit(world, _export(tmp_path, "first", world, world.leaves[:k]), state)
    assert first.ok and (first.previous_size, first.entries_checked) == (0, k)
    kept = json.loads((state / STATE_FILE).read_text())
    # the registration, the reservations and the manifests; then the ballots
    assert kept["size"] == k and [i for i, _ in kept["entries"]] == list(range(len(OPENING)))
    assert [b[2] for b in kept["ballots"]] == list(range(len(OPENING), k))
    assert (state / LEAVES_FILE).read_bytes() == b"".join(hash_leaf(x) for x in world.leaves[:k])

    full = _export(tmp_path, "full", world, world.leaves)
    second = _audit(world, full, state)
    assert second.ok, _findings(second)
    assert (second.previous_size, second.entries_checked) == (k, n - k)
    assert second.results_compared == 1  # the result, published after the first run
    assert second.credentials_checked == len([b for b in _kinds(world) if b == "ballot"]) - 6
    # The same verdict and recount as an auditor starting from scratch.
    scratch = audit(DirectorySource(full), world.signer.verifier)
    assert scratch.ok and second.tallies == scratch.tallies
    assert second.tallies["vote"]["total"] == {"a": 6, "b": 2, "c": 2}
    assert second.tallies["pet"]["signatures"] == 5

    third = _audit(world, full, state)
    assert third.ok and (third.previous_size, third.entries_checked) == (n, 0)
    assert third.tallies == scratch.tallies


def _kinds(world: World) -> list[str]:
    return [json.loads(x)["kind"] for x in world.leaves]


def test_evidence_proves_old_entries_from_the_saved_leaves(world: World, tmp_path: Path) -> None:
    """A finding's inclusion proof needs the leaf hashes of earlier runs: read
    back from leaves.bin, they must give the signed root."""
    state = tmp_path / "state"
    assert _audit(world, _export(tmp_path, "first", world, world.leaves), state).ok
    bad = _export(tmp_path, "bad", world, [*world.leaves, world.extra_signature])
    r = _audit(world, bad, state)
    assert _findings(r) == [(6, "already_signed", len(world.leaves))]
    _check_inclusion(world, r)


def _check_inclusion(world: World, r: AuditReport) -> None:
    (finding,) = r.findings
    ev = finding.evidence
    assert finding.index is not None and "inclusion_proof" in ev
    cp = open_checkpoint(ev["checkpoint"], world.signer.verifier).checkpoint
    verify_inclusion(
        hash_leaf(base64.b64decode(ev["entry"])),
        finding.index,
        cp.size,
        [base64.b64decode(h) for h in ev["inclusion_proof"]],
        cp.root,
    )


# The first audit in another process, whose save stops dead at one step.
_KILLED_AUDIT = """
import os, sys
import urne.verifier.check.audit as audit_module
from urne.verifier.check.state import save_state
from urne.verifier.tlog.note import Ed25519Verifier

step, log, vkey, state = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def die_at_step(number):
    if number == step:
        os._exit(137)

def saving_until_killed(*args, **kwargs):
    save_state(*args, interrupt=die_at_step, **kwargs)

audit_module.save_state = saving_until_killed
report = audit_module.audit(
    audit_module.DirectorySource(log), Ed25519Verifier.from_vkey(vkey), state_dir=state
)
print("the save was not interrupted; ok:", report.ok)
"""


def _killed_audit(world: World, log: Path, state: Path, step: int) -> None:
    vkey = world.signer.verifier.vkey
    r = subprocess.run(
        [sys.executable, "-c", _KILLED_AUDIT, str(step), str(log), vkey, str(state)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 137, (r.returncode, r.stdout, r.stderr)


@pytest.mark.parametrize("step", sorted(SAVE_STEPS))
@pytest.mark.parametrize("earlier", [0, len(OPENING) + 1], ids=["first-run", "later-run"])
def test_an_auditor_killed_while_saving_goes_on_without_findings(
    world: World, tmp_path: Path, step: int, earlier: int
) -> None:
    """Killed between two writes of a save (after a run of ``earlier`` entries,
    if any), the auditor then follows the honest log as it grows: no finding,
    and a rule broken later still comes with an inclusion proof that holds."""
    n = len(world.leaves)
    state = tmp_path / "state"
    if earlier:
        assert _audit(world, _export(tmp_path, "earlier", world, world.leaves[:earlier]), state).ok
    killed, grown_to = BEFORE_CLOSE, NEAR_THE_END
    _killed_audit(world, _export(tmp_path, "killed", world, world.leaves[:killed]), state, step)

    saved = killed if step == max(SAVE_STEPS) else earlier  # state.json replaced, or not yet
    grown = _audit(world, _export(tmp_path, "grown", world, world.leaves[:grown_to]), state)
    assert grown.ok, _findings(grown)
    assert (grown.previous_size, grown.entries_checked) == (saved, grown_to - saved)

    full = _export(tmp_path, "full", world, world.leaves)
    again = _audit(world, full, state)
    assert again.ok, _findings(again)
    assert again.tallies == audit(DirectorySource(full), world.signer.verifier).tallies

    bad = _export(tmp_path, "bad", world, [*world.leaves, world.extra_signature])
    r = _audit(world, bad, state)
    assert _findings(r) == [(6, "already_signed", n)]
    _check_inclusion(world, r)
    assert (state / LEAVES_FILE).read_bytes() == b"".join(
        hash_leaf(x) for x in [*world.leaves, world.extra_signature]
    )


def test_an_unusable_state_stops_the_audit_without_a_finding(world: World, tmp_path: Path) -> None:
    state = tmp_path / "state"
    log = _export(tmp_path, "log", world, world.leaves[:SIX_BALLOTS])
    assert _audit(world, log, state).ok
    (state / LEAVES_FILE).write_bytes((state / LEAVES_FILE).read_bytes()[:-HASH_SIZE])
    with pytest.raises(FormatError) as e:
        _audit(world, log, state)
    assert e.value.code == "bad_state" and LEAVES_FILE in str(e.value)
