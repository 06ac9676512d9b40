"""The rules of a secret vote, as the registry applies them on both sides of the
trust boundary (docs/secret-ballot.md §3-§6): an honest run end to end, and
each attack the rules catch, replayed."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.support.civic import Citizen, Institution, RegistryLog, proposal
from tests.support.secret import Board
from urne.verifier.citizen import authoring
from urne.verifier.civic.entries import decode_entry

PID = "secret-vote"
PROPOSALS = [proposal(x, f"Option {x}") for x in "abcd"]


def _open(reg: RegistryLog, board: Board, inst: Institution, **rule: Any) -> bytes:
    manifest = inst.process(
        PID,
        "vote",
        proposals=PROPOSALS,
        rule={"method": "single", "min": 1, "max": 1, "revoting": True, **rule},
        secret=board.manifest_field(),
    )
    reg.add(manifest)
    board.opened(manifest)
    return manifest


def _cast(board: Board, c: Citizen, selected: list[int], bounds: tuple[int, int] = (1, 1)) -> bytes:
    enc = board.encrypted(c.pseudonym.public_key, 4, selected, bounds)
    seq = c.seq
    c.seq += 1
    return authoring.secret_ballot(PID, c.pseudonym, c.credential, enc, seq=seq)


@pytest.fixture
def setup() -> tuple[RegistryLog, Board, Institution]:
    reg, board, inst = RegistryLog(), Board.make(PID, 3, 2), Institution()
    _open(reg, board, inst)
    return reg, board, inst


def test_an_honest_secret_vote_with_revotes_and_an_absent_trustee(setup: Any) -> None:
    reg, board, inst = setup
    board.ceremony(reg.add, inst.key)
    rng = random.Random(7)
    citizens = [Citizen.enrol(inst, PID) for _ in range(12)]
    last: dict[int, int] = {}
    for _ in range(20):
        k = rng.randrange(len(citizens))
        choice = rng.randrange(4)
        reg.add(_cast(board, citizens[k], [choice]))
        last[k] = choice
    closed = reg.add(inst.close(PID))
    st = reg.reg.state(PID)
    assert st.secret is not None and st.secret.aggregates is not None
    assert reg.reg.tally(PID, closed)["counts"] is None  # nothing decrypted yet
    reg.refuse(inst.result(PID, closed, reg.reg.tally(PID, closed)), "not_decrypted")
    reg.add(board.decryption(1, st.secret.aggregates))
    reg.add(board.decryption(3, st.secret.aggregates))  # trustee 2 is absent
    want = {x: 0 for x in "abcd"}
    for choice in last.values():
        want["abcd"[choice]] += 1
    t = reg.reg.tally(PID, closed)
    assert t["counts"] == want and t["ballots"] == len(last)
    assert t["winners"] == sorted(k for k, v in want.items() if v == max(want.values()))
    reg.add(inst.result(PID, closed, t))
    wrong = dict(t, counts=dict(want, a=want["a"] + 1))
    reg.refuse(inst.result(PID, closed, wrong), "result_exists")
    reg.refuse(board.decryption(2, st.secret.aggregates), "result_exists")  # too late


def test_a_wrong_published_result_is_refused(setup: Any) -> None:
    reg, board, inst = setup
    board.ceremony(reg.add, inst.key)
    c = Citizen.enrol(inst, PID)
    reg.add(_cast(board, c, [2]))
    closed = reg.add(inst.close(PID))
    st = reg.reg.state(PID)
    for j in (1, 2):
        reg.add(board.decryption(j, st.secret.aggregates))
    t = reg.reg.tally(PID, closed)
    assert t["counts"] == {"a": 0, "b": 0, "c": 1, "d": 0}
    reg.refuse(
        inst.result(PID, closed, dict(t, counts={"a": 1, "b": 0, "c": 0, "d": 0})), "wrong_result"
    )


def test_ballots_wait_for_the_election_key_and_never_come_in_clear(setup: Any) -> None:
    reg, board, inst = setup
    c = Citizen.enrol(inst, PID)
    board.key = board.trustees[0].share_key  # any key: the ceremony has not ended
    reg.refuse(_cast(board, c, [0]), "no_election_key")
    board.ceremony(reg.add, inst.key)
    reg.refuse(authoring.ballot(PID, c.pseudonym, c.credential, ["a"]), "secret_ballot_in_clear")


def test_a_ballot_copied_under_another_pseudonym_is_refused(setup: Any) -> None:
    reg, board, inst = setup
    board.ceremony(reg.add, inst.key)
    alice, mallory = Citizen.enrol(inst, PID), Citizen.enrol(inst, PID)
    leaf = _cast(board, alice, [1])
    reg.add(leaf)
    copied = decode_entry(leaf).obj["encrypted"]
    reg.refuse(
        authoring.secret_ballot(PID, mallory.pseudonym, mallory.credential, copied),
        "bad_ballot_proof",
    )


def test_a_ballot_selecting_two_in_a_single_choice_vote_is_refused(setup: Any) -> None:
    reg, board, inst = setup
    board.ceremony(reg.add, inst.key)
    c = Citizen.enrol(inst, PID)
    # honest proofs for 0..2 selections, under a vote that takes exactly one
    enc = board.encrypted(c.pseudonym.public_key, 4, [0, 1], (0, 0 + 2))
    bad = authoring.secret_ballot(PID, c.pseudonym, c.credential, enc)
    with pytest.raises(Exception) as e:  # the count proof has 3 branches, not 1
        reg.reg.check(decode_entry(bad), reg.n)
    assert getattr(e.value, "code", None) == "bad_proof"


def test_a_cheating_dealer_is_disqualified_with_evidence(setup: Any) -> None:
    reg, board, inst = setup
    reg.add(board.deal(1, cheat_to=3))
    reg.add(board.deal(2))
    reg.add(board.deal(3))
    [complaint] = board.complaints(3)
    assert board.complaints(2) == []
    reg.add(complaint)
    st = reg.reg.state(PID).secret
    assert st is not None and 1 in st.disqualified
    for j in (1, 2, 3):
        reg.add(board.check(j))
    reg.refuse(board.election_key(inst.key, [1, 2, 3]), "wrong_qualified")
    reg.add(board.election_key(inst.key, [2, 3]))
    c = Citizen.enrol(inst, PID)
    reg.add(_cast(board, c, [3]))
    closed = reg.add(inst.close(PID))
    for j in (2, 3):
        reg.add(board.decryption(j, st.aggregates))
    assert reg.reg.tally(PID, closed)["counts"] == {"a": 0, "b": 0, "c": 0, "d": 1}
    reg.refuse(board.decryption(1, st.aggregates), "not_qualified")


def test_an_unfounded_complaint_is_refused(setup: Any) -> None:
    reg, board, _ = setup
    for i in (1, 2, 3):
        reg.add(board.deal(i))
    # trustee 3 pretends trustee 1 cheated: it reveals the true key, whose share is right
    from urne.verifier.secret import dkg
    from urne.verifier.secret.group import ristretto255

    g, tr = ristretto255(), board.trustees[2]
    k, proof = dkg.complain(g, board.fingerprint, 1, 3, tr.e, board.deals[1].shares[3])
    reg.refuse(authoring.complaint(PID, tr.key, 3, 1, k, proof.to_bytes()), "complaint_unfounded")
    # and a forged reveal is no evidence either
    other = g.base(12345)
    reg.refuse(authoring.complaint(PID, tr.key, 3, 1, other, proof.to_bytes()), "bad_complaint")


def test_a_trustee_who_deals_twice_is_refused_the_second_time(setup: Any) -> None:
    reg, board, _ = setup
    reg.add(board.deal(1))
    reg.refuse(board.deal(1), "already_dealt")


def test_a_deal_signed_by_a_key_that_is_not_the_trustees_is_refused(setup: Any) -> None:
    reg, board, _ = setup
    from urne.verifier.citizen.signing import AuthorKey

    real = board.trustees[0].key
    board.trustees[0].key = AuthorKey.generate()
    with pytest.raises(Exception) as e:
        reg.reg.check(decode_entry(board.deal(1)), reg.n)
    assert getattr(e.value, "code", None) == "bad_entry_signature"
    board.trustees[0].key = real


def test_a_substituted_election_key_is_refused(setup: Any) -> None:
    reg, board, inst = setup
    for i in (1, 2, 3):
        reg.add(board.deal(i))
    for j in (1, 2, 3):
        reg.add(board.check(j))
    from urne.verifier.secret.group import ristretto255

    g = ristretto255()
    substituted = authoring.election_key(PID, inst.key, g.base(424242), [1, 2, 3])
    reg.refuse(substituted, "wrong_election_key")


def test_a_wrong_decryption_share_is_refused(setup: Any) -> None:
    reg, board, inst = setup
    board.ceremony(reg.add, inst.key)
    reg.add(_cast(board, Citizen.enrol(inst, PID), [0]))
    reg.add(inst.close(PID))
    st = reg.reg.state(PID).secret
    reg.refuse(board.decryption(2, st.aggregates, wrong=True), "bad_decryption")
    reg.add(board.decryption(2, st.aggregates))
    reg.refuse(board.decryption(2, st.aggregates), "already_decrypted")


def test_too_few_qualified_trustees_give_no_key() -> None:
    reg, board, inst = RegistryLog(), Board.make(PID, 3, 3), Institution()
    _open(reg, board, inst)
    for i in (1, 2):
        reg.add(board.deal(i))
    for j in (1, 2):
        reg.add(board.check(j))
    reg.add(board.deal(3))  # too late for the others' checks: left out
    reg.refuse(board.deal(1), "already_dealt")
    reg.refuse(board.election_key(inst.key, [1, 2, 3]), "wrong_qualified")
    reg.refuse(board.election_key(inst.key, [1, 2]), "too_few_trustees")


def test_no_single_trustee_ends_the_dealing_for_the_others() -> None:
    """A trustee who checks before anyone deals, or right after the threshold
    dealt, only leaves itself out: the others deal, check, and qualify."""
    reg, board, inst = RegistryLog(), Board.make(PID, 5, 3), Institution()
    _open(reg, board, inst)
    reg.add(board.check(4))  # trustee 4 checks before anyone dealt
    reg.refuse(board.deal(4), "dealing_over")
    for i in (5, 1, 2):
        reg.add(board.deal(i))
    reg.add(board.check(5))  # trustee 5 checks right after three deals, its own included
    reg.add(board.deal(3))  # trustee 3's deal is still accepted
    for j in (1, 2, 3):
        reg.add(board.check(j))
    st = reg.reg.state(PID).secret
    assert st is not None and st.qualified_now() == (1, 2, 3)  # checked last
    assert st.may_qualify((1, 2, 5)) and not st.may_qualify((1, 2, 3, 5))  # 5 missed 3's deal
    reg.refuse(board.election_key(inst.key, [1, 2, 3, 5]), "wrong_qualified")
    reg.refuse(board.election_key(inst.key, [1, 2, 4]), "wrong_qualified")  # 4 never dealt
    reg.add(board.election_key(inst.key, [1, 2, 3]))


@pytest.mark.parametrize(
    ("ptype", "rule"),
    [
        ("petition", None),  # a signature is public by nature
        ("budget", {"outcome": "mes"}),  # Equal Shares needs each ballot in clear
        ("budget", {"outcome": "mes-then-greedy"}),
    ],
)
def test_what_is_not_offered_in_secret_form_is_refused(
    ptype: str, rule: dict[str, Any] | None
) -> None:
    board, inst = Board.make(PID), Institution()
    from tests.support.civic import RULES
    from urne.verifier.errors import FormatError

    full = None if rule is None else {**RULES[ptype], **rule}
    with pytest.raises(FormatError) as e:
        decode_entry(inst.process(PID, ptype, rule=full, secret=board.manifest_field()))
    assert e.value.code == "secret_not_offered"


def test_a_secret_process_has_at_most_64_proposals() -> None:
    board, inst = Board.make(PID), Institution()
    from urne.verifier.errors import FormatError

    many = [proposal(f"p{i}", f"Project {i}", 10) for i in range(65)]
    with pytest.raises(FormatError) as e:
        decode_entry(inst.process(PID, "budget", proposals=many, secret=board.manifest_field()))
    assert e.value.code == "too_many_options"


def test_a_trustee_key_without_its_proof_is_refused() -> None:
    reg, board, inst = RegistryLog(), Board.make(PID), Institution()
    field = board.manifest_field()
    field["trustees"][1]["proof"] = field["trustees"][0]["proof"]
    manifest = inst.process(PID, "vote", proposals=PROPOSALS, secret=field)
    with pytest.raises(Exception) as e:
        reg.add(manifest)
    assert getattr(e.value, "code", None) == "bad_trustee_key"


def test_sums_at_the_close_on_every_core_equal_the_running_sums(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reader of a whole log sums the last ballots at the close in worker
    processes; the service keeps running sums, a revote dividing out the
    ballot it replaces. Both give the same aggregates and totals."""
    from urne.verifier.civic.process import Registry
    from urne.verifier.secret import tally

    reg, board, inst = RegistryLog(), Board.make(PID, 3, 2), Institution()
    _open(reg, board, inst)
    board.ceremony(reg.add, inst.key)
    citizens = [Citizen.enrol(inst, PID) for _ in range(6)]
    for k, c in enumerate(citizens + citizens[:3]):  # three revote
        reg.add(_cast(board, c, [k % 4]))
    closed = reg.add(inst.close(PID))
    running = reg.reg.state(PID).secret
    monkeypatch.setattr(tally, "PARALLEL_MIN", 0)
    chunks: list[int] = []
    real = tally.sum_in_worker

    def spy(args: Any) -> list[bytes]:
        chunks.append(len(args[0]))
        return real(args)

    monkeypatch.setattr(tally, "sum_in_worker", spy)
    other = Registry(None, operator=reg.operator.public_key, running_sums=False)
    for i, entry in enumerate(reg.entries):
        other.admit(entry, i)
    assert sum(chunks) == 6 and len(chunks) == tally.cores()  # summed in worker processes
    at_close = other.state(PID).secret
    assert at_close is not None and running is not None
    assert at_close.aggregates == running.aggregates and at_close.counted == 6
    for j in (1, 2):
        reg.add(board.decryption(j, running.aggregates))
    assert reg.reg.tally(PID, closed)["counts"] == {"a": 2, "b": 1, "c": 1, "d": 2}


