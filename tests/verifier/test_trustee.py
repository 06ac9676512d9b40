"""``urne-trustee`` without a service: its secret file, the ceremony and the
decryption against a log held in memory (the rules are the registry's), a
crash between saving a deal and its post, a cheating dealer, and the reader
of a log that forks or breaks its rules."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.civic import Citizen, Institution, RegistryLog, authority_for, proposal
from urne.verifier.citizen import authoring
from urne.verifier.citizen.keyfile import UnsafeKeyFile
from urne.verifier.citizen.service import ServiceRefused
from urne.verifier.citizen.signing import AuthorKey, OperatorKey
from urne.verifier.civic.entries import Ballot, b64decode, decode_entry
from urne.verifier.civic.process import Registry
from urne.verifier.errors import FetchError, SignatureError, VerificationError
from urne.verifier.secret import dkg
from urne.verifier.secret.ballot import ballot_context, encrypt_ballot
from urne.verifier.secret.group import random_scalar, ristretto255
from urne.verifier.secret.proofs import SchnorrProof
from urne.verifier.tlog import merkle
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.note import Ed25519Signer, sign_note
from urne.verifier.tlog.rfc9162 import hash_leaf
from urne.verifier.tlog.tiles import TILE_WIDTH, encode_entry_bundle, entries_path, tile_width
from urne.verifier.trustee import ceremony as steps
from urne.verifier.trustee import keyfile
from urne.verifier.trustee.cli import app
from urne.verifier.trustee.keyfile import TrusteeError, TrusteeFile
from urne.verifier.trustee.ledger import HttpLedger, LogRefused

G = ristretto255()
PID = "secret-vote"
PROPOSALS = [proposal(x, f"Option {x}") for x in "abc"]
RULE = {"method": "approval", "min": 0, "max": 2, "revoting": True}
runner = CliRunner()


# -- a log in memory, with the service's refusals -------------------------------------------


class MemoryLedger:
    """The :class:`~urne.verifier.trustee.ledger.Ledger` of a registry fed in
    memory, refusing as the service does; ``lose`` makes the next post fail
    after (``"answer"``) or before (``"request"``) the entry reaches the log."""

    def __init__(self) -> None:
        self.log = RegistryLog()
        self.lock = threading.Lock()
        self.posted: list[bytes] = []
        self.lose: str | None = None
        #: how many reads to leave unanswered
        self.unanswered = 0
        self.checkpoint: str | None = None
        #: the leaves posted, by index
        self.leaves: dict[int, bytes] = {}
        #: the ballots added, by process
        self.cast: dict[str, list[Ballot]] = {}

    def add(self, leaf: bytes) -> int:
        with self.lock:
            index = self.log.add(leaf)
            body = decode_entry(leaf).body
            if isinstance(body, Ballot):
                self.cast.setdefault(body.process, []).append(body)
            return index

    def refresh(self) -> Registry:
        if self.unanswered:
            self.unanswered -= 1
            raise FetchError("GET /checkpoint: no answer (connection refused)")
        return self.log.reg

    def post(self, leaf: bytes) -> int:
        with self.lock:
            self.posted.append(leaf)
            lose, self.lose = self.lose, None
            if lose == "request":
                raise FetchError("POST /entries: no answer (connection reset)")
            entry = decode_entry(leaf)
            try:
                self.log.reg.check(entry, self.log.n)
            except (VerificationError, SignatureError) as exc:
                raise ServiceRefused(str(exc), code=exc.code, http_status=exc.status) from exc
            self.log.reg.apply(entry, self.log.n)
            self.leaves[self.log.n] = leaf
            self.log.n += 1
            if lose == "answer":
                raise FetchError("POST /entries: no complete answer within 60 s")
            return self.log.n - 1

    def ballots(self, process_id: str) -> list[Ballot]:
        return list(self.cast.get(process_id, ()))

    def kinds(self) -> list[str]:
        return [decode_entry(x).kind for x in self.posted]


class Trustees:
    """``n`` trustees, each with its secret file made by ``urne-trustee keygen``'s code."""

    def __init__(self, tmp: Path, ledger: MemoryLedger, n: int = 3, t: int = 2) -> None:
        self.tmp, self.ledger, self.t = tmp, ledger, t
        self.paths = []
        for i in range(1, n + 1):
            path = tmp / f"trustee-{i}.json"
            keyfile.create(path, steps.keygen(PID, f"Trustee {i}"))
            self.paths.append(path)
        self.said: dict[int, list[str]] = {i: [] for i in range(1, n + 1)}

    def file(self, i: int) -> TrusteeFile:
        return keyfile.load(self.paths[i - 1])

    def manifest_field(self) -> dict[str, Any]:
        return {
            "group": "ristretto255",
            "threshold": self.t,
            "trustees": [self.file(i).public for i in range(1, len(self.paths) + 1)],
        }

    def session(self, i: int) -> steps.Session:
        path = self.paths[i - 1]
        return steps.Session(path, keyfile.load(path), self.ledger, say=self.said[i].append)

    def run(self, i: int, step: Callable[[steps.Session], None]) -> None:
        with keyfile.locked(self.paths[i - 1]):
            step(self.session(i))

    def ceremony(self, i: int, wait: float = 0.0) -> None:
        self.run(i, lambda s: steps.ceremony(s, wait=wait, poll=0.01))


