"""The audit with witnesses: a policy on the audited checkpoint (step 1), and
each witness's last cosigned checkpoint compared with the log the audit reads
(step 2). The attack suite of docs/spec/witness.md: a forged cosignature, a
cosignature by an unknown key, an old cosignature replayed on a new size, a
witness's time going back, a log withholding the consistency proof, and the
split view, each caught with evidence a third party checks with the keys
alone."""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import reference
from tests.support.civic import Citizen, Institution, open_in
from tests.support.exported import exported_log
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.check.audit import DirectorySource, audit
from urne.verifier.errors import FetchError
from urne.verifier.tlog.checkpoint import Checkpoint, open_checkpoint
from urne.verifier.tlog.cosignature import CosignatureSigner, WitnessPolicy
from urne.verifier.tlog.note import Ed25519Signer, NoteSignature, parse_note, sign_note
from urne.verifier.tlog.proof import verify_consistency
from urne.verifier.witness.core import LogState, Witness, WitnessRefusal

ORIGIN = "witnessed.example/log"
T = 1_800_000_000
SIGNER = Ed25519Signer.generate(ORIGIN)


def _leaves() -> list[bytes]:
    """A real log of 40 entries: a petition's authority, manifest and signatures."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Log.open(f"sqlite:///{tmp}/l.db", signer=SIGNER)
        rec = CivicRecord(log)
        inst = Institution()
        open_in(rec, inst.process("pet", "petition"))
        while log.size < 40:
            rec.append(Citizen.enrol(inst, "pet").ballot())
        leaves = log.entries(0, 40)
        log.close()
    return leaves


LEAVES = _leaves()


class Memory:
    def __init__(self) -> None:
        self.state: dict[str, LogState] = {}

    def get(self, origin: str) -> LogState:
        return self.state.get(origin, LogState(0, None, None, 0))

    def compare_and_swap(self, origin: str, old: LogState, new: LogState) -> bool:
        if self.get(origin) != old:
            return False
        self.state[origin] = new
        return True


def _body(signer: Ed25519Signer, leaves: list[bytes], old: int, size: int) -> bytes:
    note = sign_note(Checkpoint(ORIGIN, size, reference.mth(leaves[:size])).to_text(), signer)
    proof = reference.proof(old, leaves[:size]) if 0 < old < size else []
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{lines}\n{note}".encode()


class Witnesses:
    def __init__(self, signer: Ed25519Signer, n: int = 3) -> None:
        self.clock = [float(T)]
        self.all = [
            Witness(
                CosignatureSigner.generate(f"w{i}.example"),
                {ORIGIN: [signer.verifier]},
                Memory(),
                clock=lambda: self.clock[0],
            )
            for i in range(n)
        ]

    def policy(self, quorum: int) -> WitnessPolicy:
        return WitnessPolicy(tuple(w.signer.witness for w in self.all), quorum)

    def see(self, signer: Ed25519Signer, leaves: list[bytes], size: int) -> list[str]:
        """Each witness cosigns the log's checkpoint of ``size``; their lines."""
        out = []
        for w in self.all:
            old = w.store.get(ORIGIN).size
            out.append(w.add_checkpoint(_body(signer, leaves, old, size)))
        return out

    def readers(self) -> list[tuple[str, Callable[[str], bytes]]]:
        def reader(w: Witness) -> Callable[[str], bytes]:
            def get(path: str) -> bytes:
                note = w.store.get(ORIGIN).note
                if note is None:
                    raise FetchError("404", code="not_served")
                return note.encode()

            return get

        return [(w.signer.witness.name, reader(w)) for w in self.all]


def _cosigned_export(tmp: Path, signer: Ed25519Signer, lines: list[str], name: str = "log") -> Path:
    """The whole log exported, its checkpoint carrying ``lines``."""
    d = exported_log(tmp, name, signer, LEAVES)
    cp = d / "checkpoint"
    cp.write_text(cp.read_text() + "".join(lines))
    return d


@pytest.fixture
def signer() -> Ed25519Signer:
    return SIGNER


def test_a_cosigned_log_passes_with_the_policy_and_the_witnesses(
    signer: Ed25519Signer, tmp_path: Path
) -> None:
    ws = Witnesses(signer)
    ws.see(signer, LEAVES, 20)
    lines = ws.see(signer, LEAVES, len(LEAVES))
    d = _cosigned_export(tmp_path, signer, lines[:2])
    r = audit(DirectorySource(d), signer.verifier, policy=ws.policy(2), witnesses=ws.readers())
    assert r.ok, r.findings
    assert r.cosigned_by == ["w0.example", "w1.example"]
    assert [v["outcome"] for v in r.witnesses] == ["consistent"] * 3
    # a witness that stopped at 20 is behind, consistently
    ws.all[2].store.state[ORIGIN] = LogState(0, None, None, 0)
    ws.all[2].add_checkpoint(_body(signer, LEAVES, 0, 20))
    r = audit(DirectorySource(d), signer.verifier, policy=ws.policy(2), witnesses=ws.readers())
    assert r.ok and r.witnesses[2]["outcome"] == "behind"


