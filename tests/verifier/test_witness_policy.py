"""``urne-verify checkpoint|receipt --witness ... --quorum K``: a checkpoint is
believed only with K valid cosignatures of the listed witnesses. The review's
split view (two logs under one key, one per citizen) is refused by a witness
as soon as the second view reaches it, so the second citizen's receipt never
gets the quorum. And the attacks on cosignatures: forged, by an unknown key,
replayed from an older checkpoint."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.witnesses import View
from urne.verifier.cli.main import app as urne_verify
from urne.verifier.errors import SignatureError
from urne.verifier.tlog.cosignature import CosignatureSigner, WitnessPolicy
from urne.verifier.tlog.note import Ed25519Signer, NoteSignature, parse_note
from urne.verifier.witness.core import Witness, WitnessRefusal
from urne.verifier.witness.state import SqliteStore

runner = CliRunner()
T = 1_800_000_000


def _witnesses(tmp_path: Path, key: Ed25519Signer, n: int = 3) -> list[Witness]:
    return [
        Witness(
            CosignatureSigner.generate(f"w{i}.example"),
            {key.name: [key.verifier]},
            SqliteStore(tmp_path / f"w{i}.db", [key.name]),
            clock=lambda: T,
        )
        for i in range(n)
    ]


def _cosigned(view: View, witnesses: list[Witness], old: int, size: int) -> str:
    """The view's checkpoint at ``size`` with the cosignatures of the witnesses that agree."""
    lines = []
    for w in witnesses:
        with contextlib.suppress(WitnessRefusal):
            lines.append(w.add_checkpoint(view.body(old, size)))
    return view.note(size) + "".join(lines)


def _args(witnesses: list[Witness], quorum: int) -> list[str]:
    out = []
    for w in witnesses:
        out += ["--witness", w.signer.witness.vkey]
    return [*out, "--quorum", str(quorum)]


