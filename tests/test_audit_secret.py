"""The audit of a secret vote (docs/secret-ballot.md): a log the service kept
honestly passes, and each attack an operator could slip into the log is found,
at its entry, with evidence a third party checks against the log's key alone."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import Citizen, Institution
from tests.support.evidence import audit_catches
from tests.support.exported import exported_log
from tests.support.secret import Board
from tests.support.secret_world import World, build
from urne.ledger.civic.record import CivicRecord
from urne.verifier.check.audit import DirectorySource, audit
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import sign_entry
from urne.verifier.civic.entries import decode_entry
from urne.verifier.secret.group import ristretto255

PID = "secret"
ORIGIN = "audit.example/secret"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    def cast(rec: CivicRecord, inst: Institution, board: Board) -> list[Citizen]:
        citizens = []
        for selected in ([0], [1, 2], [], [2], [0, 2]):
            c = Citizen.enrol(inst, PID)
            citizens.append(c)
            enc = board.encrypted(c.pseudonym.public_key, 3, selected, (0, 2))
            rec.append(authoring.secret_ballot(PID, c.pseudonym, c.credential, enc, seq=0))
        # the first citizen changes their mind: the last ballot counts
        c = citizens[0]
        enc = board.encrypted(c.pseudonym.public_key, 3, [1], (0, 2))
        rec.append(authoring.secret_ballot(PID, c.pseudonym, c.credential, enc, seq=1))
        rec.append(inst.paper(PID, "b1", counts={"a": 2}))
        return citizens

    def check(tally: dict[str, Any]) -> None:
        assert tally["counts"] == {"a": 1, "b": 2, "c": 3}  # recounted by the service too
        assert tally["total"] == {"a": 3, "b": 2, "c": 3}

    return build(
        tmp_path_factory.mktemp("secret-world"),
        PID,
        ORIGIN,
        "vote",
        cast,
        [3, 1],  # trustee 2 absent
        check,
        rule={"method": "approval", "min": 0, "max": 2, "revoting": True},
    )


def _index(world: World, kind: str, n: int = 0) -> int:
    return world.index(kind, n)


def test_an_honest_secret_vote_passes_the_audit(world: World, tmp_path: Path) -> None:
    r = audit(
        DirectorySource(exported_log(tmp_path, "ok", world.signer, world.leaves)),
        world.signer.verifier,
    )
    assert r.ok, [f.message for f in r.findings]
    assert r.entries_checked == len(world.leaves) and r.results_compared == 1


def _flip_proof_bit(world: World) -> list[bytes]:
    i = _index(world, "ballot", 1)
    o = json.loads(world.leaves[i])
    proof = bytearray(base64.b64decode(o["encrypted"]["proofs"][0]))
    proof[40] ^= 1
    o["encrypted"]["proofs"][0] = base64.b64encode(bytes(proof)).decode()
    del o["sig"]
    leaves = list(world.leaves)
    leaves[i] = sign_entry(o, world.citizens[1].pseudonym)  # the voter signs what they sent
    return leaves


def _copied_ballot(world: World) -> list[bytes]:
    """Mallory, a real voter, casts Alice's encrypted ballot as their own."""
    i = _index(world, "ballot", 1)
    copied = decode_entry(world.leaves[i]).obj["encrypted"]
    mallory = world.citizens[3]
    leaf = authoring.secret_ballot(PID, mallory.pseudonym, mallory.credential, copied, seq=5)
    leaves = list(world.leaves)
    leaves.insert(_index(world, "close"), leaf)
    return leaves


def _wrong_share(world: World) -> list[bytes]:
    leaves = list(world.leaves)
    i = _index(world, "decryption", 0)
    st_aggregates = _aggregates(world)
    leaves[i] = world.board.decryption(3, st_aggregates, wrong=True)
    return leaves


def _aggregates(world: World) -> list:
    from urne.verifier.civic.process import Registry

    reg = Registry(None, operator=world.signer.verifier.public_key, ballot_proofs=False)
    for k, leaf in enumerate(world.leaves[: world.close + 1]):
        reg.admit(decode_entry(leaf), k)
    return reg.state(PID).secret.aggregates


