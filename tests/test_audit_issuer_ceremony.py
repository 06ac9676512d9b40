"""The audit of a process whose issuer key its offices made with no dealer
(docs/spec/issuer-ceremony.md): an honest log passes, and each way an operator,
an institution or an office could cheat in the ceremony is found at its entry,
with evidence a third party checks against the log's key alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.civic import Institution, institution_name
from tests.support.evidence import audit_catches
from tests.support.exported import exported_log
from tests.support.secret import Board
from urne.verifier.check.audit import DirectorySource, audit
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import OperatorKey
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.credentials import bls
from urne.verifier.tlog.note import Ed25519Signer

PID = "offices"
ORIGIN = "audit.example/offices"


@dataclass
class World:
    inst: Institution
    board: Board
    signer: Ed25519Signer
    #: registration, reservation, 3 deals, 3 checks, issuer key, manifest, 4 signatures
    leaves: list[bytes]


@pytest.fixture(scope="module")
def world() -> World:
    signer = Ed25519Signer.generate(ORIGIN)
    operator = OperatorKey(signer)
    inst, board = Institution(), Board.make(PID, 3, 2, issuer=True)
    key = inst.key.public_key
    leaves = [
        authoring.registration(institution_name(key), key, operator),
        authoring.reservation(PID, key, board.reservation_field(), operator),
    ]
    board.opened(leaves[1])
    board.ceremony(leaves.append, inst.key)  # type: ignore[arg-type]
    leaves.append(
        inst.process(PID, "petition", rule={"threshold": 3}, issuer_key=board.manifest_issuer())
    )
    for offices in ((1, 2), (2, 3), (1, 3), (1, 2)):
        pseudonym, credential = board.credential(offices)
        leaves.append(authoring.signature(PID, pseudonym, credential))
    return World(inst, board, signer, leaves)


def _at(world: World, kind: str, nth: int = 0) -> int:
    found = [i for i, x in enumerate(world.leaves) if decode_entry(x).kind == kind]
    return found[nth]


def test_an_honest_log_passes(world: World, tmp_path: Path) -> None:
    r = audit(
        DirectorySource(exported_log(tmp_path, "good", world.signer, world.leaves)),
        world.signer.verifier,
    )
    assert r.ok, [(f.step, f.code, f.message) for f in r.findings]


def _second_deal(world: World) -> list[bytes]:
    """Office 2 equivocates: a second, different deal after its first."""
    leaves = list(world.leaves)
    first = world.board.deals[2]
    leaves.insert(_at(world, "issuer-deal", 1) + 1, world.board.deal(2))
    world.board.deals[2] = first
    return leaves


def _substituted_key(world: World) -> list[bytes]:
    """The institution names another issuer key than the offices made."""
    leaves = list(world.leaves)
    i = _at(world, "issuer-key")
    other = bls.current_backend().sk_to_pk(987654321)
    leaves[i] = authoring.election_key(PID, world.inst.key, other, (1, 2, 3), issuer=True)
    return leaves


def _manifest_with_another_key(world: World) -> list[bytes]:
    """A manifest that carries a key the service made instead of the offices'."""
    leaves = list(world.leaves)
    i = _at(world, "process")
    issuer = world.board.manifest_issuer()
    issuer["public_key"] = b64encode(bls.current_backend().sk_to_pk(4242))
    leaves[i] = world.inst.process(PID, "petition", rule={"threshold": 3}, issuer_key=issuer)
    return leaves


def _wrong_office_key(world: World) -> list[bytes]:
    """A manifest that names another share key for office 2 (so that a wallet
    would accept its forged answers)."""
    leaves = list(world.leaves)
    i = _at(world, "process")
    issuer = world.board.manifest_issuer()
    issuer["offices"][1]["public_key"] = b64encode(bls.current_backend().sk_to_pk(5))
    leaves[i] = world.inst.process(PID, "petition", rule={"threshold": 3}, issuer_key=issuer)
    return leaves


def _unfounded_complaint(world: World) -> list[bytes]:
    """Office 3 complains about a good share to get office 1 disqualified."""
    from urne.verifier.secret import dkg

    leaves = list(world.leaves)
    b = world.board
    tr = b.trustees[2]
    k, proof = dkg.complain(b.g, b.fingerprint, 1, 3, tr.e, b.deals[1].shares[3])
    complaint = authoring.complaint(PID, tr.key, 3, 1, k, proof.to_bytes(), issuer=True)
    leaves.insert(_at(world, "issuer-check", 0), complaint)
    return leaves


def _forged_office_entry(world: World) -> list[bytes]:
    """Someone posts office 2's check under another key."""
    from urne.verifier.citizen.signing import AuthorKey

    leaves = list(world.leaves)
    i = _at(world, "issuer-check", 1)
    leaves[i] = authoring.check(PID, AuthorKey.generate(), 2, issuer=True)
    return leaves


#: (attack, audit step, code): a key that is not the one the offices made is a
#: finding of step 4 (signatures and who may open what), as a wrong reserved
#: key or a forged signature is
ATTACKS: list[tuple[Callable[[World], list[bytes]], int, str]] = [
    (_second_deal, 6, "already_dealt"),
    (_substituted_key, 4, "wrong_issuer_key"),
    (_manifest_with_another_key, 4, "wrong_issuer_key"),
    (_wrong_office_key, 4, "wrong_issuer_key"),
    (_unfounded_complaint, 6, "complaint_unfounded"),
    (_forged_office_entry, 4, "bad_entry_signature"),
]


@pytest.mark.parametrize(
    ("attack", "step", "code"), ATTACKS, ids=[a.__name__[1:] for a, _, _ in ATTACKS]
)
def test_the_audit_catches(
    world: World, tmp_path: Path, attack: Callable[[World], list[bytes]], step: int, code: str
) -> None:
    audit_catches(tmp_path, world.signer, attack(world), step, code)
