"""Institution-signed requests (docs/spec/api.md §6): the RFC 9421 profile, each
refusal with its status and stable code, and the issuer-key and roll
endpoints, on SQLite and PostgreSQL.

Institutions are registered on the log (``institution`` entries, signed by the
operator), and the issuer-key request reserves the process id on the log for
the institution that signs it (a ``reservation`` entry): the routes are served
by apps that keep the log (``casting=True``)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.signing
import pytest
from fastapi.testclient import TestClient

from tests.support.civic import Institution
from tests.support.institutions import SERVICE, Service, service_on
from tests.support.service import JSON, assert_error, blinded_b64, obtain_credential
from urne.api.client import InstitutionKey, sign_request
from urne.api.main import create_app
from urne.api.signing import parse_dictionary, parse_signature_input
from urne.ledger.civic.authority import register_institution, reserve_process
from urne.ledger.institutions.registry import process_owner
from urne.ledger.issuance.issuer_key import IssuerKey
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import open_roll, roll_size
from urne.verifier.citizen import authoring
from urne.verifier.civic.entries import b64encode
from urne.verifier.credentials.credential import verify_credential

PID = "consulta-2026"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The log and the roll in databases of their own, as an operator keeps them."""
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    yield from service_on(f"sqlite:///{tmp_path / 'log.db'}", roll, tmp_path / "keys")
    roll.dispose()


@pytest.fixture
def pg_service(pg_url: str, tmp_path: Path) -> Iterator[Service]:
    roll = open_roll(pg_url)
    yield from service_on(pg_url, roll, tmp_path / "keys")
    roll.dispose()


# --------------------------------------------------------------------------
# The signature profile
# --------------------------------------------------------------------------


def test_the_rfc_9421_ed25519_example_verifies() -> None:
    """RFC 9421 Appendix B.2.6: parsing and re-serialising its Signature-Input
    gives the signature base its Ed25519 signature is over."""
    seed = base64.b64decode("MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF")[
        -32:
    ]
    key = nacl.signing.SigningKey(seed).verify_key
    sig_input = (
        'sig-b26=("date" "@method" "@path" "@authority" "content-type" '
        '"content-length");created=1618884473;keyid="test-key-ed25519"'
    )
    signature = (
        "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
    )
    components, params = parse_dictionary([sig_input])["sig-b26"]
    assert isinstance(components, list)
    serialised = "(" + " ".join(f'"{c}"' for c in components) + ")"
    serialised += "".join(f";{k}={v}" if isinstance(v, int) else f';{k}="{v}"' for k, v in params)
    assert sig_input == "sig-b26=" + serialised
    base = "\n".join(
        [
            '"date": Tue, 20 Apr 2021 02:07:55 GMT',
            '"@method": POST',
            '"@path": /foo',
            '"@authority": example.com',
            '"content-type": application/json',
            '"content-length": 18',
            f'"@signature-params": {serialised}',
        ]
    )
    key.verify(base.encode(), base64.b64decode(signature))
    ((sig_bytes, _),) = [v for k, v in parse_dictionary([f"sig-b26=:{signature}:"]).items()]
    assert sig_bytes == base64.b64decode(signature)


def test_signature_input_is_exactly_the_profile() -> None:
    key = InstitutionKey.generate("city-hall")
    headers = sign_request(
        key, "POST", "/institution/x", b"{}", created=1700000000, nonce=b"k" * 16, authority=SERVICE
    )
    assert headers["Content-Digest"] == "sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:"
    assert headers["Signature-Input"] == (
        'urne=("@method" "@authority" "@path" "content-digest");created=1700000000;'
        'nonce="a2tra2tra2tra2tra2traw==";keyid="city-hall";alg="ed25519"'
    )
    params = parse_signature_input([headers["Signature-Input"]])
    assert (params.created, params.nonce, params.keyid) == (1700000000, b"k" * 16, "city-hall")
    good = headers["Signature-Input"]
    for bad in [
        good.replace('"content-digest"', ""),  # a component missing
        good.replace('"@authority" ', ""),  # one missing: the profile before it was covered
        good.replace('"@path"', '"@path" "@query"'),  # one more
        good.replace(';alg="ed25519"', ""),  # a parameter missing
        good.replace('"ed25519"', '"rsa-pss-sha512"'),
        good.replace("a2tra2tra2tra2tra2traw==", "a2tr"),  # a short nonce
        good.replace("1700000000", '"1700000000"'),
        good.replace("urne=", "other="),
        good + ';tag="x"',
        good[:-3],
    ]:
        with pytest.raises(ValueError):
            parse_signature_input([bad])


