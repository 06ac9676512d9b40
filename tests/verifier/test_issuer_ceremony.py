"""The credential issuers' key ceremony (docs/spec/issuer-ceremony.md): offices
named in a reservation make the issuer key in BLS12-381 G2 with no dealer, on
the log, before the manifest; the manifest must carry that key and each
qualified office's share key; a citizen's credential from t offices' answers is
accepted. Each way the rules catch a cheat is replayed."""

from __future__ import annotations

import pytest

from tests.support.civic import Institution, RegistryLog, institution_name
from tests.support.secret import Board
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import verify_credential
from urne.verifier.errors import FormatError
from urne.verifier.secret import dkg

PID = "petition-offices"


def _reserve(reg: RegistryLog, inst: Institution, board: Board) -> int:
    reg.admit(
        authoring.registration(
            institution_name(inst.key.public_key), inst.key.public_key, reg.operator
        )
    )
    at = reg.admit(
        authoring.reservation(PID, inst.key.public_key, board.reservation_field(), reg.operator)
    )
    board.opened(reg.entries[at])
    return at


def _manifest(inst: Institution, issuer: dict[str, object]) -> bytes:
    return inst.process(PID, "petition", rule={"threshold": 10}, issuer_key=issuer)


@pytest.fixture
def world() -> tuple[RegistryLog, Institution, Board]:
    reg, inst, board = RegistryLog(), Institution(), Board.make(PID, 3, 2, issuer=True)
    _reserve(reg, inst, board)
    return reg, inst, board


def test_offices_make_the_issuer_key_and_credentials_from_two_of_them_count(world) -> None:
    reg, inst, board = world
    board.ceremony(reg.admit, inst.key)
    c = reg.reg.issuer_ceremonies[PID]
    assert c.key == board.key and c.qualified == (1, 2, 3)
    # the joint key is no one's: each office's share key is X_j = f(j)*G2
    g2 = bls.current_backend()
    for j in (1, 2, 3):
        assert c.verification_keys[j] == g2.sk_to_pk(board.share(j))
    reg.admit(_manifest(inst, board.manifest_issuer()))
    for offices in ([1, 2], [2, 3], [1, 3]):
        pseudonym, credential = board.credential(offices)
        assert verify_credential(board.key, PID, pseudonym.public_key, credential)
        reg.admit(authoring.signature(PID, pseudonym, credential))
    assert len(reg.reg.state(PID).casts) == 3
    # the manifest's authority: the reservation and the whole ceremony
    assert set(c.indices) <= set(reg.reg.authority(PID))


def test_no_manifest_before_the_issuer_key(world) -> None:
    reg, inst, board = world
    for x in board.trustees:
        reg.admit(board.deal(x.index))
    board.qualified = (1, 2, 3)
    board.key = dkg.joint_key(board.g, [board.deals[i].commitments[0] for i in (1, 2, 3)])
    reg.refuse(_manifest(inst, board.manifest_issuer()), "no_issuer_key")


@pytest.mark.parametrize("change", ["key", "office_key", "office_missing", "shares", "no_offices"])
def test_a_manifest_must_carry_what_the_offices_made(world, change: str) -> None:
    reg, inst, board = world
    board.ceremony(reg.admit, inst.key)
    issuer = board.manifest_issuer()
    other = bls.current_backend().sk_to_pk(12345)
    if change == "key":
        issuer["public_key"] = b64encode(other)
    elif change == "office_key":
        issuer["offices"][1]["public_key"] = b64encode(other)
    elif change == "office_missing":
        del issuer["offices"][2]
    elif change == "shares":
        issuer["shares"] = 4
    else:
        del issuer["offices"]
    reg.refuse(_manifest(inst, issuer), "wrong_issuer_key")


def test_offices_named_in_a_manifest_of_a_key_the_service_made_are_refused() -> None:
    reg, inst = RegistryLog(), Institution()
    issuer = decode_entry(inst.process(PID, "petition", rule={"threshold": 10})).obj["issuer"]
    office = {"share": 1, "url": "https://o.example", "public_key": issuer["public_key"]}
    manifest = _manifest(inst, dict(issuer, offices=[office]))
    with pytest.raises(Exception) as e:
        reg.add(manifest)  # its reservation names the key, not offices
    assert getattr(e.value, "code", None) == "wrong_issuer_key"