def test_cosignatures_forged_unknown_or_replayed_fail_step_1(
    signer: Ed25519Signer, tmp_path: Path
) -> None:
    ws = Witnesses(signer, 2)
    old_lines = ws.see(signer, LEAVES, 20)
    new_lines = ws.see(signer, LEAVES, len(LEAVES))
    text = parse_note((exported_log(tmp_path, "x", signer, LEAVES) / "checkpoint").read_text()).text
    impostor = CosignatureSigner(ws.all[0].signer.witness.name, bytes(32)).cosign(text, T)
    forged = NoteSignature(impostor.name, ws.all[0].signer.witness.key_id, impostor.signature)
    stranger = CosignatureSigner.generate("stranger.example").cosign(text, T).line()
    cases = {
        "forged": [forged.line(), new_lines[1]],
        "replayed": old_lines,  # size 20's lines on size 40
    }
    for name, lines in cases.items():
        d = _cosigned_export(tmp_path, signer, lines, name)
        r = audit(DirectorySource(d), signer.verifier, policy=ws.policy(2))
        assert [(f.step, f.code) for f in r.findings] == [(1, "bad_cosignature")], name
    # a cosignature by a key nobody trusts counts for nothing: too few to audit
    # with this policy, which says nothing against the log (could not check)
    d = _cosigned_export(tmp_path, signer, [stranger, new_lines[1]], "unknown")
    with pytest.raises(FetchError) as e:
        audit(DirectorySource(d), signer.verifier, policy=ws.policy(2))
    assert e.value.code == "no_quorum"


def test_a_witness_whose_time_went_back_is_reported_and_left_out(
    signer: Ed25519Signer, tmp_path: Path
) -> None:
    ws = Witnesses(signer, 2)
    state = tmp_path / "state"
    d20 = exported_log(tmp_path, "d20", signer, LEAVES[:20])  # the auditor saw size 20...
    (d20 / "checkpoint").write_text(
        (d20 / "checkpoint").read_text() + "".join(ws.see(signer, LEAVES, 20))
    )  # ...cosigned by both at T
    assert audit(DirectorySource(d20), signer.verifier, state_dir=state, policy=ws.policy(1)).ok
    # witness 0 (or its key, in other hands) cosigns the next one an hour earlier
    rogue = Witness(ws.all[0].signer, {ORIGIN: [signer.verifier]}, Memory(), clock=lambda: T - 3600)
    back = rogue.add_checkpoint(_body(signer, LEAVES, 0, len(LEAVES)))
    ws.clock[0] = T + 60
    honest = ws.all[1].add_checkpoint(_body(signer, LEAVES, 20, len(LEAVES)))
    d = _cosigned_export(tmp_path, signer, [back, honest], "later")
    shutil.copytree(state, tmp_path / "state2")
    r = audit(DirectorySource(d), signer.verifier, state_dir=state, policy=ws.policy(1))
    assert r.ok, r.findings  # the log did nothing wrong
    assert r.cosigned_by == ["w1.example"]  # the other witness's word is left out
    [view] = r.witnesses
    assert (view["witness"], view["outcome"]) == ("w0.example", "time_went_back")
    # with a quorum of both, nothing can be audited with this policy
    with pytest.raises(FetchError) as e:
        audit(DirectorySource(d), signer.verifier, state_dir=tmp_path / "state2",
              policy=ws.policy(2))  # fmt: skip
    assert e.value.code == "no_quorum"


def test_the_split_view_at_the_same_size_and_below(signer: Ed25519Signer, tmp_path: Path) -> None:
    other = [*LEAVES[:10], *(b"other %d" % i for i in range(30))]
    for size in (len(LEAVES), 25):
        ws = Witnesses(signer, 1)
        ws.see(signer, other, size)  # the witness was shown the other view
        d = exported_log(tmp_path, f"log{size}", signer, LEAVES)
        r = audit(DirectorySource(d), signer.verifier, witnesses=ws.readers())
        assert [(f.step, f.code) for f in r.findings] == [(2, "split_view")]
        ev = r.findings[0].evidence
        # the third party: both signed by the log's key, and they cannot both be true
        ours = open_checkpoint(ev["checkpoint"], signer.verifier).checkpoint
        theirs = open_checkpoint(ev["witness_checkpoint"], signer.verifier).checkpoint
        if theirs.size == ours.size:
            assert theirs.root != ours.root
        else:
            root = base64.b64decode(ev["root_at_witness_size"])
            proof = [base64.b64decode(h) for h in ev["consistency_proof"]]
            verify_consistency(theirs.size, ours.size, proof, root, ours.root)
            assert root != theirs.root


def test_a_log_that_withholds_or_fakes_the_consistency_proof(
    signer: Ed25519Signer, tmp_path: Path
) -> None:
    ws = Witnesses(signer, 1)
    ws.see(signer, LEAVES, len(LEAVES))  # the witness saw 40 entries...
    d = exported_log(tmp_path, "short", signer, LEAVES[:30])  # ...the auditor is shown 30
    # no proof at all: the audit cannot tell, and says so (no finding)
    r = audit(DirectorySource(d), signer.verifier, witnesses=ws.readers())
    assert r.ok and r.witnesses[0]["outcome"] == "inconclusive"
    # a proof that does not prove it: a finding, with what the log answered
    proof = d / "log" / "proof" / "consistency?size1=30&size2=40"
    proof.parent.mkdir(parents=True)
    proof.write_text('{"proof": ["' + base64.b64encode(bytes(32)).decode() + '"]}')
    r = audit(DirectorySource(d), signer.verifier, witnesses=ws.readers())
    assert [(f.step, f.code) for f in r.findings] == [(2, "unproven_extension")]
    ev = r.findings[0].evidence
    assert open_checkpoint(ev["witness_checkpoint"], signer.verifier).checkpoint.size == 40
    assert '"proof"' in ev["log_answer"]
    # the witness itself refuses that view: it is not the one it cosigned
    with pytest.raises(WitnessRefusal):
        ws.all[0].add_checkpoint(_body(signer, LEAVES, 40, 30))
