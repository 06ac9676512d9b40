"""The service's side of an issuer with no dealer (docs/spec/issuer-ceremony.md):
reserving an id with offices, idempotent and exclusive; an office's copy of the
roll and its share, each refused when it does not match; ``/issuance`` open to
any origin and nothing else; and the trustee's command refusing what an office
never does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.institutions import Service, service_on
from tests.support.secret import Board
from tests.support.service import assert_error
from urne.api.main import create_app
from urne.ledger.issuance.errors import IssuerKeyExists, KeyFileError, RollConflict, RollRefused
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import (
    copy_roll_csv,
    import_roll,
    open_roll,
    replace_code,
    roll_size,
)
from urne.verifier.trustee import ceremony as steps
from urne.verifier.trustee.keyfile import TrusteeError

PID = "offices-2027"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    yield from service_on(f"sqlite:///{tmp_path / 'log.db'}", roll, tmp_path / "keys")
    roll.dispose()


def _publics(board: Board) -> list[dict[str, Any]]:
    field: list[dict[str, Any]] = board.reservation_field()["offices"]
    return field


def test_reserving_with_offices_is_idempotent_and_exclusive(service: Service) -> None:
    s = service
    board = Board.make(PID, 3, 2, issuer=True)
    path = f"/institution/processes/{PID}/issuer-key"
    offices = _publics(board)  # each proof is drawn afresh: the same objects again
    ask = {"threshold": 2, "offices": offices}
    first = s.signed("POST", path, ask)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["issuer"] == {"threshold": 2, "offices": offices}
    ((index, reserved),) = s.reservations(PID)
    assert index == answer["reservation_index"] and reserved.issuer_key is None
    assert reserved.offices is not None and len(reserved.offices.trustees) == 3
    # no key was made here: the offices make it
    assert not (s.keyring.issuers_dir / f"{PID}.pub").exists()
    again = s.signed("POST", path, ask)
    assert again.status_code == 200 and again.json() == answer
    # other offices, another threshold, a key, or another institution: refused
    other = Board.make(PID, 3, 2, issuer=True)
    size = s.log.size
    for body, key in (
        ({"threshold": 2, "offices": _publics(other)}, None),
        ({"threshold": 3, "offices": offices}, None),
        ({"threshold": 2, "offices": _publics(board)}, None),  # the same offices, new proofs
        ({}, None),
        (ask, s.county),
    ):
        assert_error(s.signed("POST", path, body, key=key), 409, "process_reserved")
    assert s.log.size == size


def test_an_office_key_not_proven_is_refused_and_reserves_nothing(service: Service) -> None:
    s = service
    board = Board.make(PID, 2, 1, issuer=True)
    offices = _publics(board)
    offices[1]["proof"] = offices[0]["proof"]
    r = s.signed(
        "POST", f"/institution/processes/{PID}/issuer-key", {"threshold": 1, "offices": offices}
    )
    assert_error(r, 422, "bad_trustee_key")
    assert s.reservations(PID) == [] and s.civic.reservation(PID) is None
    offices = _publics(board)
    offices[0]["share_key"] = offices[0]["share_key"][:20]
    r = s.signed(
        "POST", f"/institution/processes/{PID}/issuer-key", {"threshold": 1, "offices": offices}
    )
    assert r.status_code == 400, r.text


def test_an_office_copy_of_the_roll(tmp_path: Path) -> None:
    first, copy = (
        open_roll(f"sqlite:///{tmp_path / 'a.db'}"),
        open_roll(f"sqlite:///{tmp_path / 'b.db'}"),
    )
    ka, kb = IssuerKeyring(tmp_path / "a"), IssuerKeyring(tmp_path / "b")
    codes = import_roll(first, ka, PID, [("P-1",), ("P-2",)]).codes
    good = tmp_path / "codes.csv"
    good.write_text("person,code\n" + "".join(f"{p},{c}\n" for p, c in codes.items()))
    for text, code in (
        ("name,code\nP-1,AAAA-BBBB-CCCC\n", "bad_roll_file"),
        ("person,code\nP-1\n", "bad_roll_file"),
        ("person,code\nP-1,not-a-code\n", "bad_code"),
        ("person,code\nP-1,AAAA-BBBB-CCCC\nP-1,AAAA-BBBB-CCCD\n", "duplicate_person"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(RollRefused) as e:
            copy_roll_csv(copy, kb, PID, bad)
        assert e.value.code == code
    twice = tmp_path / "twice.csv"
    twice.write_text("person,code\nP-1,AAAA-BBBB-CCCC\nP-2,aaaa bbbb cccc\n")
    with pytest.raises(RollConflict) as c:
        copy_roll_csv(copy, kb, PID, twice)
    assert c.value.code == "duplicate_code"
    assert roll_size(copy, PID) == 0  # all or nothing
    assert copy_roll_csv(copy, kb, PID, good).codes.keys() == codes.keys()
    assert roll_size(copy, PID) == 2
    # each office keeps the codes under a roll key of its own
    assert ka.roll_key(PID, create=False) != kb.roll_key(PID, create=False)


def test_an_office_share_must_match_the_log(tmp_path: Path) -> None:
    g = Board.make(PID, 3, 2, issuer=True).g
    keys = {j: g.base(j * 10) for j in (1, 2, 3)}
    keyring = IssuerKeyring(tmp_path / "keys")
    record = {"public_key": g.base(5), "threshold": 2, "shares": 3, "share_public_keys": keys}
    with pytest.raises(KeyFileError) as e:
        keyring.install_share(PID, 1, 11, **record)  # type: ignore[arg-type]
    assert e.value.code == "bad_share"
    keyring.install_share(PID, 1, 10, **record)  # type: ignore[arg-type]
    keyring.install_share(PID, 1, 10, **record)  # again: nothing changes
    assert (tmp_path / "keys" / "issuers" / f"{PID}.1.key").stat().st_mode & 0o777 == 0o600
    assert keyring.record(PID).share_public_keys == keys
    other = dict(record, public_key=g.base(6))
    with pytest.raises(IssuerKeyExists):
        keyring.install_share(PID, 2, 20, **other)  # type: ignore[arg-type]


def test_issuance_answers_any_origin_and_nothing_else_does(tmp_path: Path) -> None:
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    app = create_app(casting=False, roll=roll, keyring=IssuerKeyring(tmp_path), rate_limit=None)
    with TestClient(app) as c:
        pre = c.options(
            f"/issuance/{PID}",
            headers={
                "Origin": "http://vote.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in pre.headers
        r = c.post(
            f"/issuance/{PID}",
            content=json.dumps({"code": "AAAA-BBBB-CCCC", "blinded": "AA=="}),
            headers={"Origin": "http://vote.example", "Content-Type": "application/json"},
        )
        assert r.status_code in (400, 404) and r.headers["access-control-allow-origin"] == "*"
        h = c.get("/healthz", headers={"Origin": "http://vote.example"})
        assert "access-control-allow-origin" not in h.headers


def test_an_office_never_decrypts_and_a_trustee_installs_no_share(tmp_path: Path) -> None:
    office = steps.keygen(PID, "Office 1", office=True)
    trustee = steps.keygen(PID, "Trustee 1")
    assert office.office and office.group == "bls12-381-g2" and not trustee.office
    session = steps.Session(tmp_path / "x", office, ledger=None, say=lambda m: None)  # type: ignore[arg-type]
    with pytest.raises(TrusteeError) as e:
        steps.decrypt(session)
    assert e.value.code == "not_a_trustee"


def test_the_help_desk_replaces_a_code_on_each_office(service: Service, tmp_path: Path) -> None:
    """On the service that keeps the log no code counts: refused there. On the
    offices' copies: drawn on one, given to the others."""
    s = service
    board = Board.make(PID, 2, 2, issuer=True)
    path = f"/institution/processes/{PID}/issuer-key"
    assert s.signed("POST", path, {"threshold": 2, "offices": _publics(board)}).status_code == 201
    r = s.signed("POST", f"/institution/processes/{PID}/roll", {"people": ["P-1"]})
    assert r.status_code == 201, r.text
    r = s.signed("POST", f"/institution/processes/{PID}/roll/replace", {"person": "P-1"})
    assert_error(r, 409, "offices_hold_the_roll")
    codes = tmp_path / "codes.csv"
    one, two = (
        open_roll(f"sqlite:///{tmp_path / '1.db'}"),
        open_roll(f"sqlite:///{tmp_path / '2.db'}"),
    )
    k1, k2 = IssuerKeyring(tmp_path / "k1"), IssuerKeyring(tmp_path / "k2")
    codes.write_text("person,code\n P-1 ,AAAA-BBBB-CCCC\n")  # blanks around a name are dropped
    copy_roll_csv(one, k1, PID, codes)
    copy_roll_csv(two, k2, PID, codes)
    new = replace_code(one, k1, PID, "P-1")
    assert replace_code(two, k2, PID, "P-1", code=new.lower()) == new
    with pytest.raises(RollConflict) as e:
        replace_code(two, k2, PID, "P-1", code=new)
    assert e.value.code == "duplicate_code"
    with pytest.raises(RollRefused) as bad:
        replace_code(two, k2, PID, "P-1", code="not a code")
    assert bad.value.code == "bad_code"


def test_a_share_of_a_key_no_offices_can_hold_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    g = Board.make(PID, 2, 1, issuer=True).g
    keyring = IssuerKeyring(tmp_path / "keys")
    for shares, keys in ((1, {1: g.base(10)}), (3, {1: g.base(10), 5: g.base(50)})):
        with pytest.raises(KeyFileError) as e:
            keyring.install_share(
                PID, 1, 10, public_key=g.base(5), threshold=1, shares=shares, share_public_keys=keys
            )
        assert e.value.code == "bad_share"
    assert not (tmp_path / "keys" / "issuers").exists() or not any(
        (tmp_path / "keys" / "issuers").iterdir()
    )