def _open(ledger: MemoryLedger, trustees: Trustees, inst: Institution) -> None:
    ledger.add(
        inst.process(PID, "vote", proposals=PROPOSALS, rule=RULE, secret=trustees.manifest_field())
    )


def _election_key(ledger: MemoryLedger, inst: Institution) -> bytes:
    sec = ledger.log.reg.state(PID).secret
    assert sec is not None
    qualified = sec.qualified_now()
    key = dkg.joint_key(G, [sec.deals[i][1].commitments[0] for i in qualified])
    ledger.add(authoring.election_key(PID, inst.key, key, qualified))
    return key


def _cast(ledger: MemoryLedger, inst: Institution, key: bytes, selected: list[int]) -> None:
    sec = ledger.log.reg.state(PID).secret
    assert sec is not None
    c = Citizen.enrol(inst, PID)
    ctx = ballot_context(G, sec.fingerprint, key, c.pseudonym.public_key)
    ballot, _ = encrypt_ballot(ctx, key, len(PROPOSALS), selected, (0, 2))
    ledger.add(authoring.secret_ballot(PID, c.pseudonym, c.credential, ballot.to_json()))


# -- keygen ------------------------------------------------------------------------------------


def test_keygen_writes_a_private_file_once_and_prints_a_public_object_that_proves_its_key(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ada.trustee"
    r = runner.invoke(app, ["keygen", "--process", PID, "--name", "Ada", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    public = json.loads(r.stdout)
    assert set(public) == {"name", "key", "share_key", "proof"} and public["name"] == "Ada"
    key = b64decode(public["key"], "key", size=32)
    share_key = G.decode(b64decode(public["share_key"], "share_key", size=32), "share_key")
    SchnorrProof.decode(G, b64decode(public["proof"], "proof", size=64), "proof").verify(
        dkg.share_context(G, PID, key), dkg.LABEL_SHARE_KEY, share_key
    )
    # the file holds the secrets; the public object none of them
    tf = keyfile.load(out)
    assert AuthorKey(tf.seed).public_key == key and G.base(tf.share_secret) == share_key
    secret_text = out.read_text()
    assert json.loads(secret_text)["signing_seed"] not in r.output
    assert json.loads(secret_text)["share_secret"] not in r.output
    # never overwritten
    again = runner.invoke(app, ["keygen", "--process", PID, "--name", "Bob", "--out", str(out)])
    assert again.exit_code == 1 and "exists" in again.output
    assert out.read_text() == secret_text
    # the public object is what a manifest takes: the rules check its proof
    ledger = MemoryLedger()
    inst = Institution()
    ledger.add(
        inst.process(
            PID,
            "vote",
            proposals=PROPOSALS,
            rule=RULE,
            secret={"group": "ristretto255", "threshold": 1, "trustees": [public]},
        )
    )
    sec = ledger.log.reg.state(PID).secret
    assert sec is not None and sec.spec.index_of(key) == 1
    # a proof made for another process id does not pass
    other = steps.public_object(TrusteeFile(**{**tf.__dict__, "process": "other"}))
    with pytest.raises(VerificationError):
        SchnorrProof.decode(G, b64decode(other["proof"], "proof"), "proof").verify(
            dkg.share_context(G, PID, key), dkg.LABEL_SHARE_KEY, share_key
        )


def test_keygen_with_public_file_and_the_public_command(tmp_path: Path) -> None:
    out, pub = tmp_path / "t.secret", tmp_path / "t.json"
    r = runner.invoke(
        app, ["keygen", "--process", PID, "--name", "Ada", "--out", str(out), "--public", str(pub)]
    )
    assert r.exit_code == 0, r.output
    written = json.loads(pub.read_text())
    assert r.stdout == ""  # the public object went to its file
    shown = runner.invoke(app, ["public", "--secret", str(out)])
    assert shown.exit_code == 0 and json.loads(shown.stdout) == written
    bad = runner.invoke(
        app, ["keygen", "--process", "../x", "--name", "A", "--out", str(out) + "2"]
    )
    assert bad.exit_code == 1 and "bad_process_id" in bad.output
    assert not (tmp_path / "t.secret2").exists()


def test_a_secret_file_others_may_read_is_refused_and_one_command_at_a_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.secret"
    keyfile.create(path, steps.keygen(PID, "Ada"))
    with keyfile.locked(path):
        with pytest.raises(TrusteeError) as e, keyfile.locked(path):
            pass
        assert e.value.code == "file_in_use"
    with keyfile.locked(path):  # released
        pass
    os.chmod(path, 0o644)
    with pytest.raises(UnsafeKeyFile):
        keyfile.load(path)
    with pytest.raises(TrusteeError) as e:
        keyfile.load(tmp_path / "missing")
    assert e.value.code == "no_file"


# -- the ceremony, the decryption ------------------------------------------------------------


def test_three_trustees_two_decrypt_and_the_totals_are_the_plaintext_counts(
    tmp_path: Path,
) -> None:
    ledger, inst = MemoryLedger(), Institution()
    trustees = Trustees(tmp_path, ledger)
    _open(ledger, trustees, inst)
    threads = [
        threading.Thread(target=trustees.ceremony, args=(i,), kwargs={"wait": 30})
        for i in (1, 2, 3)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    sec = ledger.log.reg.state(PID).secret
    assert sec is not None
    assert sorted(sec.deals) == [1, 2, 3] and sorted(sec.checks) == [1, 2, 3]
    assert not sec.disqualified
    for i in (1, 2, 3):
        assert any("Your check is on the log" in line for line in trustees.said[i])
        tf = trustees.file(i)
        assert tf.coefficients is not None and len(tf.coefficients) == 2
        assert tf.deal == ledger.leaves[sec.deals[i][0]]
        assert sec.deals[i][1].commitments == tuple(G.base(a) for a in tf.coefficients)
    # run again: nothing is posted twice
    before = len(ledger.posted)
    trustees.ceremony(1)
    assert len(ledger.posted) == before
    assert any("Your deal is on the log" in line for line in trustees.said[1])

    key = _election_key(ledger, inst)
    trustees.ceremony(2)  # after the key: says so, checks its share
    assert any("matches your verification key" in line for line in trustees.said[2])

    with pytest.raises(TrusteeError) as e:
        trustees.run(1, steps.decrypt)
    assert e.value.code == "process_not_closed"

    choices = [[0], [0, 1], [2], [], [0, 2], [1]]
    for selected in choices:
        _cast(ledger, inst, key, selected)
    closed = ledger.add(inst.close(PID))

    trustees.run(1, steps.decrypt)
    trustees.run(3, steps.decrypt)
    trustees.run(3, steps.decrypt)  # once only
    assert ledger.kinds().count("decryption") == 2
    assert any("decryption is on the log already" in x for x in trustees.said[3])
    tally = ledger.log.reg.tally(PID, closed)
    want = {p: sum(1 for c in choices if k in c) for k, p in enumerate("abc")}
    assert tally["counts"] == want
    ledger.add(inst.result(PID, closed, tally))  # the rules accept the result

    said: list[str] = []
    steps.status(steps.Session(trustees.paths[1], trustees.file(2), ledger, say=said.append))
    assert any("2 decryption(s) on the log" in x and "enough for the result" in x for x in said)
    assert said[-1] == "Next: nothing: the result is on the log."


def test_a_crash_between_saving_the_deal_and_its_post_posts_the_same_deal_again(
    tmp_path: Path,
) -> None:
    ledger, inst = MemoryLedger(), Institution()
    trustees = Trustees(tmp_path, ledger, n=2, t=2)
    _open(ledger, trustees, inst)

    ledger.lose = "request"  # the deal never reaches the log
    with pytest.raises(FetchError):
        trustees.ceremony(1)
    saved = trustees.file(1)
    assert saved.deal is not None and saved.coefficients is not None
    assert ledger.posted == [saved.deal]
    sec = ledger.log.reg.state(PID).secret
    assert sec is not None and 1 not in sec.deals

    ledger.lose = "answer"  # the same bytes reach it, the answer is lost
    with pytest.raises(FetchError):
        trustees.ceremony(1)
    assert ledger.posted == [saved.deal, saved.deal]
    assert 1 in sec.deals

    trustees.ceremony(2, wait=0)  # trustee 1 has dealt: 2 deals, checks
    trustees.ceremony(1)  # found on the log: not posted a third time; checks
    assert ledger.kinds().count("deal") == 3  # 1's twice (once refused), 2's once
    deal = sec.deals[1][1]
    assert deal.commitments == tuple(G.base(a) for a in saved.coefficients)
    assert trustees.file(1).coefficients == saved.coefficients
    assert sorted(sec.checks) == [1, 2] and sec.qualified_now() == (1, 2)


def test_a_post_refused_as_already_dealt_finds_the_deal_on_the_log(tmp_path: Path) -> None:
    ledger, inst = MemoryLedger(), Institution()
    trustees = Trustees(tmp_path, ledger, n=2, t=1)
    _open(ledger, trustees, inst)
    ledger.lose = "answer"
    with pytest.raises(FetchError):
        trustees.ceremony(1)
    # a stale read: the step believes it has not dealt, the service says it has
    tf = trustees.file(1)
    assert tf.deal is not None
    with pytest.raises(ServiceRefused) as e:
        ledger.post(tf.deal)
    assert e.value.code == "already_dealt"
    trustees.ceremony(1)
    sec = ledger.log.reg.state(PID).secret
    assert sec is not None and 1 in sec.checks


def test_a_wrong_share_is_complained_about_and_its_dealer_left_out(tmp_path: Path) -> None:
    ledger, inst = MemoryLedger(), Institution()
    trustees = Trustees(tmp_path, ledger)
    _open(ledger, trustees, inst)
    sec = ledger.log.reg.state(PID).secret
    assert sec is not None
    # trustee 3 deals trustee 1 a share of another polynomial
    cheat = trustees.file(3)
    keys = {j: ref.share_key for j, ref in enumerate(sec.spec.trustees, start=1)}
    dealt = dkg.deal(G, sec.fingerprint, 3, 2, keys, coefficients=[random_scalar(G)] * 2)
    other = dkg.deal(G, sec.fingerprint, 3, 2, keys)
    dealt.shares[1] = other.shares[1]
    ledger.add(
        authoring.deal(
            PID,
            AuthorKey(cheat.seed),
            3,
            dealt.commitments,
            dealt.proof.to_bytes(),
            [(j, x.ephemeral, x.masked, x.proof) for j, x in sorted(dealt.shares.items())],
        )
    )
    threads = [
        threading.Thread(target=trustees.ceremony, args=(i,), kwargs={"wait": 30}) for i in (1, 2)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert 3 in sec.disqualified
    complaint = decode_entry(ledger.posted[ledger.kinds().index("complaint")])
    assert complaint.obj["trustee"] == 1 and complaint.obj["against"] == 3
    assert any("your complaint, at index" in x for x in trustees.said[1])
    assert any("Trustee 3" in x and "match their commitments" in x for x in trustees.said[2])
    ledger.add(authoring.check(PID, AuthorKey(cheat.seed), 3))
    assert sec.qualified_now() == (1, 2)
    key = _election_key(ledger, inst)
    _cast(ledger, inst, key, [1])
    ledger.add(inst.close(PID))
    trustees.run(2, steps.decrypt)
    assert ledger.kinds().count("decryption") == 1
    with pytest.raises(TrusteeError) as e:
        trustees.run(3, steps.decrypt)
    assert e.value.code == "not_qualified"


def test_when_the_wait_is_over_the_trustees_who_dealt_go_on_without_the_others(
    tmp_path: Path,
) -> None:
    ledger, inst = MemoryLedger(), Institution()
    trustees = Trustees(tmp_path, ledger)
    _open(ledger, trustees, inst)
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # trustee 2 turns up while trustee 1 waits
        slept.append(seconds)
        now[0] += seconds
        if len(slept) == 1:
            trustees.ceremony(2, wait=0)
            ledger.unanswered = 1  # and the service is away a moment

    def waiting(s: steps.Session) -> None:
        steps.ceremony(s, wait=10, poll=4, clock=lambda: now[0], sleep=sleep)

    trustees.run(1, waiting)
    assert slept == [4]  # one nap: trustee 2's check ended the dealing
    assert any("The service did not answer" in x for x in trustees.said[1])
    assert any("Time is up: trustee 3 (Trustee 3) did not deal" in x for x in trustees.said[2])
    assert any("Dealing is over; trustee 3 (Trustee 3) did not deal" in x for x in trustees.said[1])
    sec = ledger.log.reg.state(PID).secret
    assert sec is not None and sec.qualified_now() == (1, 2)
    with pytest.raises(TrusteeError) as e:
        trustees.ceremony(3)
    assert e.value.code == "dealing_over"
    assert trustees.file(3).deal is None and 3 not in sec.deals

    # the ceremony without trustee 3, then a vote decrypted by 1 and 2
    key = _election_key(ledger, inst)
    for selected in ([0], [1, 2], [0, 1]):
        _cast(ledger, inst, key, selected)
    closed = ledger.add(inst.close(PID))
    trustees.run(2, steps.decrypt)
    trustees.run(1, steps.decrypt)
    assert ledger.log.reg.tally(PID, closed)["counts"] == {"a": 2, "b": 2, "c": 1}


def test_a_file_that_lost_its_polynomial_posts_no_check(tmp_path: Path) -> None:
    ledger, inst = MemoryLedger(), Institution()
    trustees = Trustees(tmp_path, ledger, n=2, t=1)
    _open(ledger, trustees, inst)
    ledger.lose = "answer"
    with pytest.raises(FetchError):
        trustees.ceremony(1)
    tf = trustees.file(1)  # restored from a copy made before the deal
    tf.coefficients, tf.deal = None, None
    keyfile.save(trustees.paths[0], tf)
    with pytest.raises(TrusteeError) as e:
        trustees.ceremony(1)
    assert e.value.code == "lost_polynomial" and "Do not post a check" in str(e.value)
    assert ledger.kinds() == ["deal"]


@pytest.mark.parametrize("workers", [False, True], ids=["here", "in-workers"])
def test_no_decryption_when_the_log_holds_a_ballot_its_rules_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: bool
) -> None:
    """What the trustee verifies itself before it decrypts: each ballot's
    credential and proofs (a copied encryption under another pseudonym would
    let the totals repeat one voter's choice); in this process, or, for many
    ballots, in worker processes (forced here with tiny batches)."""
    batches: list[int] = []
    if workers:
        from urne.verifier.check.workers import CredentialWorkers

        monkeypatch.setattr(steps, "_PARALLEL_MIN", 0)
        monkeypatch.setattr(steps, "_PROOF_BATCH", 1)
        real = CredentialWorkers.submit_proofs

        def spy(self: Any, ctx: Any, items: list[Any]) -> Any:
            batches.append(len(items))
            return real(self, ctx, items)

        monkeypatch.setattr(CredentialWorkers, "submit_proofs", spy)
    ledger, inst = MemoryLedger(), Institution()
    trustees = Trustees(tmp_path, ledger, n=1, t=1)
    _open(ledger, trustees, inst)
    trustees.ceremony(1)
    key = _election_key(ledger, inst)
    _cast(ledger, inst, key, [0])
    _cast(ledger, inst, key, [1])
    ledger.add(inst.close(PID))
    first, second = ledger.cast[PID]
    ledger.cast[PID] = [first, replace(second, encrypted=first.encrypted)]
    with pytest.raises(LogRefused) as e:
        trustees.run(1, steps.decrypt)
    assert e.value.code == "bad_ballot_proof"
    ledger.cast[PID] = [first, replace(second, credential=first.credential)]
    with pytest.raises(LogRefused) as e:
        trustees.run(1, steps.decrypt)
    assert e.value.code == "bad_credential"
    assert "decryption" not in ledger.kinds()
    ledger.cast[PID] = [first, second]
    trustees.run(1, steps.decrypt)
    assert ledger.kinds().count("decryption") == 1
    # proofs checked twice (the credential refusal comes first), two ballots each time
    assert batches == ([1, 1] * 2 if workers else [])


def test_no_step_for_a_key_the_manifest_does_not_name(tmp_path: Path) -> None:
    ledger, inst = MemoryLedger(), Institution()
    trustees = Trustees(tmp_path, ledger, n=2, t=1)
    stranger = tmp_path / "stranger.json"
    keyfile.create(stranger, steps.keygen(PID, "Mallory"))
    s = steps.Session(stranger, keyfile.load(stranger), ledger, say=lambda _: None)
    with pytest.raises(TrusteeError) as e:
        steps.ceremony(s, wait=0)
    assert e.value.code == "unknown_process"
    _open(ledger, trustees, inst)
    with pytest.raises(TrusteeError) as e:
        steps.ceremony(s, wait=0)
    assert e.value.code == "not_a_trustee"
    assert ledger.posted == []


# -- the reader of the log ---------------------------------------------------------------------


class Served:
    """A log's tiles and checkpoint in memory, signed by ``signer``."""

    def __init__(self, signer: Ed25519Signer, leaves: list[bytes]) -> None:
        self.signer, self.leaves = signer, list(leaves)
        self.checkpoint_leaves: list[bytes] | None = None

    def note(self, leaves: list[bytes]) -> str:
        border = merkle.CompactRange()
        for leaf in leaves:
            border.append(hash_leaf(leaf), lambda *_: None)
        cp = Checkpoint(self.signer.name, len(leaves), border.root())
        return sign_note(cp.to_text(), self.signer)

    def get(self, path: str) -> bytes:
        if path == "checkpoint":
            signed = self.checkpoint_leaves if self.checkpoint_leaves is not None else self.leaves
            return self.note(signed).encode()
        size = len(self.leaves)
        for n in range(-(-size // TILE_WIDTH)):
            width = tile_width(0, n, size)
            if path == entries_path(n, width):
                return encode_entry_bundle(self.leaves[n * TILE_WIDTH : n * TILE_WIDTH + width])
        raise FetchError(f"GET {path}: HTTP 404", code="not_served")


def _a_log(signer: Ed25519Signer | None = None) -> tuple[Served, Institution]:
    signer = signer or Ed25519Signer.generate("t.test/log")
    inst = Institution()
    manifest = inst.process("pub", "vote", proposals=PROPOSALS)
    first = authority_for(manifest, OperatorKey(signer), registered=lambda _: False)
    return Served(signer, [*first, manifest]), inst


def test_the_reader_replays_the_log_and_reads_only_what_is_new() -> None:
    served, inst = _a_log()
    ledger = HttpLedger("http://log.test", served.signer.verifier, get=served.get)
    reg = ledger.refresh()
    assert reg.state("pub").index == 2 and ledger.size == 3
    ballots = [Citizen.enrol(inst, "pub").ballot(["a"]) for _ in range(3)]
    served.leaves += ballots
    ledger.refresh()
    assert ledger.size == 6 and len(ledger.ballots("pub")) == 3
    assert ledger.registry.tally("pub", 5)["counts"] == {"a": 3, "b": 0, "c": 0}
    # a later run, from the kept checkpoint, reads the same log again
    again = HttpLedger(
        "http://log.test", served.signer.verifier, known=ledger.checkpoint, get=served.get
    )
    assert again.refresh().tally("pub", 5) == ledger.registry.tally("pub", 5)


def test_the_reader_refuses_a_forked_log_a_changed_entry_and_a_rule_broken() -> None:
    served, inst = _a_log()
    ledger = HttpLedger("http://log.test", served.signer.verifier, get=served.get)
    ledger.refresh()
    kept = ledger.checkpoint
    # another history under the same key: refused against the kept checkpoint
    other, _ = _a_log(served.signer)
    forked = Served(served.signer, other.leaves)
    with pytest.raises(LogRefused) as e:
        HttpLedger("http://log.test", served.signer.verifier, known=kept, get=forked.get).refresh()
    assert e.value.code == "inconsistent_log"
    # an entry read before, changed in the partial bundle read again
    changing = Served(served.signer, served.leaves)
    reader = HttpLedger("http://log.test", served.signer.verifier, get=changing.get)
    reader.refresh()
    changing.leaves[1] = other.leaves[1]
    changing.leaves.append(Citizen.enrol(inst, "pub").ballot(["b"]))
    with pytest.raises(LogRefused) as e:
        reader.refresh()
    assert e.value.code == "inconsistent_log"
    # a checkpoint whose root the entries do not give
    wrong = Served(served.signer, served.leaves)
    wrong.checkpoint_leaves = other.leaves
    with pytest.raises(LogRefused) as e:
        HttpLedger("http://log.test", served.signer.verifier, get=wrong.get).refresh()
    assert e.value.code == "root_mismatch"
    # an entry the rules refuse (a second manifest for the id), signed and served
    broken = Served(served.signer, [*served.leaves, served.leaves[-1]])
    with pytest.raises(LogRefused) as e:
        HttpLedger("http://log.test", served.signer.verifier, get=broken.get).refresh()
    assert e.value.code == "log_breaks_rules" and "process_exists" in str(e.value)
    # a checkpoint signed by another key
    stranger = Ed25519Signer.generate("t.test/log")
    with pytest.raises(LogRefused) as e:
        HttpLedger(
            "http://log.test", served.signer.verifier, get=Served(stranger, served.leaves).get
        ).refresh()
    assert e.value.code == "not_the_log"