def test_whoami_and_every_refusal(service: Service) -> None:
    s, path = service, "/institution/whoami"
    r = s.signed("GET", path)
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "city-hall"}
    assert r.headers["cache-control"] == "no-store"
    assert s.signed("GET", path, key=s.county).json() == {"name": "county"}

    # unsigned, or headers missing or ill-formed
    assert_error(s.client.get(path), 401, "unsigned_request")
    full = sign_request(s.city, "GET", path, b"", authority=SERVICE)
    for drop in full:
        partial = {k: v for k, v in full.items() if k != drop}
        assert_error(s.client.get(path, headers=partial), 401, "unsigned_request")
    assert_error(
        s.client.get(path, headers={**full, "Signature": "urne=:AAAA:"}), 401, "unsigned_request"
    )
    # an institution nobody registered (a key of its own, a name unknown on the log)
    stranger = InstitutionKey.generate("stranger")
    assert_error(s.signed("GET", path, key=stranger), 401, "unknown_institution")
    # a key the log knows, under a name it does not: the name is the lookup
    alias = InstitutionKey("city-hall-2", s.city.key)
    assert_error(s.signed("GET", path, key=alias), 401, "unknown_institution")
    # a registered name, but signed with another key
    impostor = InstitutionKey("city-hall", InstitutionKey.generate("x").key)
    assert_error(s.signed("GET", path, key=impostor), 401, "bad_request_signature")
    # too old, too far ahead
    for skew in (-301, 301):
        r = s.signed("GET", path, created=int(time.time()) + skew)
        assert_error(r, 401, "stale_request")
    # signed for another path, sent to this one
    other = sign_request(s.city, "GET", "/institution/processes/x/roll", b"", authority=SERVICE)
    assert_error(s.client.get(path, headers=other), 401, "bad_request_signature")
    # signed for another method
    post = sign_request(s.city, "POST", path, b"", authority=SERVICE)
    assert_error(s.client.get(path, headers=post), 401, "bad_request_signature")


def test_a_changed_body_is_refused_and_stores_nothing(service: Service) -> None:
    s = service
    path = f"/institution/processes/{PID}/issuer-key"
    headers = sign_request(s.city, "POST", path, b'{"threshold": 1}', authority=SERVICE)
    r = s.client.post(path, content=b'{"threshold": 2}', headers=headers)
    assert_error(r, 400, "bad_content_digest")
    # the digest recomputed by whoever changed the body: the signature fails
    forged = {
        **headers,
        "Content-Digest": sign_request(s.city, "POST", path, b"{}", authority=SERVICE)[
            "Content-Digest"
        ],
    }
    assert_error(s.client.post(path, content=b"{}", headers=forged), 401, "bad_request_signature")
    size = s.log.size
    assert process_owner(s.roll, PID) is None
    assert not (s.keyring.issuers_dir / f"{PID}.pub").exists()
    assert s.civic.reservation(PID) is None and s.log.size == size
    # the original, untouched, still goes through once: its nonce was not spent
    r = s.client.post(path, content=b'{"threshold": 1}', headers=headers)
    assert r.status_code == 201, r.text
    assert [i for i, _ in s.reservations(PID)] == [r.json()["reservation_index"]]
    assert_error(
        s.client.post(path, content=b'{"threshold": 1}', headers=headers), 409, "replayed_request"
    )
    assert len(s.reservations(PID)) == 1


