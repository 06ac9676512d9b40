"""Institution-signed requests (docs/spec/api.md §6): the RFC 9421 profile, each
refusal with its status and stable code, and the issuer-key and roll
endpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.support.service import assert_error, obtain_credential
from urne.api.client import InstitutionKey, sign_request
from urne.api.main import create_app
from urne.api.signing import parse_dictionary, parse_signature_input
from urne.ledger.institutions.registry import add_institution, process_owner
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import open_roll, roll_size
from urne.verifier.credentials.credential import verify_credential

PID = "consulta-2026"
#: The authority the test client reaches the service at (``http://testserver``).
SERVICE = "testserver"


@dataclass
class Service:
    client: TestClient
    roll: Engine
    keyring: IssuerKeyring
    city: InstitutionKey
    county: InstitutionKey

    def signed(
        self,
        method: str,
        path: str,
        obj: object = None,
        *,
        key: InstitutionKey | None = None,
        **sign: object,
    ) -> object:
        body = b"" if obj is None else json.dumps(obj).encode()
        headers = sign_request(key or self.city, method, path, body, authority=SERVICE, **sign)  # type: ignore[arg-type]
        return self.client.request(method, path, content=body, headers=headers)


def _service(roll: Engine, key_dir: Path) -> Iterator[Service]:
    city, county = InstitutionKey.generate("city-hall"), InstitutionKey.generate("county")
    add_institution(roll, city.name, city.public_key)
    add_institution(roll, county.name, county.public_key)
    keyring = IssuerKeyring(key_dir)
    app = create_app(casting=False, roll=roll, keyring=keyring, rate_limit=None)
    with TestClient(app) as client:
        yield Service(client, roll, keyring, city, county)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    yield from _service(roll, tmp_path / "keys")
    roll.dispose()


@pytest.fixture
def pg_service(pg_url: str, tmp_path: Path) -> Iterator[Service]:
    roll = open_roll(pg_url)
    yield from _service(roll, tmp_path / "keys")
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
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert r.json() == {"name": "city-hall"}  # type: ignore[attr-defined]
    assert r.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    assert s.signed("GET", path, key=s.county).json() == {"name": "county"}  # type: ignore[attr-defined]

    # unsigned, or headers missing or ill-formed
    assert_error(s.client.get(path), 401, "unsigned_request")
    full = sign_request(s.city, "GET", path, b"", authority=SERVICE)
    for drop in full:
        partial = {k: v for k, v in full.items() if k != drop}
        assert_error(s.client.get(path, headers=partial), 401, "unsigned_request")
    assert_error(
        s.client.get(path, headers={**full, "Signature": "urne=:AAAA:"}), 401, "unsigned_request"
    )
    # an institution nobody registered (a key of its own, a name unknown here)
    stranger = InstitutionKey.generate("stranger")
    assert_error(s.signed("GET", path, key=stranger), 401, "unknown_institution")  # type: ignore[arg-type]
    # a registered name, but signed with another key
    impostor = InstitutionKey("city-hall", InstitutionKey.generate("x").key)
    assert_error(s.signed("GET", path, key=impostor), 401, "bad_request_signature")  # type: ignore[arg-type]
    # too old, too far ahead
    for skew in (-301, 301):
        r = s.signed("GET", path, created=int(time.time()) + skew)
        assert_error(r, 401, "stale_request")  # type: ignore[arg-type]
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
    assert process_owner(s.roll, PID) is None
    assert not (s.keyring.issuers_dir / f"{PID}.pub").exists()
    # the original, untouched, still goes through once: its nonce was not spent
    r = s.client.post(path, content=b'{"threshold": 1}', headers=headers)
    assert r.status_code == 201, r.text
    assert_error(
        s.client.post(path, content=b'{"threshold": 1}', headers=headers), 409, "replayed_request"
    )


def test_a_replay_is_refused_after_a_restart(service: Service, tmp_path: Path) -> None:
    s, path = service, "/institution/whoami"
    headers = sign_request(s.city, "GET", path, b"", authority=SERVICE)
    assert s.client.get(path, headers=headers).status_code == 200
    assert_error(s.client.get(path, headers=headers), 409, "replayed_request")
    # a new service process on the same database
    fresh = create_app(casting=False, roll=s.roll, keyring=s.keyring, rate_limit=None)
    with TestClient(fresh) as again:
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
    # no key yet: no roll
    assert_error(s.signed("POST", roll_path, {"people": ["a"]}), 404, "unknown_process")  # type: ignore[arg-type]

    r = s.signed("POST", key_path, {})
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert r.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    assert r.json() == {  # type: ignore[attr-defined]
        "process_id": PID,
        "issuer": s.keyring.record(PID).manifest_issuer(),
        "share_public_keys": {},
    }
    assert process_owner(s.roll, PID) == "city-hall"
    assert_error(s.signed("POST", key_path, {}), 409, "issuer_key_exists")  # type: ignore[arg-type]
    assert_error(s.signed("POST", key_path, {}, key=s.county), 409, "issuer_key_exists")  # type: ignore[arg-type]
    assert_error(s.signed("POST", key_path, {"shares": 0}), 400, "invalid_parameter")  # type: ignore[arg-type]
    assert_error(s.signed("POST", key_path, {"x": 1}), 400, "invalid_parameter")  # type: ignore[arg-type]

    # t-of-n
    r = s.signed(
        "POST", "/institution/processes/shared-1/issuer-key", {"threshold": 2, "shares": 3}
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert r.json()["issuer"] == {  # type: ignore[attr-defined]
        "public_key": r.json()["issuer"]["public_key"],  # type: ignore[attr-defined]
        "threshold": 2,
        "shares": 3,
    }
    assert sorted(r.json()["share_public_keys"]) == ["1", "2", "3"]  # type: ignore[attr-defined]
    r = s.signed("POST", "/institution/processes/bad id/issuer-key", {})
    assert_error(r, 400, "bad_process_id")  # type: ignore[arg-type]

    # the roll: only the owner; codes once
    people = [f"ES-{i:04d}" for i in range(4)]
    assert_error(
        s.signed("POST", roll_path, {"people": people}, key=s.county), 403, "not_your_process"
    )  # type: ignore[arg-type]
    r = s.signed("POST", roll_path, {"people": people})
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert r.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    answer = r.json()  # type: ignore[attr-defined]
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
        assert_error(s.signed("POST", roll_path, body), status, code)  # type: ignore[arg-type]
    assert roll_size(s.roll, PID) == 4
    r = s.signed("POST", roll_path, {"people": ["ES-0001", "ES-0100"], "skip_existing": True})
    assert r.json() == {  # type: ignore[attr-defined]
        "process_id": PID,
        "imported": 1,
        "skipped": ["ES-0001"],
        "codes": {"ES-0100": r.json()["codes"]["ES-0100"]},  # type: ignore[attr-defined]
    }
    # a key made outside the API has no owner: nobody imports through the API
    s.keyring.create("outside")
    r = s.signed("POST", "/institution/processes/outside/roll", {"people": ["a"]})
    assert_error(r, 403, "not_your_process")  # type: ignore[arg-type]

    # and the codes work at the issuance endpoint
    pseudonym, credential = obtain_credential(s.client, PID, answer["codes"]["ES-0002"])
    assert verify_credential(s.keyring.public_key(PID), PID, pseudonym.public_key, credential)


def test_endpoints_on_sqlite(service: Service) -> None:
    _endpoints(service)


@pytest.mark.postgres
def test_endpoints_on_postgres(pg_service: Service) -> None:
    _endpoints(pg_service)
    # replay across a second app on the same PostgreSQL database
    path = "/institution/whoami"
    headers = sign_request(pg_service.city, "GET", path, b"", authority=SERVICE)
    assert pg_service.client.get(path, headers=headers).status_code == 200
    other = create_app(
        casting=False, roll=pg_service.roll, keyring=pg_service.keyring, rate_limit=None
    )
    with TestClient(other) as again:
        assert_error(again.get(path, headers=headers), 409, "replayed_request")
