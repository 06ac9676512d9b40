"""A secret vote over HTTP: the service verifies a ballot's proofs before it
sequences it, and answers each refusal with its status and stable code
(docs/secret-ballot.md §8); GET /processes/{id} describes the ceremony."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.civic import RULES, Citizen, proposal
from tests.support.secret import Board
from tests.support.service import Served, served_app
from urne.verifier.citizen import authoring
from urne.verifier.citizen.service import CitizenClient, ServiceRefused
from urne.verifier.civic.entries import decode_entry

PID = "secret-http"
PROPOSALS = [proposal(x, x.title()) for x in ("north", "south", "east")]
RULE = {"method": "single", "min": 1, "max": 1, "revoting": True}


def _post(served: Served, leaf: bytes) -> int:
    index: int = CitizenClient(served.url).post_json("/entries", leaf)["index"]
    return index


def _refused(served: Served, leaf: bytes) -> tuple[int, str]:
    with pytest.raises(ServiceRefused) as e:
        _post(served, leaf)
    return e.value.http_status, e.value.code


def test_the_service_verifies_secret_ballots_and_refuses_with_codes(tmp_path: Path) -> None:
    board = Board.make(PID, n=3, t=2)
    with served_app(tmp_path) as served:
        served.open(PID, "vote", proposals=PROPOSALS, rule=RULE, secret=board.manifest_field())
        board.opened(served.log.entry(served.civic.process(PID).index))
        alice, mallory = Citizen.enrol(served.inst, PID), Citizen.enrol(served.inst, PID)
        client = CitizenClient(served.url)

        described = client.get_json(f"/processes/{PID}")["secret"]
        assert described["election_key"] is None and described["threshold"] == 2
        assert [t["name"] for t in described["trustees"]] == ["Trustee 1", "Trustee 2", "Trustee 3"]

        board.key = board.trustees[0].share_key  # no key yet: any point
        early = authoring.secret_ballot(
            PID,
            alice.pseudonym,
            alice.credential,
            board.encrypted(alice.pseudonym.public_key, 3, [0], (1, 1)),
        )
        assert _refused(served, early) == (409, "no_election_key")

        board.ceremony(lambda leaf: _post(served, leaf), served.inst.key)
        described = client.get_json(f"/processes/{PID}")["secret"]
        assert described["qualified"] == [1, 2, 3] and described["election_key"]
        assert described["election_key_index"] == served.civic.process(PID).secret.key_at

        enc = board.encrypted(alice.pseudonym.public_key, 3, [1], (1, 1))
        at = _post(served, authoring.secret_ballot(PID, alice.pseudonym, alice.credential, enc))
        assert "choice" not in decode_entry(served.log.entry(at)).obj
        copied = authoring.secret_ballot(PID, mallory.pseudonym, mallory.credential, enc)
        assert _refused(served, copied) == (422, "bad_ballot_proof")
        clear = authoring.ballot(PID, mallory.pseudonym, mallory.credential, ["north"])
        assert _refused(served, clear) == (422, "secret_ballot_in_clear")
        bad = dict(enc, count=enc["proofs"][0])  # a proof of another size where the count goes
        wrong = authoring.secret_ballot(PID, mallory.pseudonym, mallory.credential, bad)
        assert _refused(served, wrong) == (400, "bad_proof")
        assert (
            client.get_json(f"/processes/{PID}/tally")["counts"] is None
        )  # secret until decrypted


def test_a_secret_budget_refuses_a_ballot_over_the_budget_over_http(tmp_path: Path) -> None:
    """The service checks a capped budget's spending proof before sequencing:
    a ballot over the budget, or without its proof, is refused with its code,
    and nothing reaches the log."""
    from urne.verifier.secret.ballot import Spend, ballot_context, encrypt_ballot
    from urne.verifier.secret.group import ristretto255

    pid, g = "secret-budget-http", ristretto255()
    projects = [proposal("pool", "Pool", 700), proposal("park", "Park", 310)]
    rule = {**RULES["budget"], "revoting": True}
    board = Board.make(pid, n=2, t=2)
    with served_app(tmp_path) as served:
        served.open(pid, "budget", proposals=projects, rule=rule, secret=board.manifest_field())
        board.opened(served.log.entry(served.civic.process(pid).index))
        board.ceremony(lambda leaf: _post(served, leaf), served.inst.key)
        alice = Citizen.enrol(served.inst, pid)
        nym = alice.pseudonym.public_key
        ctx = ballot_context(g, board.fingerprint, board.key, nym)
        size = served.log.size
        loose = Spend((700, 310), 1023)  # 1,010 fits in the same 10 bits as 1,000
        over, _ = encrypt_ballot(ctx, board.key, 2, [0, 1], (1, 2), spend=loose)
        leaf = authoring.secret_ballot(pid, alice.pseudonym, alice.credential, over.to_json())
        assert _refused(served, leaf) == (422, "bad_ballot_proof")
        bare, _ = encrypt_ballot(ctx, board.key, 2, [0], (1, 2))
        leaf = authoring.secret_ballot(pid, alice.pseudonym, alice.credential, bare.to_json())
        assert _refused(served, leaf)[1] == "bad_encrypted_ballot"
        assert served.log.size == size
        enc = board.encrypted(nym, 2, [0], (1, 2), Spend((700, 310), 1000))
        _post(served, authoring.secret_ballot(pid, alice.pseudonym, alice.credential, enc))
        tally = CitizenClient(served.url).get_json(f"/processes/{pid}/tally")
        assert tally["secret"] is True and tally["approvals"] is None and tally["ballots"] == 1
