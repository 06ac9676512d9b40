"""The audit catches a graded ballot the rules refuse, forced into a log,
with evidence a third party checks against the log's key alone."""

from __future__ import annotations

from pathlib import Path

from tests.support.civic import Citizen, Institution, institution_name
from tests.support.evidence import audit_catches
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import OperatorKey
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.tlog.note import Ed25519Signer

SCALE = [{"id": "good", "label": "Good"}, {"id": "bad", "label": "Bad"}]
RULE = {"method": "majority-judgment", "min": 3, "max": 3, "revoting": False, "grades": SCALE}


def _log(signer: Ed25519Signer, inst: Institution) -> list[bytes]:
    operator, key = OperatorKey(signer), inst.key.public_key
    manifest = inst.process("mj", "vote", rule=RULE)
    p = decode_entry(manifest).body
    issuer = {"public_key": b64encode(p.issuer_key), "threshold": 1, "shares": 1}  # type: ignore[union-attr]
    return [
        authoring.registration(institution_name(key), key, operator),
        authoring.reservation("mj", key, issuer, operator),
        manifest,
    ]


def test_the_audit_catches_a_grade_off_the_scale(tmp_path: Path) -> None:
    signer, inst = Ed25519Signer.generate("audit.example/mj"), Institution()
    first = _log(signer, inst)
    c = Citizen.enrol(inst, "mj")
    forged = authoring.graded_ballot("mj", c.pseudonym, c.credential, ["good", "superb", "bad"])
    audit_catches(tmp_path, signer, [*first, forged], 6, "bad_grades")


def test_the_audit_catches_a_choice_where_grades_are_due(tmp_path: Path) -> None:
    signer, inst = Ed25519Signer.generate("audit.example/mj"), Institution()
    first = _log(signer, inst)
    forged = Citizen.enrol(inst, "mj").ballot(["a"])
    audit_catches(tmp_path, signer, [*first, forged], 6, "bad_choice")
