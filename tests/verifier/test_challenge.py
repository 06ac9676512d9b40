"""Challenge files (docs/secret-ballot.md §5): made, read back and checked;
refused, each with its code, when tampered with, made for another key,
manifest or process, or malformed; and ``urne-verify challenge`` exits 0, 1 or
2 as the rest of urne-verify, offline and against a service."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.civic import Institution, proposal
from tests.support.secret import Board
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.civic.secret import manifest_fingerprint
from urne.verifier.cli.main import app as urne_verify
from urne.verifier.errors import FormatError, UrneError, VerificationError
from urne.verifier.secret.ballot import ballot_context, encrypt_ballot
from urne.verifier.secret.challenge import (
    FIELDS,
    FORMAT,
    MAX_CHALLENGE_BYTES,
    Challenge,
    ChallengeError,
    Election,
    check_challenge,
    check_published,
    encode_challenge,
    make_challenge,
    read_challenge,
)
from urne.verifier.secret.group import L, random_scalar, ristretto255

G = ristretto255()
PID = "river-2026"
PROPOSALS = [proposal("meadow", "Meadow"), proposal("river", "River"), proposal("park", "Park")]
IDS = ["meadow", "river", "park"]
RULE = {"method": "approval", "min": 1, "max": 2, "revoting": True}
BOUNDS = (1, 2)
SENTENCE = "A ballot made like it and cast would count for that choice."
runner = CliRunner()


class Vote:
    """A secret vote's manifest (real trustees' objects) and an election key."""

    def __init__(self) -> None:
        board = Board.make(PID)
        self.manifest = Institution().process(
            PID, "vote", proposals=PROPOSALS, rule=RULE, secret=board.manifest_field()
        )
        self.fingerprint = manifest_fingerprint(decode_entry(self.manifest))
        self.key = G.base(random_scalar(G))
        self.index = 2

    def answer(self, **change: Any) -> dict[str, Any]:
        """The process as GET /processes/{id} describes it."""
        obj = json.loads(self.manifest)
        secret = {
            **obj["secret"],
            "fingerprint": b64encode(self.fingerprint),
            "election_key": b64encode(self.key),
            "qualified": [1, 2, 3],
            "decrypted": [],
        }
        out = {
            "id": PID,
            "type": "vote",
            "index": self.index,
            "proposals": obj["proposals"],
            "rule": obj["rule"],
            "secret": secret,
        }
        out.update(change)
        return out

    def election(self) -> Election:
        return Election.from_process(self.answer())


@pytest.fixture(scope="module")
def vote() -> Vote:
    return Vote()


def make(
    vote: Vote,
    selected: list[int],
    *,
    key: bytes | None = None,
    fingerprint: bytes | None = None,
    pseudonym: bytes = b"\x07" * 32,
) -> Challenge:
    """A ballot made as a wallet makes one, and its challenge."""
    h = vote.key if key is None else key
    f = vote.fingerprint if fingerprint is None else fingerprint
    ctx = ballot_context(G, f, h, pseudonym)
    ballot, randomness = encrypt_ballot(ctx, h, len(IDS), selected, BOUNDS)
    return make_challenge(PID, pseudonym, f, h, ballot, IDS, selected, randomness)


def file_of(ch: Challenge, **change: Any) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(encode_challenge(ch))
    obj.update(change)
    return obj


def code_of(check: Callable[..., object], *args: Any) -> str:
    """The code ``check(*args)`` is refused with."""
    with pytest.raises(UrneError) as err:
        check(*args)
    return err.value.code


# -- made, read, checked --------------------------------------------------------------------


def test_a_challenge_made_reads_back_and_checks(vote: Vote) -> None:
    ch = make(vote, [2, 0])
    data = encode_challenge(ch)
    obj = json.loads(data)
    assert tuple(obj) == FIELDS and obj["format"] == FORMAT == "urne-challenge/1"
    assert obj["choice"] == ["meadow", "park"]  # in the manifest's order
    assert [len(base64.b64decode(r)) for r in obj["randomness"]] == [32, 32, 32]
    assert set(obj["encrypted"]) == {"ciphertexts", "proofs", "count"}
    back = read_challenge(data)
    assert back == ch
    assert check_challenge(back, IDS, BOUNDS) == (0, 2)
    check_published(back, vote.election())


def test_a_choice_shown_other_than_the_one_encrypted_is_a_mismatch(vote: Vote) -> None:
    ch = make(vote, [1])
    tampered = read_challenge(json.dumps(file_of(ch, choice=["park"])).encode())
    assert code_of(check_challenge, tampered, IDS, BOUNDS) == "challenge_mismatch"
    more = read_challenge(json.dumps(file_of(ch, choice=["river", "park"])).encode())
    assert code_of(check_challenge, more, IDS, BOUNDS) == "challenge_mismatch"


def test_swapped_randomness_is_a_mismatch(vote: Vote) -> None:
    ch = make(vote, [0])
    r = file_of(ch)["randomness"]
    swapped = read_challenge(json.dumps(file_of(ch, randomness=[r[1], r[0], r[2]])).encode())
    assert code_of(check_challenge, swapped, IDS, BOUNDS) == "challenge_mismatch"
    short = read_challenge(json.dumps(file_of(ch, randomness=r[:2])).encode())
    assert code_of(check_challenge, short, IDS, BOUNDS) == "challenge_mismatch"


def test_a_ballot_under_another_pseudonym_key_or_manifest_fails_its_proofs(vote: Vote) -> None:
    ch = make(vote, [1])
    for moved in (
        replace(ch, pseudonym=b"\x08" * 32),
        replace(ch, key=G.base(random_scalar(G))),
        replace(ch, fingerprint=b"\x01" * 32),
    ):
        assert code_of(check_challenge, moved, IDS, BOUNDS) == "bad_ballot_proof"


def test_a_file_for_another_key_manifest_or_process_is_refused(vote: Vote) -> None:
    election = vote.election()
    other_key = make(vote, [1], key=G.base(random_scalar(G)))
    assert check_challenge(other_key, IDS, BOUNDS) == (1,)  # consistent in itself
    assert code_of(check_published, other_key, election) == "challenge_wrong_key"
    other_manifest = make(vote, [1], fingerprint=b"\x02" * 32)
    assert check_challenge(other_manifest, IDS, BOUNDS) == (1,)
    assert code_of(check_published, other_manifest, election) == "challenge_wrong_fingerprint"
    elsewhere = replace(make(vote, [1]), process="another-vote")
    assert code_of(check_published, elsewhere, election) == "challenge_other_process"
    no_key = replace(election, key=None)
    assert code_of(check_published, make(vote, [1]), no_key) == "no_election_key"


def test_a_choice_that_names_no_proposal_or_a_ballot_of_another_shape(vote: Vote) -> None:
    ch = make(vote, [1])
    lake = read_challenge(json.dumps(file_of(ch, choice=["lake"])).encode())
    assert code_of(check_challenge, lake, IDS, BOUNDS) == "bad_challenge"
    assert code_of(check_challenge, ch, [*IDS, "lake"], BOUNDS) == "bad_encrypted_ballot"
    assert code_of(check_challenge, ch, IDS, (1, 3)) == "bad_proof"  # count's length
    enc = file_of(ch)["encrypted"]
    for change, code in (
        ({"ciphertexts": enc["ciphertexts"][:2]}, "bad_encrypted_ballot"),
        ({"ciphertexts": ["%%", *enc["ciphertexts"][1:]]}, "bad_base64"),
        ({"ciphertexts": [b64encode(b"\xff" * 64), *enc["ciphertexts"][1:]]}, "bad_point"),
        ({"count": b64encode(bytes(64))}, "bad_proof"),
        ({"count": enc["proofs"][0]}, "bad_ballot_proof"),
        ({"extra": 1}, "bad_encrypted_ballot"),
    ):
        bad = replace(ch, encrypted={**enc, **change})
        assert code_of(check_challenge, bad, IDS, BOUNDS) == code, change


def _mutations(ch: Challenge) -> list[tuple[str, bytes, str]]:
    good = file_of(ch)
    r = good["randomness"]

    def with_(**change: Any) -> bytes:
        return json.dumps({**good, **change}).encode()

    def without(name: str) -> bytes:
        return json.dumps({k: v for k, v in good.items() if k != name}).encode()

    return [
        ("too large", b" " * (MAX_CHALLENGE_BYTES + 1), "challenge_too_large"),
        ("not JSON", b"challenge", "bad_challenge_json"),
        ("not UTF-8", b'{"format": "\xff"}', "bad_challenge_json"),
        ("a name twice", b'{"format": "urne-challenge/1", "format": "x"}', "bad_challenge_json"),
        ("a list", b"[]", "bad_challenge_format"),
        ("another format", with_(format="urne-challenge/2"), "bad_challenge_format"),
        ("no format", without("format"), "bad_challenge_format"),
        ("a field missing", without("randomness"), "bad_challenge"),
        ("a field unknown", with_(comment="hi"), "bad_challenge"),
        ("process not an id", with_(process="../etc"), "bad_challenge"),
        ("process a number", with_(process=7), "bad_challenge"),
        ("pseudonym not base64", with_(pseudonym="%%%%"), "bad_base64"),
        ("pseudonym a number", with_(pseudonym=7), "bad_base64"),
        ("pseudonym unpadded", with_(pseudonym=good["pseudonym"].rstrip("=")), "bad_base64"),
        ("pseudonym short", with_(pseudonym=b64encode(b"\x07" * 31)), "bad_length"),
        ("fingerprint long", with_(fingerprint=b64encode(b"\x07" * 33)), "bad_length"),
        ("key not a point", with_(key=b64encode(b"\xff" * 32)), "bad_point"),
        ("key the identity", with_(key=b64encode(bytes(32))), "bad_point"),
        ("encrypted a string", with_(encrypted="x"), "bad_encrypted_ballot"),
        ("choice a string", with_(choice="river"), "bad_challenge"),
        ("choice of numbers", with_(choice=[1]), "bad_challenge"),
        ("choice twice", with_(choice=["river", "river"]), "bad_challenge"),
        ("choice longer than the ballot", with_(choice=["a", "b", "c", "d"]), "bad_challenge"),
        ("randomness empty", with_(randomness=[]), "bad_challenge"),
        ("randomness a string", with_(randomness=r[0]), "bad_challenge"),
        ("randomness too many", with_(randomness=r * 22), "bad_challenge"),
        ("randomness a number", with_(randomness=[5, *r[1:]]), "bad_base64"),
        ("randomness not base64", with_(randomness=["%%", *r[1:]]), "bad_base64"),
        ("randomness short", with_(randomness=[b64encode(b"\x01" * 31), *r[1:]]), "bad_scalar"),
        (
            "randomness not below L",
            with_(randomness=[b64encode(L.to_bytes(32, "little")), *r[1:]]),
            "bad_scalar",
        ),
    ]


def test_every_malformed_field_has_its_code(vote: Vote) -> None:
    ch = make(vote, [1])
    assert read_challenge(encode_challenge(ch)) == ch
    for what, data, code in _mutations(ch):
        with pytest.raises(FormatError) as err:
            read_challenge(data)
        assert err.value.code == code, what
        assert "\n" not in str(err.value), what


def test_make_challenge_refuses_what_it_cannot_write(vote: Vote) -> None:
    ctx = ballot_context(G, vote.fingerprint, vote.key, b"\x07" * 32)
    ballot, randomness = encrypt_ballot(ctx, vote.key, 3, [0], BOUNDS)
    for ids, sel, rs in (
        (IDS[:2], [0], randomness),
        (IDS, [0], randomness[:2]),
        (IDS, [3], randomness),
    ):
        with pytest.raises(ValueError):
            make_challenge(PID, b"\x07" * 32, vote.fingerprint, vote.key, ballot, ids, sel, rs)
    assert issubclass(ChallengeError, FormatError) and ChallengeError.code == "bad_challenge"


# -- what the process publishes ---------------------------------------------------------


def test_the_election_read_from_the_service_and_its_manifest(vote: Vote) -> None:
    election = vote.election()
    assert election.proposals == tuple(IDS) and election.titles == ("Meadow", "River", "Park")
    assert election.bounds == BOUNDS and election.key == vote.key and not election.recomputed
    checked = election.with_manifest(vote.manifest)
    assert checked.recomputed and checked.fingerprint == vote.fingerprint
    assert checked.proposals == tuple(IDS) and checked.bounds == BOUNDS

    another = Institution().process(PID, "vote", proposals=PROPOSALS, rule=RULE,
                                    secret=Board.make(PID).manifest_field())  # fmt: skip
    assert code_of(election.with_manifest, another) == "fingerprint_mismatch"
    closing = Institution().close(PID)
    assert code_of(election.with_manifest, closing) == "bad_manifest"
    public = Institution().process(PID, "vote", proposals=PROPOSALS, rule=RULE)
    forged = replace(election, fingerprint=manifest_fingerprint(decode_entry(public)))
    assert code_of(forged.with_manifest, public) == "bad_manifest"

    assert code_of(Election.from_process, vote.answer(secret=None)) == "not_secret"
    answers: list[object] = [
        [],
        {"id": PID},
        vote.answer(index=None),
        vote.answer(rule={"threshold": 3}),
        vote.answer(proposals="x"),
        vote.answer(secret={**vote.answer()["secret"], "fingerprint": "%%"}),
        vote.answer(secret={**vote.answer()["secret"], "election_key": b64encode(b"k")}),
    ]
    for answer in answers:
        assert code_of(Election.from_process, answer) == "bad_process_answer", answer
    waiting = vote.answer(secret={**vote.answer()["secret"], "election_key": None})
    assert Election.from_process(waiting).key is None


# -- urne-verify challenge --------------------------------------------------------------------


def _verify(*args: str | Path) -> tuple[int, str]:
    r = runner.invoke(urne_verify, ["challenge", *map(str, args)])
    return r.exit_code, r.output


def test_the_command_offline(vote: Vote, tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(json.dumps(vote.answer()), encoding="utf-8")
    ch = make(vote, [1, 2])
    good = tmp_path / "good.json"
    good.write_bytes(encode_challenge(ch))
    status, out = _verify(good, "--process", process)
    assert status == 0, out
    assert f"This ballot encrypts: River, Park. {SENTENCE}" in out
    assert out.endswith("VALID challenge\n")

    def file(name: str, obj: object) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(obj), encoding="utf-8")
        return path

    tampered = file("tampered.json", file_of(ch, choice=["meadow", "park"]))
    status, out = _verify(tampered, "--process", process)
    assert status == 1 and "INVALID (challenge_mismatch)" in out and "VALID challenge" not in out
    other = file("other.json", file_of(make(vote, [1], key=G.base(random_scalar(G)))))
    status, out = _verify(other, "--process", process)
    assert status == 1 and "INVALID (challenge_wrong_key)" in out
    lake = file("lake.json", file_of(ch, choice=["lake"]))
    assert _verify(lake, "--process", process)[0] == 1

    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    status, out = _verify(broken, "--process", process)
    assert status == 2 and out.startswith("COULD NOT CHECK (bad_challenge_json): ")
    assert out.count("\n") == 1
    assert _verify(tmp_path / "missing.json", "--process", process)[0] == 2
    assert _verify(good)[0] == 2  # neither --service nor --process: the proposals are unknown
    assert _verify(good, "--process", process, "--service", "http://127.0.0.1:9")[0] == 2
    assert _verify(good, "--process", process, "--log-key", "x")[0] == 2
    public = file("public.json", vote.answer(secret=None))
    status, out = _verify(good, "--process", public)
    assert status == 1 and "INVALID (not_secret)" in out
    status, out = _verify(good, "--process", file("junk.json", {"id": PID}))
    assert status == 2 and "(bad_process_answer)" in out


class _Service(ThreadingHTTPServer):
    """A service that serves a process and the entry at its index, nothing else."""

    daemon_threads = True

    def __init__(self, routes: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Service

    def do_GET(self) -> None:
        body = self.server.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        data = body if body is not None else b'{"error": {"code": "x", "message": "x"}}'
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def service() -> Iterator[_Service]:
    server = _Service({})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_the_command_against_a_service_recomputes_the_fingerprint(
    vote: Vote, service: _Service, tmp_path: Path
) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(encode_challenge(make(vote, [0])))
    entry = {"index": vote.index, "data": b64encode(vote.manifest), "leaf_hash": ""}
    service.routes.update({
        f"/processes/{PID}": json.dumps(vote.answer()).encode(),
        f"/log/entries/{vote.index}": json.dumps(entry).encode(),
    })  # fmt: skip
    status, out = _verify(good, "--service", service.url)
    assert status == 0, out
    assert f"the fingerprint is the SHA-256 of the manifest at index {vote.index}" in out
    assert "This ballot encrypts: Meadow." in out

    # a service whose published fingerprint is not its manifest's
    another = Institution().process(PID, "vote", proposals=PROPOSALS, rule=RULE,
                                    secret=Board.make(PID).manifest_field())  # fmt: skip
    service.routes[f"/log/entries/{vote.index}"] = json.dumps(
        {**entry, "data": b64encode(another)}
    ).encode()
    status, out = _verify(good, "--service", service.url)
    assert status == 1 and "INVALID (fingerprint_mismatch)" in out

    # the key the service publishes is not the file's
    service.routes[f"/log/entries/{vote.index}"] = json.dumps(entry).encode()
    other = {**vote.answer()["secret"], "election_key": b64encode(G.base(random_scalar(G)))}
    service.routes[f"/processes/{PID}"] = json.dumps(vote.answer(secret=other)).encode()
    status, out = _verify(good, "--service", service.url)
    assert status == 1 and "INVALID (challenge_wrong_key)" in out

    # no such process, an answer that is not JSON: could not check
    service.routes.pop(f"/processes/{PID}")
    status, out = _verify(good, "--service", service.url)
    assert status == 2 and out.startswith("1. ") and "COULD NOT CHECK (not_served)" in out
    service.routes[f"/processes/{PID}"] = b"<html>"
    status, out = _verify(good, "--service", service.url)
    assert status == 2 and "COULD NOT CHECK (bad_process_answer)" in out
    status, out = _verify(good, "--service", "http://127.0.0.1:9")
    assert status == 2 and "COULD NOT CHECK" in out


def test_a_verification_error_is_what_the_checks_raise(vote: Vote) -> None:
    """Every refusal of a check is a VerificationError (urne-verify exits 1),
    every refusal of reading a FormatError (it exits 2)."""
    ch = make(vote, [1])
    with pytest.raises(VerificationError):
        check_published(replace(ch, key=G.base(random_scalar(G))), vote.election())
    with pytest.raises(FormatError):
        read_challenge(b"{}")