def test_a_replay_is_refused_after_a_restart(service: Service) -> None:
    s, path = service, "/institution/whoami"
    headers = sign_request(s.city, "GET", path, b"", authority=SERVICE)
    assert s.client.get(path, headers=headers).status_code == 200
    assert_error(s.client.get(path, headers=headers), 409, "replayed_request")
    # a new service process on the same databases (it reads the registrations
    # from the log, the nonces from the issuance database)
    with s.another_process() as again:
        assert_error(again.get(path, headers=headers), 409, "replayed_request")
        # the same nonce is the county's to use too: nonces are per institution
        county = sign_request(s.county, "GET", path, b"", nonce=b"\x07" * 16, authority=SERVICE)
        mine = sign_request(s.city, "GET", path, b"", nonce=b"\x07" * 16, authority=SERVICE)
        assert again.get(path, headers=county).status_code == 200
        assert again.get(path, headers=mine).status_code == 200


def test_body_limits(service: Service) -> None:
    s = service
    big = json.dumps({"threshold": 1, "pad": "x" * 70_000}).encode()
    path = f"/institution/processes/{PID}/issuer-key"
    r = s.client.post(
        path, content=big, headers=sign_request(s.city, "POST", path, big, authority=SERVICE)
    )
    assert_error(r, 413, "body_too_large")
    # the roll takes much more, but not without end
    path = f"/institution/processes/{PID}/roll"
    huge = b'{"people": ["' + b"x" * (17 * 1024 * 1024) + b'"]}'
    r = s.client.post(
        path, content=huge, headers=sign_request(s.city, "POST", path, huge, authority=SERVICE)
    )
    assert_error(r, 413, "body_too_large")


# --------------------------------------------------------------------------
# The endpoints
# --------------------------------------------------------------------------


def _endpoints(s: Service) -> None:
    key_path = f"/institution/processes/{PID}/issuer-key"
    roll_path = f"/institution/processes/{PID}/roll"
    # not reserved yet: no roll
    assert_error(s.signed("POST", roll_path, {"people": ["a"]}), 404, "unknown_process")

    r = s.signed("POST", key_path, {})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    issuer = s.keyring.record(PID).manifest_issuer()
    ((index, reserved),) = s.reservations(PID)
    first = {
        "process_id": PID,
        "issuer": issuer,
        "reservation_index": index,
        "share_public_keys": {},
    }
    assert r.json() == first
    # the reservation names the institution that signed and the key made for it
    assert reserved.institution == s.city.public_key
    assert (b64encode(reserved.issuer_key), reserved.issuer_threshold, reserved.issuer_shares) == (
        issuer["public_key"],
        1,
        1,
    )
    assert process_owner(s.roll, PID) == "city-hall"
    # asked again by the same institution (a retry): the same key and reservation
    r = s.signed("POST", key_path, {})
    assert r.status_code == 200, r.text
    assert r.json() == first and r.headers["cache-control"] == "no-store"
    # the same id with another threshold-of-shares: refused, nothing more reserved
    r = s.signed("POST", key_path, {"threshold": 2, "shares": 3})
    assert_error(r, 409, "issuer_key_exists")
    # another institution: the id is reserved for city-hall
    assert_error(s.signed("POST", key_path, {}, key=s.county), 409, "process_reserved")
    assert_error(s.signed("POST", key_path, {"shares": 0}), 400, "invalid_parameter")
    assert_error(s.signed("POST", key_path, {"x": 1}), 400, "invalid_parameter")
    assert s.reservations(PID) == [(index, reserved)]
    assert s.keyring.record(PID).manifest_issuer() == issuer

    # t-of-n
    r = s.signed(
        "POST", "/institution/processes/shared-1/issuer-key", {"threshold": 2, "shares": 3}
    )
    assert r.status_code == 201, r.text
    assert r.json()["issuer"] == {
        "public_key": r.json()["issuer"]["public_key"],
        "threshold": 2,
        "shares": 3,
    }
    assert sorted(r.json()["share_public_keys"]) == ["1", "2", "3"]
    ((index, shared),) = s.reservations("shared-1")
    assert r.json()["reservation_index"] == index
    assert (shared.issuer_threshold, shared.issuer_shares) == (2, 3)
    size = s.log.size
    r = s.signed("POST", "/institution/processes/bad id/issuer-key", {})
    assert_error(r, 400, "bad_process_id")
    assert s.log.size == size

    # the roll: only the owner; codes once
    people = [f"ES-{i:04d}" for i in range(4)]
    assert_error(
        s.signed("POST", roll_path, {"people": people}, key=s.county), 403, "not_your_process"
    )
    r = s.signed("POST", roll_path, {"people": people})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    answer = r.json()
    assert answer["process_id"] == PID and answer["imported"] == 4 and answer["skipped"] == []
    assert sorted(answer["codes"]) == people
    assert roll_size(s.roll, PID) == 4
    for body, status, code in [
        ({"people": ["ES-0001"]}, 409, "already_on_roll"),
        ({"people": ["new", "new"]}, 400, "duplicate_person"),
        ({"people": ["ok", ""]}, 400, "bad_person"),
        ({"people": ["ok", 5]}, 400, "bad_person"),
        ({"people": "ES-9"}, 400, "invalid_parameter"),
        ({}, 400, "invalid_parameter"),
    ]:
        assert_error(s.signed("POST", roll_path, body), status, code)
    assert roll_size(s.roll, PID) == 4
    r = s.signed("POST", roll_path, {"people": ["ES-0001", "ES-0100"], "skip_existing": True})
    assert r.json() == {
        "process_id": PID,
        "imported": 1,
        "skipped": ["ES-0001"],
        "codes": {"ES-0100": r.json()["codes"]["ES-0100"]},
    }
    # a key made outside the API, never reserved on the log: no roll through the API
    s.keyring.create("outside")
    r = s.signed("POST", "/institution/processes/outside/roll", {"people": ["a"]})
    assert_error(r, 404, "unknown_process")
    assert roll_size(s.roll, "outside") == 0

    # and the codes work at the issuance endpoint
    pseudonym, credential = obtain_credential(s.client, PID, answer["codes"]["ES-0002"])
    assert verify_credential(s.keyring.public_key(PID), PID, pseudonym.public_key, credential)