def _second_deal(world: World) -> list[bytes]:
    """Trustee 2 equivocates: a second, different deal after its first."""
    leaves = list(world.leaves)
    i = _index(world, "deal", 1)
    leaves.insert(i + 1, world.board.deal(2))
    return leaves


def _substituted_key(world: World) -> list[bytes]:
    leaves = list(world.leaves)
    i = _index(world, "election-key")
    qualified = decode_entry(leaves[i]).obj["qualified"]
    g = ristretto255()
    leaves[i] = authoring.election_key(PID, world.inst.key, g.base(987654321), qualified)
    return leaves


def _not_the_decryption(world: World) -> list[bytes]:
    leaves = list(world.leaves)
    i = _index(world, "result")
    o = decode_entry(leaves[i]).obj
    tally = dict(o["tally"], counts={"a": 1, "b": 2, "c": 2}, total={"a": 3, "b": 2, "c": 2})
    tally["winners"] = ["a"]
    leaves[i] = world.inst.result(PID, world.close, tally)
    return leaves


ATTACKS: list[tuple[Callable[[World], list[bytes]], int, str]] = [
    (_flip_proof_bit, 6, "bad_ballot_proof"),
    (_copied_ballot, 6, "bad_ballot_proof"),
    (_wrong_share, 7, "bad_decryption"),
    (_second_deal, 6, "already_dealt"),
    (_substituted_key, 6, "wrong_election_key"),
    (_not_the_decryption, 7, "wrong_result"),
]


@pytest.mark.parametrize(
    ("attack", "step", "code"), ATTACKS, ids=[a.__name__[1:] for a, _, _ in ATTACKS]
)
def test_the_audit_catches(
    world: World, tmp_path: Path, attack: Callable[[World], list[bytes]], step: int, code: str
) -> None:
    audit_catches(tmp_path, world.signer, attack(world), step, code)


def test_ballot_proofs_checked_in_worker_processes(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parallel path (worker processes, small batches) finds exactly what
    the in-process path finds, and checks every secret ballot once."""
    import urne.verifier.check.audit as audit_module

    bad = exported_log(tmp_path, "bad", world.signer, _flip_proof_bit(world))
    in_process = audit(DirectorySource(bad), world.signer.verifier)
    monkeypatch.setattr(audit_module, "_PARALLEL_MIN", 0)
    monkeypatch.setattr(audit_module, "_PROOF_BATCH", 2)
    good = exported_log(tmp_path, "good", world.signer, world.leaves)
    r = audit(DirectorySource(good), world.signer.verifier)
    assert r.ok and r.ballot_proofs_checked == 6
    parallel = audit(DirectorySource(bad), world.signer.verifier)
    assert (6, "bad_ballot_proof") in [(f.step, f.code) for f in parallel.findings]
    assert [(f.step, f.code, f.index) for f in parallel.findings] == [
        (f.step, f.code, f.index) for f in in_process.findings
    ]


def test_an_incremental_audit_keeps_the_ciphertexts_between_runs(
    world: World, tmp_path: Path
) -> None:
    """A first run stops before the close; the second reads only what is new
    and still recounts the decrypted totals from the ballots kept in its state."""
    state = tmp_path / "state"
    first = exported_log(tmp_path, "first", world.signer, world.leaves[: world.close])
    r1 = audit(DirectorySource(first), world.signer.verifier, state_dir=state)
    assert r1.ok, [f.message for f in r1.findings]
    saved = json.loads(next(state.glob("*.json")).read_text())
    assert any(len(row) == 6 for row in saved["ballots"])  # the ciphertexts are kept
    full = exported_log(tmp_path, "full", world.signer, world.leaves)
    r2 = audit(DirectorySource(full), world.signer.verifier, state_dir=state)
    assert r2.ok, [f.message for f in r2.findings]
    assert r2.entries_checked == len(world.leaves) - world.close
    assert r2.results_compared == 1