@pytest.mark.parametrize("shift", [0, 5], ids=["same-ephemeral", "shifted-ephemeral"])
def test_a_dealer_cannot_make_a_complaint_reveal_another_dealers_share_key(
    shift: int,
) -> None:
    """The attack: trustee 3 deals trustee 1 a share under the ephemeral key of
    trustee 2's share to trustee 1 (or that key times g^shift), with random
    bytes. Trustee 1 would complain, revealing K = R^{e_1}: the key of trustee
    2's honest share, from which, with a few such reveals, trustee 3 alone
    rebuilds the election secret. A deal proves it knows each ephemeral
    key's exponent, so this deal is refused and no such complaint is made."""
    import secrets as random_bytes

    from urne.verifier.secret import dkg
    from urne.verifier.secret.group import ristretto255

    g = ristretto255()
    reg, board, inst = RegistryLog(), Board.make(PID, 3, 2), Institution()
    _open(reg, board, inst)
    reg.add(board.deal(1))
    reg.add(board.deal(2))
    stolen = board.deals[2].shares[1]
    honest = board.deal(3)  # trustee 3's real polynomial and commitments
    d = board.deals[3]
    forged = dkg.EncryptedShare(
        g.add(stolen.ephemeral, g.base(shift)), random_bytes.token_bytes(32), d.shares[1].proof
    )
    leaf = authoring.deal(
        PID,
        board.trustees[2].key,
        3,
        d.commitments,
        d.proof.to_bytes(),
        [
            (1, forged.ephemeral, forged.masked, forged.proof),
            (2, d.shares[2].ephemeral, d.shares[2].masked, d.shares[2].proof),
        ],
    )
    reg.refuse(leaf, "bad_deal")
    reg.add(honest)  # its honest deal is accepted