def test_a_cheating_office_is_disqualified_with_evidence_and_the_rest_make_the_key(world) -> None:
    reg, inst, board = world
    reg.admit(board.deal(1, cheat_to=2))  # office 1 deals office 2 a wrong share
    reg.admit(board.deal(2))
    reg.admit(board.deal(3))
    (complaint,) = board.complaints(2)
    assert decode_entry(complaint).kind == "issuer-complaint"
    at = reg.admit(complaint)
    c = reg.reg.issuer_ceremonies[PID]
    assert c.disqualified == {1: at}
    for j in (1, 2, 3):
        reg.admit(board.check(j))
    assert c.qualified_now() == (2, 3)
    reg.refuse(board.election_key(inst.key, [1, 2, 3]), "wrong_qualified")
    reg.admit(board.election_key(inst.key, [2, 3]))
    reg.admit(_manifest(inst, board.manifest_issuer()))
    pseudonym, credential = board.credential([2, 3])
    reg.admit(authoring.signature(PID, pseudonym, credential))


def test_the_ceremony_refuses_each_cheat(world) -> None:
    reg, inst, board = world
    reg.admit(board.deal(1))
    first = board.deals[1]
    reg.refuse(board.deal(1), "already_dealt")  # an equivocating second deal
    board.deals[1] = first
    reg.admit(board.deal(2))
    reg.admit(board.deal(3))
    # a complaint against a good share is no evidence
    tr = board.trustees[1]
    k, proof = dkg.complain(board.g, board.fingerprint, 1, 2, tr.e, first.shares[2])
    reg.refuse(
        authoring.complaint(PID, tr.key, 2, 1, k, proof.to_bytes(), issuer=True),
        "complaint_unfounded",
    )
    # an office's entry signed by another key
    reg.refuse(authoring.check(PID, AuthorKey.generate(), 2, issuer=True), "bad_entry_signature")
    for j in (1, 2, 3):
        reg.admit(board.check(j))
    # the issuer key signed by anyone but the institution, or not the joint key
    reg.refuse(board.election_key(AuthorKey.generate(), [1, 2, 3]), "bad_entry_signature")
    good = board.election_key(inst.key, [1, 2, 3])
    board.key = bls.current_backend().sk_to_pk(777)
    reg.refuse(
        authoring.election_key(PID, inst.key, board.key, (1, 2, 3), issuer=True),
        "wrong_issuer_key",
    )
    reg.refuse(board.election_key(inst.key, [1]), "too_few_trustees")
    reg.admit(good)
    reg.refuse(board.check(1), "ceremony_over")


def test_issuer_entries_for_an_id_reserved_without_offices_are_refused() -> None:
    reg, inst = RegistryLog(), Institution()
    reg.add(inst.process(PID, "petition", rule={"threshold": 10}))
    board = Board.make(PID, 2, 1, issuer=True)
    board.fingerprint = b"\0" * 32
    reg.refuse(board.deal(1), "no_issuer_ceremony")


def test_a_reservation_with_an_unproven_office_key_is_refused() -> None:
    reg, inst = RegistryLog(), Institution()
    board = Board.make(PID, 3, 2, issuer=True)
    field = board.reservation_field()
    # a share key of which office 2 proves nothing (a key substituted for its own)
    field["offices"][1]["share_key"] = b64encode(bls.current_backend().sk_to_pk(99))
    key = inst.key.public_key
    reg.admit(authoring.registration(institution_name(key), key, reg.operator))
    reg.refuse(authoring.reservation(PID, key, field, reg.operator), "bad_trustee_key")


def test_one_office_alone_is_no_ceremony() -> None:
    """One office would hold the whole key: a reservation names at least two."""
    reg, inst = RegistryLog(), Institution()
    board = Board.make(PID, 1, 1, issuer=True)
    key = inst.key.public_key
    reg.admit(authoring.registration(institution_name(key), key, reg.operator))
    with pytest.raises(FormatError) as e:
        decode_entry(authoring.reservation(PID, key, board.reservation_field(), reg.operator))
    assert "at least 2 offices" in str(e.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://a]b",
        "https://[abc]",
        "https://x:y:z",
        "https://user@office.example",
        "ftp://office.example",
        "https://office.example/",
        "https://office.example?x=1",
        "https://" + "o" * 200 + ".example",
    ],
)
def test_an_office_address_that_is_no_url_is_refused(world, url: str) -> None:
    reg, inst, board = world
    board.ceremony(reg.admit, inst.key)
    issuer = board.manifest_issuer()
    issuer["offices"][0]["url"] = url
    with pytest.raises(FormatError) as e:
        decode_entry(_manifest(inst, issuer))
    assert e.value.code == "bad_url"