def test_endpoints_on_sqlite(service: Service) -> None:
    _endpoints(service)


@pytest.mark.postgres
def test_endpoints_on_postgres(pg_service: Service) -> None:
    _endpoints(pg_service)
    # replay across a second service process on the same PostgreSQL database
    path = "/institution/whoami"
    headers = sign_request(pg_service.city, "GET", path, b"", authority=SERVICE)
    assert pg_service.client.get(path, headers=headers).status_code == 200
    with pg_service.another_process() as again:
        assert_error(again.get(path, headers=headers), 409, "replayed_request")
        # the reservations made through the first are the second's too
        key_path = f"/institution/processes/{PID}/issuer-key"
        body = b"{}"
        county = sign_request(pg_service.county, "POST", key_path, body, authority=SERVICE)
        assert_error(again.post(key_path, content=body, headers=county), 409, "process_reserved")


def test_an_issuance_only_app_serves_no_institution_routes(tmp_path: Path) -> None:
    """The registrations are on the log: an app that does not keep it has no
    ``/institution/*`` routes (and still issues)."""
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    app = create_app(
        casting=False, roll=roll, keyring=IssuerKeyring(tmp_path / "keys"), rate_limit=None
    )
    key = InstitutionKey.generate("city-hall")
    with TestClient(app) as client:
        for method, path in [
            ("GET", "/institution/whoami"),
            ("POST", f"/institution/processes/{PID}/issuer-key"),
            ("POST", f"/institution/processes/{PID}/roll"),
        ]:
            body = b"" if method == "GET" else b"{}"
            headers = sign_request(key, method, path, body, authority=SERVICE)
            r = client.request(method, path, content=body, headers=headers)
            assert_error(r, 404, "not_found")
        r = client.post(f"/issuance/{PID}", json={"code": "0000-0000-0000", "blinded": "AA=="})
        assert_error(r, 404, "unknown_process")
    roll.dispose()


