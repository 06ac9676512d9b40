"""The audit of a secret participatory budget (docs/secret-ballot.md §5-§6): a
log kept honestly passes, and each ballot or result the rule forbids, slipped
into the log, is found at its entry with evidence checked against the log's
key alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import RULES, Citizen, Institution, proposal
from tests.support.evidence import audit_catches
from tests.support.exported import exported_log
from tests.support.secret import Board
from tests.support.secret_world import World, build
from urne.ledger.civic.record import CivicRecord
from urne.verifier.check.audit import DirectorySource, audit
from urne.verifier.citizen import authoring
from urne.verifier.civic.entries import decode_entry
from urne.verifier.secret.ballot import EncryptedBallot, Spend, ballot_context, encrypt_ballot
from urne.verifier.secret.group import ristretto255

PID = "secret-budget"
ORIGIN = "audit.example/secret-budget"
COSTS = {"park": 600, "bikes": 300, "bench": 200, "lights": 410}
IDS = list(COSTS)
RULE = {**RULES["budget"], "min_share_percent": 30, "revoting": True}
SPEND = Spend(tuple(COSTS.values()), 1000, 300)
G = ristretto255()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    def cast(rec: CivicRecord, inst: Institution, board: Board) -> list[Citizen]:
        citizens = []
        for chosen in (["park", "bench"], ["bikes", "lights"], ["park"], ["bench", "lights"]):
            c = Citizen.enrol(inst, PID)
            citizens.append(c)
            enc = board.encrypted(
                c.pseudonym.public_key, 4, [IDS.index(x) for x in chosen], (1, 4), SPEND
            )
            rec.append(authoring.secret_ballot(PID, c.pseudonym, c.credential, enc, seq=0))
        rec.append(inst.paper(PID, "desk", ballots=[["bikes", "bench"]]))
        return citizens

    def check(tally: dict[str, Any]) -> None:
        assert tally["approvals"] == {"park": 2, "bikes": 2, "bench": 3, "lights": 2}
        assert tally["selected"] == ["bench", "bikes", "lights"] and tally["spent"] == 910

    return build(
        tmp_path_factory.mktemp("secret-budget-world"),
        PID,
        ORIGIN,
        "budget",
        cast,
        [2, 3],
        check,
        proposals=[proposal(k, k.title(), c) for k, c in COSTS.items()],
        rule=RULE,
    )


def _index(world: World, kind: str, n: int = 0) -> int:
    return world.index(kind, n)


def _ballot(world: World, c: Citizen, encrypted: EncryptedBallot, seq: int) -> bytes:
    return authoring.secret_ballot(PID, c.pseudonym, c.credential, encrypted.to_json(), seq=seq)


def _over_the_budget(world: World) -> list[bytes]:
    """A real voter's revote for park and lights (1,010 > 1,000), its spending
    proved against a looser ceiling of the same bit length, taken by the service."""
    c = world.citizens[2]
    ctx = ballot_context(G, world.board.fingerprint, world.board.key, c.pseudonym.public_key)
    loose = Spend(SPEND.costs, 1023, 300)
    forged, _ = encrypt_ballot(ctx, world.board.key, 4, [0, 3], (1, 4), spend=loose)
    leaves = list(world.leaves)
    leaves.insert(_index(world, "close"), _ballot(world, c, forged, 1))
    return leaves


def _no_spending_proof(world: World) -> list[bytes]:
    """A revote without its spending proof: whatever it encrypts, unproven."""
    c = world.citizens[3]
    ctx = ballot_context(G, world.board.fingerprint, world.board.key, c.pseudonym.public_key)
    bare, _ = encrypt_ballot(ctx, world.board.key, 4, [0, 1, 2, 3], (1, 4))
    leaves = list(world.leaves)
    leaves.insert(_index(world, "close"), _ballot(world, c, bare, 1))
    return leaves


def _not_greedy(world: World) -> list[bytes]:
    """The institution publishes park and bikes: within the budget, not greedy."""
    leaves = list(world.leaves)
    i = _index(world, "result")
    tally = dict(decode_entry(leaves[i]).obj["tally"], selected=["bikes", "park"], spent=900)
    leaves[i] = world.inst.result(PID, world.close, tally)
    return leaves


def _other_approvals(world: World) -> list[bytes]:
    """Approvals that are not the decryption, with greedy over them."""
    leaves = list(world.leaves)
    i = _index(world, "result")
    o = decode_entry(leaves[i]).obj["tally"]
    tally = dict(o, approvals=dict(o["approvals"], park=4), selected=["lights", "park"])
    leaves[i] = world.inst.result(PID, world.close, dict(tally, spent=1010))
    return leaves


def test_an_honest_secret_budget_passes_the_audit(world: World, tmp_path: Path) -> None:
    r = audit(
        DirectorySource(exported_log(tmp_path, "ok", world.signer, world.leaves)),
        world.signer.verifier,
    )
    assert r.ok, [f.message for f in r.findings]
    assert r.results_compared == 1 and r.ballot_proofs_checked == 4


ATTACKS: list[tuple[Callable[[World], list[bytes]], int, str]] = [
    (_over_the_budget, 6, "bad_ballot_proof"),
    (_no_spending_proof, 4, "bad_encrypted_ballot"),
    (_not_greedy, 7, "wrong_result"),
    (_other_approvals, 7, "wrong_result"),
]


@pytest.mark.parametrize(
    ("attack", "step", "code"), ATTACKS, ids=[a.__name__[1:] for a, _, _ in ATTACKS]
)
def test_the_audit_catches(
    world: World, tmp_path: Path, attack: Callable[[World], list[bytes]], step: int, code: str
) -> None:
    audit_catches(tmp_path, world.signer, attack(world), step, code)