def test_a_checkpoint_needs_the_quorum(tmp_path: Path) -> None:
    key = Ed25519Signer.generate("q.example/log")
    view = View(key, [b"e%d" % i for i in range(5)])
    ws = _witnesses(tmp_path, key)
    note = _cosigned(view, ws[:2], 0, 5)  # the third witness never saw it
    f = tmp_path / "cp"
    f.write_text(note)
    ok = runner.invoke(urne_verify, ["checkpoint", str(f), "--log-key", key.verifier.vkey,
                                     *_args(ws, 2)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "seen by 2 of 3 witnesses (w0.example, w1.example)" in ok.output
    short = runner.invoke(urne_verify, ["checkpoint", str(f), "--log-key", key.verifier.vkey,
                                        *_args(ws, 3)])  # fmt: skip
    assert short.exit_code == 1 and "INVALID (no_quorum)" in short.output
    default = runner.invoke(urne_verify, ["checkpoint", str(f), "--log-key", key.verifier.vkey,
                                          "--witness", ws[0].signer.witness.vkey])  # fmt: skip
    assert default.exit_code == 0  # one witness listed, quorum: all of them
    bad = runner.invoke(urne_verify, ["checkpoint", str(f), "--log-key", key.verifier.vkey,
                                      "--witness", key.verifier.vkey])  # fmt: skip
    assert bad.exit_code == 2 and "witness policy is not usable" in bad.output
    assert runner.invoke(urne_verify, ["checkpoint", str(f), "--log-key", key.verifier.vkey,
                                       "--quorum", "1"]).exit_code == 2  # fmt: skip


def test_the_split_view_is_caught_by_the_witnesses_and_the_citizen(tmp_path: Path) -> None:
    key = Ed25519Signer.generate("split.example/log")
    shared = [b"s%d" % i for i in range(4)]
    alice_view = View(key, [*shared, b"alice's ballot", b"a"])
    bob_view = View(key, [*shared, b"bob's ballot", b"b", b"bb"])
    ws = _witnesses(tmp_path, key)
    _cosigned(alice_view, ws, 0, 4)
    alice_note = _cosigned(alice_view, ws, 4, 6)
    # the operator shows Bob his own view: every witness refuses it
    for w in ws:
        for old in (4, 6):
            with pytest.raises(WitnessRefusal) as e:
                w.add_checkpoint(bob_view.body(old, 7))
            assert e.value.status in (409, 422)
    bob_note = bob_view.note(7)  # it can only carry the log's own signature
    alice_receipt, bob_receipt = tmp_path / "alice.json", tmp_path / "bob.json"
    alice_receipt.write_text(json.dumps(alice_view.receipt(4, alice_note)))
    bob_receipt.write_text(json.dumps(bob_view.receipt(4, bob_note)))
    args = ["--log-key", key.verifier.vkey, *_args(ws, 2)]
    a = runner.invoke(urne_verify, ["receipt", str(alice_receipt), *args])
    assert a.exit_code == 0 and "seen by 3 of 3 witnesses" in a.output, a.output
    assert "the entry existed by 2027-01-15 08:00:00 UTC (witnessed" in a.output  # T
    b = runner.invoke(urne_verify, ["receipt", str(bob_receipt), *args])
    assert b.exit_code == 1 and "INVALID (no_quorum)" in b.output
    # without a witness policy, Bob's receipt passes: that is the attack the policy stops
    assert runner.invoke(urne_verify, ["receipt", str(bob_receipt), "--log-key",
                                       key.verifier.vkey]).exit_code == 0  # fmt: skip


def test_forged_unknown_and_replayed_cosignatures(tmp_path: Path) -> None:
    key = Ed25519Signer.generate("attack.example/log")
    view = View(key, [b"e%d" % i for i in range(8)])
    ws = _witnesses(tmp_path, key, 2)
    policy = WitnessPolicy(tuple(w.signer.witness for w in ws), 2)
    old_note = _cosigned(view, ws, 0, 5)
    policy.check(parse_note(old_note))
    old_lines = old_note.split("\n\n", 1)[1].splitlines(keepends=True)[1:]  # the cosignatures
    # replayed: the witnesses' cosignatures of size 5 pasted on the size-8 checkpoint
    replayed = parse_note(view.note(8) + "".join(old_lines))
    with pytest.raises(SignatureError) as e:
        policy.check(replayed)
    assert e.value.code == "bad_cosignature"
    # forged: a cosignature line under a trusted witness's name and key ID, by another key
    impostor = CosignatureSigner(ws[0].signer.witness.name, bytes(32))
    by_impostor = impostor.cosign(parse_note(view.note(8)).text, T)
    forged_line = NoteSignature(by_impostor.name, ws[0].signer.witness.key_id,
                                by_impostor.signature).line()  # fmt: skip
    forged = parse_note(view.note(8) + forged_line)
    with pytest.raises(SignatureError) as e:
        policy.check(forged)
    assert e.value.code == "bad_cosignature"
    # unknown: a valid cosignature by a key nobody trusts counts for nothing
    stranger = CosignatureSigner.generate("stranger.example")
    unknown = parse_note(view.note(8) + stranger.cosign(parse_note(view.note(8)).text, T).line())
    with pytest.raises(SignatureError) as e:
        policy.check(unknown)
    assert e.value.code == "no_quorum"


def test_a_policy_file_names_the_witnesses_and_the_quorum(tmp_path: Path) -> None:
    key = Ed25519Signer.generate("file.example/log")
    view = View(key, [b"e%d" % i for i in range(3)])
    ws = _witnesses(tmp_path, key)
    f = tmp_path / "cp"
    f.write_text(_cosigned(view, ws[:2], 0, 3))
    policy = tmp_path / "policy.toml"
    keys = ", ".join(f'"{w.signer.witness.vkey}"' for w in ws)
    base = ["checkpoint", str(f), "--log-key", key.verifier.vkey, "--witness-policy", str(policy)]
    policy.write_text(f"witnesses = [{keys}]\nquorum = 2\n")
    ok = runner.invoke(urne_verify, base)
    assert ok.exit_code == 0 and "seen by 2 of 3 witnesses" in ok.output, ok.output
    policy.write_text(f"witnesses = [{keys}]\n")  # quorum: all of them
    assert "INVALID (no_quorum)" in runner.invoke(urne_verify, base).output
    for bad in ("witnesses = 3\n", "quorum = [\n", f"witnesses = [{keys}]\nquorum = true\n"):
        policy.write_text(bad)
        r = runner.invoke(urne_verify, base)
        assert r.exit_code == 2, bad
    both = runner.invoke(urne_verify, [*base, "--quorum", "1"])
    assert both.exit_code == 2 and "not both" in both.output