# --------------------------------------------------------------------------
# Authority on the log: roles, reservations, retries, closed processes
# --------------------------------------------------------------------------


def _post_entry(s: Service, leaf: bytes) -> int:
    r = s.client.post("/entries", content=leaf, headers=JSON)
    assert r.status_code == 201, r.text
    index: int = r.json()["index"]
    return index


def _open(s: Service, pid: str, people: list[str]) -> tuple[Institution, dict[str, str]]:
    """What city-hall does to open ``pid``: its issuer key (which reserves the
    id), its roll, then its manifest on the log. The institution (to sign the
    close) and the people's codes."""
    r = s.signed("POST", f"/institution/processes/{pid}/issuer-key", {})
    assert r.status_code == 201, r.text
    r = s.signed("POST", f"/institution/processes/{pid}/roll", {"people": people})
    assert r.status_code == 201, r.text
    codes: dict[str, str] = r.json()["codes"]
    inst = Institution(key=s.city.key)
    inst.issuers[pid] = s.keyring.signing_key(pid)
    _post_entry(s, inst.process(pid, "petition"))
    return inst, codes


def test_issuer_key_needs_the_role_open(service: Service) -> None:
    """An institution registered to register others, not to open processes:
    its signed requests are authentic, but it reserves nothing."""
    s = service
    registrar = InstitutionKey.generate("regional-registry")
    register_institution(s.civic, registrar.name, registrar.public_key, roles=("register",))
    assert s.signed("GET", "/institution/whoami", key=registrar).json() == {"name": registrar.name}
    path = f"/institution/processes/{PID}/issuer-key"
    size = s.log.size
    for ask in ({}, {"threshold": 2, "shares": 3}):
        r = s.signed("POST", path, ask, key=registrar)
        assert_error(r, 403, "unregistered_institution")
    assert s.log.size == size and s.civic.reservation(PID) is None
    assert process_owner(s.roll, PID) is None
    assert not (s.keyring.issuers_dir / f"{PID}.pub").exists()
    # the institution it registers with the role open may
    district = InstitutionKey.generate("district")
    s.civic.append(authoring.registration(district.name, district.public_key, registrar.key))
    r = s.signed("POST", path, {}, key=district)
    assert r.status_code == 201, r.text
    ((index, reserved),) = s.reservations(PID)
    assert r.json()["reservation_index"] == index and reserved.institution == district.public_key


def test_an_id_reserved_for_another_institution_is_refused(service: Service) -> None:
    s = service
    path = f"/institution/processes/{PID}/issuer-key"
    r = s.signed("POST", path, {})
    assert r.status_code == 201, r.text
    mine = r.json()
    size = s.log.size
    for ask in ({}, {"threshold": 2, "shares": 3}):
        assert_error(s.signed("POST", path, ask, key=s.county), 409, "process_reserved")
    assert s.log.size == size
    ((index, reserved),) = s.reservations(PID)
    assert index == mine["reservation_index"] and reserved.institution == s.city.public_key
    assert process_owner(s.roll, PID) == "city-hall"
    assert s.keyring.record(PID).manifest_issuer() == mine["issuer"]
    # nor does the county import its roll
    r = s.signed("POST", f"/institution/processes/{PID}/roll", {"people": ["a"]}, key=s.county)
    assert_error(r, 403, "not_your_process")
    assert roll_size(s.roll, PID) == 0
    # an id the operator reserved for the county on the log directly: city-hall
    # is refused before any key is made for it
    elsewhere = {
        "public_key": b64encode(IssuerKey.generate().public_key),
        "threshold": 1,
        "shares": 1,
    }
    reserve_process(s.civic, "county-vote", s.county.public_key, elsewhere)
    r = s.signed("POST", "/institution/processes/county-vote/issuer-key", {})
    assert_error(r, 409, "process_reserved")
    assert process_owner(s.roll, "county-vote") is None
    assert not (s.keyring.issuers_dir / "county-vote.pub").exists()
    assert len(s.reservations("county-vote")) == 1


