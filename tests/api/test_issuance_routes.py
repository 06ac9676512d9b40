"""Blind issuance over HTTP: a citizen's device blinds, asks with its one-time
code, unblinds and checks; every refusal has its status and stable code; the
issuance and casting routes can be served apart; the rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.support.bls_points import g1_bad_encodings
from tests.support.service import assert_error, blinded_b64, obtain_credential
from urne.api.deps import RateLimit, TokenBuckets
from urne.api.main import create_app
from urne.ledger.db.settings import Settings
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import import_roll, issued_count, open_roll
from urne.verifier.citizen.blinding import (
    Pseudonym,
    blind,
    combine_shares,
    unblind,
    verify_blind_share,
)
from urne.verifier.civic.entries import b64decode, b64encode
from urne.verifier.credentials.credential import credential_message, verify_credential

PID = "consulta-2026"
PEOPLE = [f"ES-{i:04d}" for i in range(5)]


# --------------------------------------------------------------------------
# The citizen's side, over the API (also used by test_civic_routes)
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Fixtures: an issuance-only service on a roll database of its own
# --------------------------------------------------------------------------


@dataclass
class Issuer:
    client: TestClient
    roll: Engine
    keyring: IssuerKeyring
    codes: dict[str, str]


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    keyring = IssuerKeyring(tmp_path / "keys")
    keyring.create(PID)
    codes = import_roll(roll, keyring, PID, [(p,) for p in PEOPLE]).codes
    app = create_app(casting=False, roll=roll, keyring=keyring, rate_limit=None)
    with TestClient(app) as client:
        yield Issuer(client, roll, keyring, codes)
    roll.dispose()


# --------------------------------------------------------------------------
# Issuing
# --------------------------------------------------------------------------


def test_a_citizen_obtains_one_valid_credential(issuer: Issuer) -> None:
    c = issuer.client
    info = c.get(f"/issuance/{PID}").json()
    assert info == {
        "process_id": PID,
        "credentials_issued": 0,
        "roll_size": len(PEOPLE),
        "subjects": 0,
        "codes_replaced": 0,
        "issuer": issuer.keyring.record(PID).manifest_issuer(),
        "share_public_keys": {},
    }
    # typed as people do: lower case, spaces instead of dashes
    code = issuer.codes[PEOPLE[0]].lower().replace("-", " ")
    pseudonym, credential = obtain_credential(c, PID, code)
    assert verify_credential(issuer.keyring.public_key(PID), PID, pseudonym.public_key, credential)
    assert c.get(f"/issuance/{PID}").json()["credentials_issued"] == 1
    assert issued_count(issuer.roll, PID) == 1

    # The code is spent: a second request, even with another B, is refused.
    r = c.post(f"/issuance/{PID}", json={"code": code, "blinded": blinded_b64()})
    assert_error(r, 409, "already_issued")
    assert c.get(f"/issuance/{PID}").json()["credentials_issued"] == 1


def test_t_of_n_offices_each_answer_once_for_one_point(tmp_path: Path) -> None:
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    keyring = IssuerKeyring(tmp_path / "keys")
    keyring.create("shared", threshold=2, shares=3)
    [code] = import_roll(roll, keyring, "shared", [("ES-1",)]).codes.values()
    with TestClient(create_app(casting=False, roll=roll, keyring=keyring, rate_limit=None)) as c:
        info = c.get("/issuance/shared").json()
        assert info["issuer"] == {
            "public_key": b64encode(keyring.public_key("shared")),
            "threshold": 2,
            "shares": 3,
        }
        share_keys = {int(i): b64decode(k, "share") for i, k in info["share_public_keys"].items()}
        assert sorted(share_keys) == [1, 2, 3]

        pseudonym = Pseudonym.generate()
        state, blinded = blind(credential_message("shared", pseudonym.public_key))
        body = {"code": code, "blinded": b64encode(blinded)}
        assert_error(c.post("/issuance/shared", json=body), 400, "bad_share_index")
        answers = {}
        for i in (1, 2):
            r = c.post("/issuance/shared", json={**body, "share": i})
            assert r.status_code == 200, r.text
            answers[i] = b64decode(r.json()["blind_signature"], "answer")
            assert verify_blind_share(share_keys[i], blinded, answers[i])
        credential = unblind(state, combine_shares(answers), keyring.public_key("shared"))
        assert verify_credential(
            keyring.public_key("shared"), "shared", pseudonym.public_key, credential
        )
        # the same request again (its answer lost): the same answer
        again = c.post("/issuance/shared", json={**body, "share": 1})
        assert b64decode(again.json()["blind_signature"], "answer") == answers[1]
        other = {"code": code, "blinded": blinded_b64("shared"), "share": 1}
        assert_error(c.post("/issuance/shared", json=other), 409, "already_issued")
        other = {"code": code, "blinded": blinded_b64("shared"), "share": 3}
        assert_error(c.post("/issuance/shared", json=other), 409, "blinded_mismatch")
        assert c.get("/issuance/shared").json()["credentials_issued"] == 1
    roll.dispose()


BAD_POINTS = g1_bad_encodings()  # a blinded message is a point of G1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"code": "0000-0000-0000"}, 404, "unknown_code"),
        ({"code": "not a code"}, 400, "bad_code"),
        ({"code": "7K3M-Q9XD-2HR"}, 400, "bad_code"),
        ({"blinded": "not base64!"}, 400, "bad_base64"),
        ({"blinded": "AAAA="}, 400, "bad_base64"),
        ({"blinded": b64encode(bytes(48))}, 400, "bad_blinded_point"),
        ({"blinded": b64encode(BAD_POINTS["short"])}, 400, "bad_blinded_point"),
        ({"blinded": b64encode(BAD_POINTS["infinity"])}, 400, "bad_blinded_point"),
        ({"blinded": b64encode(BAD_POINTS["not-in-subgroup"])}, 400, "bad_blinded_point"),
        ({"blinded": b64encode(BAD_POINTS["not-on-curve"])}, 400, "bad_blinded_point"),
        ({"share": 1}, 400, "bad_share_index"),
        ({"share": 0}, 400, "invalid_parameter"),
        ({"extra": "field"}, 400, "invalid_parameter"),
        ({"code": None}, 400, "invalid_parameter"),
        ({"code": "X" * 65}, 400, "invalid_parameter"),
    ],
)
def test_refusals_leave_the_roll_untouched(
    issuer: Issuer, body: dict[str, object], status: int, code: str
) -> None:
    good = {"code": issuer.codes[PEOPLE[1]], "blinded": blinded_b64()}
    r = issuer.client.post(f"/issuance/{PID}", json={**good, **body})
    assert_error(r, status, code)
    assert issued_count(issuer.roll, PID) == 0
    # and the person's code still works
    obtain_credential(issuer.client, PID, issuer.codes[PEOPLE[1]])


def test_unknown_process_malformed_json_and_missing_fields(issuer: Issuer) -> None:
    c, code = issuer.client, issuer.codes[PEOPLE[2]]
    body = {"code": code, "blinded": blinded_b64()}
    for pid in ("nope", ".hidden", "a" * 200):
        assert_error(c.post(f"/issuance/{pid}", json=body), 404, "unknown_process")
        assert_error(c.get(f"/issuance/{pid}"), 404, "unknown_process")
    r = c.post(
        f"/issuance/{PID}", content=b'{"code": "x", ', headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, "invalid_parameter")
    assert_error(c.post(f"/issuance/{PID}", json={"code": code}), 400, "invalid_parameter")
    assert_error(c.post(f"/issuance/{PID}", json=[code]), 400, "invalid_parameter")
    assert issued_count(issuer.roll, PID) == 0


def test_a_body_that_is_not_utf8_is_an_invalid_parameter(issuer: Issuer) -> None:
    """FastAPI's own "error parsing the body" (found by schemathesis): a stable
    code, not ``http_error``."""
    for body in (b"\xff", b'{"code": "\xe9"}'):
        r = issuer.client.post(
            f"/issuance/{PID}", content=body, headers={"Content-Type": "application/json"}
        )
        assert_error(r, 400, "invalid_parameter")
    assert issued_count(issuer.roll, PID) == 0


def test_another_method_is_405_with_every_allowed_method(issuer: Issuer) -> None:
    """RFC 9110 §15.5.6: a 405 has an ``Allow`` header, naming the methods of
    every route on the path (``GET`` and ``POST`` here are two routes)."""
    for method in ("DELETE", "PUT", "TRACE"):
        r = issuer.client.request(method, f"/issuance/{PID}")
        assert_error(r, 405, "method_not_allowed")
        assert r.headers["allow"] == "GET, POST"


# --------------------------------------------------------------------------
# Serving issuance and casting apart
# --------------------------------------------------------------------------


def test_issuance_and_casting_are_served_apart(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused-log.db'}",
        issuance_database_url=f"sqlite:///{tmp_path / 'roll.db'}",
        key_dir=tmp_path / "issuer-keys",
        origin="apart.example/log",
    )
    with TestClient(create_app(settings=settings, casting=False, rate_limit=None)) as c:
        assert_error(c.get(f"/issuance/{PID}"), 404, "unknown_process")
        for path in ("/processes", "/checkpoint", "/entries/0/receipt"):
            assert_error(c.get(path), 404, "not_found")
        r = c.post("/entries", content=b"{}", headers={"Content-Type": "application/json"})
        assert_error(r, 404, "not_found")
        paths = c.get("/openapi.json").json()["paths"]
        # the institutions' signed requests (keys, rolls) belong to the issuance side
        served = {p for p in paths if not p.startswith("/institution/")}
        assert served == {
            "/issuance/{process_id}",
            "/issuance/{process_id}/authorize",
            "/issuance/{process_id}/identity",
            "/healthz",
        }
        # an identity provider's rule is in the manifest, which this host
        # cannot read: a clear refusal, never an answer without the rule
        ask = {
            "redirect_uri": "http://127.0.0.1:5000/urne-wallet/callback",
            "state": "s" * 43,
            "nonce": "n" * 43,
            "code_challenge": "c" * 43,
        }
        assert_error(c.post(f"/issuance/{PID}/authorize", json=ask), 503, "no_manifest")
    # the issuance host never opened the log, so it holds no log key
    assert not (tmp_path / "issuer-keys").exists()

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'log.db'}",
        issuance_database_url=f"sqlite:///{tmp_path / 'roll.db'}",
        key_dir=tmp_path / "log-keys",
        origin="apart.example/log",
    )
    with TestClient(create_app(settings=settings, issuance=False)) as c:
        assert c.get("/processes").json() == []
        assert c.get("/checkpoint").text.startswith("apart.example/log\n0\n")
        assert_error(c.get(f"/issuance/{PID}"), 404, "not_found")
        assert "/issuance/{process_id}" not in c.get("/openapi.json").json()["paths"]
    with pytest.raises(ValueError):
        create_app(settings=settings, issuance=False, casting=False)


# --------------------------------------------------------------------------
# Rate limit
# --------------------------------------------------------------------------


def test_token_buckets_refill_and_forget() -> None:
    now = [100.0]
    buckets = TokenBuckets(RateLimit(burst=2, per_second=0.5, max_clients=2), clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(2.0)  # one token takes 2 s at 0.5/s
    assert buckets.take("b") == 0.0  # another address has its own bucket
    now[0] += 2.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(2.0)
    buckets.take("c")  # a third address: the least recently seen ("b") is forgotten
    assert len(buckets) == 2
    with pytest.raises(ValueError):
        RateLimit(burst=0)


def test_issuance_is_rate_limited_per_address(issuer: Issuer) -> None:
    app = create_app(
        casting=False,
        roll=issuer.roll,
        keyring=issuer.keyring,
        rate_limit=RateLimit(burst=2, per_second=0.001),
    )
    body = {"code": "0000-0000-0000", "blinded": blinded_b64()}
    with TestClient(app, client=("192.0.2.1", 1000)) as c:
        for _ in range(2):
            assert_error(c.post(f"/issuance/{PID}", json=body), 404, "unknown_code")
        r = c.post(f"/issuance/{PID}", json=body)
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        assert "192.0.2.1" not in r.text
        assert c.get(f"/issuance/{PID}").status_code == 200  # reading is not limited
    with TestClient(app, client=("192.0.2.2", 1000)) as c:
        obtain_credential(c, PID, issuer.codes[PEOPLE[3]])
