"""A secret vote with ``urne-wallet`` and ``urne-verify``, against the service
on a loopback port: before the trustees' election key a ballot is refused;
after it, citizens vote, one revotes, one makes a challenge file that
``urne-verify challenge --service`` checks (and refuses tampered with) and
that is never cast; the institution closes, two of the three trustees
decrypt, the result published is the choices cast, and the log passes
``urne-verify audit``. A service that describes the vote otherwise than its
log (another key, another fingerprint, a secret vote said public, another
entry for its manifest) gets no ballot."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import proposal
from tests.support.deployment import console_script
from tests.support.secret import Board
from tests.support.service import Served, served_app
from urne.verifier.citizen.service import CitizenClient
from urne.verifier.citizen.wallet import Joined, Wallet
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.errors import UrneError
from urne.verifier.secret.group import random_scalar, ristretto255
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.trustee.ledger import HttpLedger

pytestmark = pytest.mark.slow

G = ristretto255()
SENTENCE = "A ballot made like it and cast would count for that choice."

PID = "river-2026"
PROPOSALS = [proposal("meadow", "Meadow"), proposal("river", "River"), proposal("park", "Park")]
RULE = {"method": "approval", "min": 1, "max": 2, "revoting": True}


def run(script: str, *args: str | Path, cwd: Path, expect: int = 0) -> tuple[str, str]:
    r = subprocess.run(
        [console_script(script), *map(str, args)],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == expect, f"{r.args}\n{r.stdout}\n{r.stderr}"
    return r.stdout, r.stderr


def post(served: Served, leaf: bytes) -> int:
    index: int = CitizenClient(served.url).post_json("/entries", leaf)["index"]
    return index


def test_citizens_vote_secretly_with_the_wallet(tmp_path: Path) -> None:
    board = Board.make(PID, n=3, t=2)
    with served_app(tmp_path / "service") as served:
        codes = served.open(
            PID, "vote", people=4, proposals=PROPOSALS, rule=RULE, secret=board.manifest_field()
        )
        board.opened(served.log.entry(served.civic.process(PID).index))
        client = CitizenClient(served.url)
        vkey = client.get_json("/log")["verifier_key"]

        def wallet(name: str, *args: str | Path, expect: int = 0) -> tuple[str, str]:
            return run("urne-wallet", *args, "--wallet", tmp_path / name, cwd=tmp_path,
                       expect=expect)  # fmt: skip

        def size() -> int:
            n: int = client.get_json("/log")["size"]
            return n

        for name, code in zip(("alice", "bob", "carol"), codes, strict=False):
            out, _ = wallet(name, "join", served.url, PID, "--code", code, "--log-key", vkey)
            assert f"joined {PID}" in out

        # before the trustees' election key: nothing is encrypted, nothing cast
        before = size()
        _, err = wallet("alice", "vote", PID, "meadow", expect=1)
        assert "(no_election_key)" in err and "try again later" in err
        assert err.count("\n") == 1
        _, err = wallet("carol", "challenge", PID, "park", expect=1)
        assert "(no_election_key)" in err
        assert size() == before

        board.ceremony(lambda leaf: post(served, leaf), served.inst.key)
        published = client.get_json(f"/processes/{PID}")["secret"]
        assert published["election_key"] is not None

        # Alice votes, then revotes; Bob chooses two; the wrong choices are refused
        out, _ = wallet("alice", "vote", PID, "meadow")
        assert f"recorded: your secret ballot in {PID}: meadow" in out
        assert "The log shows your ballot encrypted" in out
        out, _ = wallet("bob", "vote", PID, "park", "river")
        assert f"recorded: your secret ballot in {PID}: river, park" in out
        out, _ = wallet("alice", "vote", PID, "river")
        assert f"your secret ballot in {PID}: river" in out
        _, err = wallet("bob", "vote", PID, "meadow", "river", "park", expect=1)
        assert "(bad_choice_count)" in err and "the choices are: meadow, river, park" in err
        _, err = wallet("bob", "vote", PID, "lake", expect=1)
        assert "(unknown_proposal)" in err

        # what the log and the wallet file hold: the ballot encrypted, the choice kept
        # by the wallet alone, and never the randomness
        kept = json.loads((tmp_path / "alice" / f"{PID}.json").read_text())
        assert kept["choices"] == {"0": ["meadow"], "1": ["river"]} and kept["seq"] == 2
        assert "randomness" not in json.dumps(kept)
        for receipt in kept["receipts"]:
            entry = client.get_json(f"/log/entries/{receipt['index']}")
            obj = decode_entry(base64.b64decode(entry["data"])).obj
            assert "encrypted" in obj and "choice" not in obj
        out, _ = wallet("alice", "receipts")
        lines = out.splitlines()
        assert len(lines) == 2 and all(x.startswith("ok ") for x in lines), out
        assert "meadow (replaced by a later one)" in lines[0] and "river (counts)" in lines[1]

        # Carol challenges her device: a ballot for "park", opened, never cast
        before = size()
        challenge = tmp_path / "carol-challenge.json"
        out, _ = wallet("carol", "challenge", PID, "park", "--out", challenge)
        assert f"challenge file written to {challenge}: a ballot for park" in out
        assert f"urne-verify challenge {challenge} --service {served.url}" in out
        assert size() == before
        carol = json.loads((tmp_path / "carol" / f"{PID}.json").read_text())
        assert carol["seq"] == 0 and carol["receipts"] == [] and "choices" not in carol
        file = json.loads(challenge.read_text())
        assert file["format"] == "urne-challenge/1" and file["choice"] == ["park"]
        assert file["key"] == published["election_key"]
        assert file["fingerprint"] == published["fingerprint"]

        out, _ = run("urne-verify", "challenge", challenge, "--service", served.url, cwd=tmp_path)
        assert f"This ballot encrypts: Park. {SENTENCE}" in out
        assert "the fingerprint is the SHA-256 of the manifest" in out
        assert out.endswith("VALID challenge\n")
        out, _ = run("urne-verify", "challenge", challenge, "--service", served.url,
                     "--log-key", vkey, cwd=tmp_path)  # fmt: skip
        assert "inclusion proof" in out and "VALID challenge" in out
        tampered = tmp_path / "tampered.json"
        tampered.write_text(json.dumps({**file, "choice": ["meadow"]}))
        out, _ = run("urne-verify", "challenge", tampered, "--service", served.url,
                     cwd=tmp_path, expect=1)  # fmt: skip
        assert "INVALID (challenge_mismatch)" in out

        # Carol then votes; the vote closes; trustees 1 and 3 decrypt (2 is away)
        out, _ = wallet("carol", "vote", PID, "meadow")
        assert f"your secret ballot in {PID}: meadow" in out
        closed = post(served, served.inst.close(PID))
        key = Ed25519Verifier.from_vkey(vkey)
        sec = HttpLedger(served.url, key).refresh().state(PID).secret
        assert sec is not None and sec.aggregates is not None and sec.counted == 3
        for j in (1, 3):
            post(served, board.decryption(j, sec.aggregates))
        reg = HttpLedger(served.url, key).refresh()
        tally = reg.tally(PID, closed)
        assert tally["counts"] == {"meadow": 1, "river": 2, "park": 1}
        assert tally["ballots"] == 3
        post(served, served.inst.result(PID, closed, tally))
        assert client.get_json(f"/processes/{PID}")["secret"]["decrypted"] == [1, 3]

        _, err = wallet("bob", "vote", PID, "meadow", expect=1)
        assert "(process_closed)" in err
        bob = Joined.from_json(json.loads((tmp_path / "bob" / f"{PID}.json").read_text()), "bob")
        assert bob.choices == {0: ["river", "park"]}  # the refused ballot's is not kept
        assert bob.pending is None and bob.seq == 2 and len(bob.receipts) == 1
        out, _ = run("urne-verify", "audit", "--log", served.url, "--log-key", vkey, cwd=tmp_path)
        assert "PASSED" in out and "secret ballots' proofs: 4" in out


def test_the_wallet_encrypts_nothing_for_a_service_that_is_not_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = Board.make(PID, n=3, t=2)
    with served_app(tmp_path / "service") as served:
        codes = served.open(
            PID, "vote", people=1, proposals=PROPOSALS, rule=RULE, secret=board.manifest_field()
        )
        board.opened(served.log.entry(served.civic.process(PID).index))
        board.ceremony(lambda leaf: post(served, leaf), served.inst.key)
        w = Wallet(tmp_path / "wallet")
        w.join(served.url, PID, codes[0])
        client = CitizenClient(served.url)
        real = CitizenClient.get_json
        lie: list[Callable[[dict[str, Any]], dict[str, Any]]] = []

        def get_json(self: CitizenClient, path: str) -> Any:
            answer = real(self, path)
            return lie[0](answer) if lie and path == f"/processes/{PID}" else answer

        monkeypatch.setattr(CitizenClient, "get_json", get_json)

        def secret(**change: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
            return lambda a: {**a, "secret": {**a["secret"], **change}}

        size = real(client, "/log")["size"]
        for how, code in (
            (secret(election_key=b64encode(G.base(random_scalar(G)))), "bad_election_key"),
            (secret(fingerprint=b64encode(bytes(32))), "fingerprint_mismatch"),
            (lambda a: {**a, "secret": None}, "fingerprint_mismatch"),
            (lambda a: {**a, "index": 0}, "bad_manifest"),
            (lambda a: {**a, "index": None}, "bad_process_answer"),
        ):
            lie[:] = [how]
            for act in (lambda: w.cast(PID, ["meadow"]), lambda: w.challenge(PID, ["meadow"])):
                with pytest.raises(UrneError) as err:
                    act()
                assert err.value.code == code
        state = w.joined(PID)
        assert state.seq == 0 and state.pending is None and state.choices == {}
        assert real(client, "/log")["size"] == size  # nothing was posted

        lie.clear()  # the service as its log: the ballot is cast
        receipt, fresh = w.cast(PID, ["meadow"])
        assert fresh and decode_entry(receipt.entry).obj["seq"] == 0
        assert w.joined(PID).choices == {0: ["meadow"]}


def test_a_service_that_lies_about_the_key_is_caught_with_the_log_key(tmp_path: Path) -> None:
    """A service that publishes another election key than its log's, and hands
    out challenge files made under that key, is consistent with itself: without
    the log key, `urne-verify challenge` cannot tell. With `--log-key`, the key
    is read from the log's `election-key` entry with its inclusion proof, and
    the lie is refused (`bad_election_key`)."""
    import http.server
    import threading
    import urllib.request

    from urne.verifier.secret.ballot import ballot_context, encrypt_ballot
    from urne.verifier.secret.challenge import encode_challenge, make_challenge

    board = Board.make(PID, n=3, t=2)
    fake = G.base(random_scalar(G))
    with served_app(tmp_path / "service") as served:
        served.open(PID, "vote", people=1, proposals=PROPOSALS, rule=RULE,
                    secret=board.manifest_field())  # fmt: skip
        board.opened(served.log.entry(served.civic.process(PID).index))
        board.ceremony(lambda leaf: post(served, leaf), served.inst.key)
        vkey = CitizenClient(served.url).get_json("/log")["verifier_key"]

        class Lying(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with urllib.request.urlopen(served.url + self.path) as r:
                    body, status = r.read(), r.status
                if self.path == f"/processes/{PID}":
                    obj = json.loads(body)
                    obj["secret"]["election_key"] = b64encode(fake)
                    body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Lying)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{proxy.server_address[1]}"
            nym = bytes(range(32))
            ctx = ballot_context(G, board.fingerprint, fake, nym)
            ballot, rs = encrypt_ballot(ctx, fake, 3, [1], (1, 2))
            file = tmp_path / "lie.json"
            file.write_bytes(encode_challenge(make_challenge(
                PID, nym, board.fingerprint, fake, ballot, ["meadow", "river", "park"], [1], rs
            )))  # fmt: skip
            out, _ = run("urne-verify", "challenge", file, "--service", url, cwd=tmp_path)
            assert out.endswith("VALID challenge\n")  # consistent with itself
            out, _ = run("urne-verify", "challenge", file, "--service", url, "--log-key", vkey,
                         cwd=tmp_path, expect=1)  # fmt: skip
            assert "INVALID (bad_election_key)" in out, out
        finally:
            proxy.shutdown()
            proxy.server_close()