def test_a_retry_gets_the_same_key_and_reservation(service: Service) -> None:
    """An opening interrupted after the key was made (the answer lost): the
    institution asks again and gets the same key and reservation, from this
    service process or another one, and the log holds one reservation."""
    s = service
    path = f"/institution/processes/{PID}/issuer-key"
    ask = {"threshold": 2, "shares": 3}
    first = s.signed("POST", path, ask)
    assert first.status_code == 201, first.text
    again = s.signed("POST", path, ask)
    assert again.status_code == 200, again.text
    assert again.headers["cache-control"] == "no-store"
    assert again.json() == first.json()
    assert again.json()["issuer"]["public_key"] == first.json()["issuer"]["public_key"]
    assert again.json()["reservation_index"] == first.json()["reservation_index"]
    with s.another_process() as other:
        body = json.dumps(ask).encode()
        headers = sign_request(s.city, "POST", path, body, authority=SERVICE)
        r = other.post(path, content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json() == first.json()
    # asked with another threshold-of-shares: refused, the key kept
    assert_error(s.signed("POST", path, {}), 409, "issuer_key_exists")
    ((index, reserved),) = s.reservations(PID)
    assert index == first.json()["reservation_index"]
    assert b64encode(reserved.issuer_key) == first.json()["issuer"]["public_key"]
    assert (reserved.issuer_threshold, reserved.issuer_shares) == (2, 3)
    assert s.keyring.record(PID).manifest_issuer() == first.json()["issuer"]


def test_the_roll_needs_a_reservation_and_closes_with_the_process(service: Service) -> None:
    s = service
    roll_path = f"/institution/processes/{PID}/roll"
    assert_error(s.signed("POST", roll_path, {"people": ["ES-0001"]}), 404, "unknown_process")
    assert roll_size(s.roll, PID) == 0
    inst, _ = _open(s, PID, ["ES-0001"])
    # open: more people may still be added
    r = s.signed("POST", roll_path, {"people": ["ES-0002"]})
    assert r.status_code == 201, r.text
    close = _post_entry(s, inst.close(PID))
    assert s.civic.process(PID).closed_at == close
    r = s.signed("POST", roll_path, {"people": ["ES-0003"]})
    assert_error(r, 409, "process_closed")
    r = s.signed("POST", roll_path, {"people": ["ES-0002", "ES-0003"], "skip_existing": True})
    assert_error(r, 409, "process_closed")
    assert roll_size(s.roll, PID) == 2
    # the county is refused as before: the process is not its own
    r = s.signed("POST", roll_path, {"people": ["ES-0003"]}, key=s.county)
    assert_error(r, 403, "not_your_process")
    # with no close, but past its closing time by the service's clock
    _open(s, "consulta-b", ["ES-0001"])
    s.now[0] = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    r = s.signed("POST", "/institution/processes/consulta-b/roll", {"people": ["ES-0002"]})
    assert_error(r, 409, "process_ended")
    assert roll_size(s.roll, "consulta-b") == 1


def test_no_credential_is_issued_after_the_close(service: Service) -> None:
    """On an app with both casting and issuance, the issuer sees the log."""
    s = service
    inst, codes = _open(s, PID, ["ES-0001", "ES-0002"])
    pseudonym, credential = obtain_credential(s.client, PID, codes["ES-0001"])
    assert verify_credential(s.keyring.public_key(PID), PID, pseudonym.public_key, credential)
    _post_entry(s, inst.close(PID))
    r = s.client.post(
        f"/issuance/{PID}", json={"code": codes["ES-0002"], "blinded": blinded_b64(PID)}
    )
    assert_error(r, 409, "process_closed")
    # with no close, but past its closing time by the service's clock
    _, later = _open(s, "consulta-b", ["ES-0001"])
    s.now[0] += timedelta(days=365)
    r = s.client.post(
        "/issuance/consulta-b",
        json={"code": later["ES-0001"], "blinded": blinded_b64("consulta-b")},
    )
    assert_error(r, 409, "process_ended")
