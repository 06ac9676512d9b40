"""The civic record over HTTP, end to end with real blind credentials.

Citizens obtain their credentials through ``POST /issuance`` (blinded on their
side), cast through ``POST /entries`` and check their receipts offline with the
log key the service publishes; institutions sign their manifests, closes and
results themselves. Every refusal has its status and stable code and leaves the
log as it was; nothing stores the client's address.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.civic import RULES, Citizen, institution_name
from tests.support.service import JSON, Service, assert_error, blinded_b64, open_service
from urne.api.deps import RateLimit
from urne.api.main import create_app
from urne.ledger.civic.authority import reserve_process
from urne.ledger.errors import SequencerBroken
from urne.ledger.issuance.issuer_key import IssuerKey
from urne.ledger.log import MAX_ENTRY_SIZE, Log
from urne.verifier.check.receipt import Receipt, check_receipt, check_still_included
from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic.canonical import canonical, fingerprint
from urne.verifier.civic.entries import b64encode
from urne.verifier.credentials.credential import credential_message

IN_2026 = datetime(2026, 6, 1, tzinfo=UTC)


# --------------------------------------------------------------------------
# A service on a real SQLite log, and the people using it
# --------------------------------------------------------------------------


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    yield from open_service(tmp_path)


# --------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------


def test_petition_end_to_end(svc: Service) -> None:
    c = svc.client
    manifest, codes = svc.open_process("pet", "petition", people=4)
    assert manifest.index == 2  # after the institution's registration and the id's reservation
    assert c.get("/processes").json() == [
        {
            "id": "pet",
            "type": "petition",
            "title": {"en": "Process pet"},
            "opens": "2026-01-01T00:00:00Z",
            "closes": "2026-12-31T23:59:59Z",
            "closed": False,
            "closed_at": None,
            "index": 2,
        }
    ]

    citizens = [svc.citizen("pet", code) for code in codes[:3]]
    receipts = [svc.append(x.ballot()) for x in citizens]
    assert [r.index for r in receipts] == [3, 4, 5]

    detail = c.get("/processes/pet").json()
    assert (detail["credentials_issued"], detail["roll_size"]) == (3, 4)
    assert detail["rule"] == {"threshold": 3}
    assert detail["institution"] == b64encode(svc.inst.key.public_key)
    # who opened it, as the log says: the registration and the reservation
    name = institution_name(svc.inst.key.public_key)
    assert detail["authority"] == {"institution_name": name, "registered_at": 0, "reserved_at": 1}
    page = c.get("/p/pet").text
    assert name in page and 'href="/log/entries/1"' in page
    assert detail["issuer"] == svc.keyring.record("pet").manifest_issuer()
    assert detail["officials"] == [
        {"name": "Official 0", "key": b64encode(svc.inst.officials[0].public_key)}
    ]
    assert detail["tally"] == {
        "process": "pet",
        "type": "petition",
        "ballots": 3,
        "paper_batches": {},
        "signatures": 3,
        "paper_signatures": 0,
        "total": 3,
        "threshold": 3,
        "reached": True,
        "reached_at": 5,
    }
    assert c.get("/processes/pet/tally").json() == detail["tally"]

    # A second signature by one pseudonym is refused and changes nothing.
    assert_error(svc.post(citizens[0].ballot()), 409, "already_signed")
    assert c.get("/processes/pet/tally").json()["signatures"] == 3

    late = svc.citizen("pet", codes[3])  # issued before the close
    close = svc.append(svc.inst.close("pet"))
    tally = c.get("/processes/pet/tally").json()
    result = svc.append(svc.inst.result("pet", close.index, tally))
    detail = c.get("/processes/pet").json()
    assert (detail["closed"], detail["closed_at"]) == (True, close.index)
    assert detail["results"] == [{"index": result.index, "through": close.index}]

    # Issued before, cast after the close: refused.
    assert_error(svc.post(late.ballot()), 409, "process_closed")
    assert c.get("/processes/pet").json()["credentials_issued"] == 4
    # and nothing is issued after it, whatever the code
    r = c.post("/issuance/pet", json={"code": codes[3], "blinded": blinded_b64("pet")})
    assert_error(r, 409, "process_closed")

    # A citizen who lost their receipt asks again; the old one is still proven
    # by the latest checkpoint and a consistency proof.
    again = c.get(f"/entries/{receipts[0].index}/receipt")
    assert again.status_code == 200 and again.headers["cache-control"] == "no-store"
    assert Receipt.from_json(again.json()) == receipts[0]
    latest = c.get("/checkpoint").text
    size = int(latest.splitlines()[1])
    old_size = check_receipt(receipts[0], svc.log_key()).checkpoint.size
    proof = c.get(f"/log/proof/consistency?size1={old_size}&size2={size}").json()["proof"]
    check_still_included(
        receipts[0],
        svc.log_key(),
        latest,
        [base64.b64decode(h) for h in proof],
    )
    assert_error(c.get(f"/entries/{size}/receipt"), 404, "no_entry")
    assert_error(c.get("/entries/-1/receipt"), 400, "invalid_parameter")
    assert svc.log.size == size == result.index + 1


def test_vote_budget_and_paper(svc: Service) -> None:
    c = svc.client
    _, vote_codes = svc.open_process("vote", "vote", people=3)
    proposals = c.get("/processes/vote").json()["proposals"]
    assert [p["id"] for p in proposals] == ["a", "b", "c"]
    for p in proposals:
        assert p["fingerprint"] == fingerprint({"title": p["title"], "body": p["body"]})

    ana, bo = (svc.citizen("vote", code) for code in vote_codes[:2])
    svc.append(ana.ballot(["a"]))
    svc.append(bo.ballot(["a"]))
    svc.append(bo.ballot(["b"]))  # a revote, seq 1: the last ballot counts
    assert_error(svc.post(bo.ballot(["c"], seq=0)), 409, "stale_seq")
    assert_error(svc.post(ana.ballot(["a", "b"])), 422, "bad_choice_count")
    assert_error(svc.post(ana.ballot(["z"])), 422, "unknown_proposal")
    svc.append(svc.inst.paper("vote", "box-1", counts={"a": 5, "c": 1}))
    assert_error(svc.post(svc.inst.paper("vote", "box-1", counts={"a": 1})), 409, "duplicate_batch")
    stranger = AuthorKey.generate()
    forged_batch = svc.inst.paper("vote", "box-2", official=stranger, counts={"b": 9})
    assert_error(svc.post(forged_batch), 422, "unknown_official")
    tally = c.get("/processes/vote/tally").json()
    assert (tally["counts"], tally["paper_counts"]) == (
        {"a": 1, "b": 1, "c": 0},
        {"a": 5, "b": 0, "c": 1},
    )
    assert tally["winners"] == ["a"]

    close = svc.append(svc.inst.close("vote"))
    wrong = {**tally, "winners": ["b"]}
    assert_error(svc.post(svc.inst.result("vote", close.index, wrong)), 422, "wrong_result")
    svc.append(svc.inst.result("vote", close.index, tally))

    _, budget_codes = svc.open_process("budget", "budget", people=1, rule=RULES["budget"])
    cy = svc.citizen("budget", budget_codes[0])
    assert_error(svc.post(cy.ballot(["park", "bikes", "bench"])), 422, "over_budget")
    svc.append(cy.ballot(["park", "bench"]))
    assert_error(svc.post(cy.ballot(["bikes"])), 409, "already_voted")
    budget = c.get("/processes/budget").json()
    assert budget["tally"]["approvals"] == {"park": 1, "bikes": 0, "bench": 1}
    assert [p["cost"] for p in budget["proposals"]] == [600, 300, 200]
    assert [p["id"] for p in c.get("/processes").json()] == ["vote", "budget"]
    assert_error(c.get("/processes/nope"), 404, "unknown_process")
    assert_error(c.get("/processes/nope/tally"), 404, "unknown_process")


# --------------------------------------------------------------------------
# Refusals: one service, every path; none of them changes the log
# --------------------------------------------------------------------------


@dataclass
class World:
    svc: Service
    petitioner: Citizen  # has signed "pet" once
    voter: Citizen  # holds a credential for "vote", has not voted
    closed_voter: Citizen  # holds a credential for "closed", which is closed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for svc in open_service(tmp_path_factory.mktemp("refusals")):
        _, pet = svc.open_process("pet", "petition", people=1)
        _, vote = svc.open_process("vote", "vote", people=1)
        _, closed = svc.open_process("closed", "vote", people=1)
        petitioner = svc.citizen("pet", pet[0])
        svc.append(petitioner.ballot())
        closed_voter = svc.citizen("closed", closed[0])
        svc.append(svc.inst.close("closed"))
        yield World(svc, petitioner, svc.citizen("vote", vote[0]), closed_voter)


def _obj(leaf: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(leaf)
    return obj


def _forged_credential(w: World) -> bytes:
    """A credential of another issuer key, for the right process and pseudonym."""
    v, rogue = w.voter, IssuerKey.generate()
    state, blinded = blind(credential_message("vote", v.pseudonym.public_key))
    credential = unblind(state, rogue.sign_blinded(blinded), rogue.public_key)
    return v.ballot(["a"], credential=credential)


def _borrowed_credential(w: World) -> bytes:
    """The issuer's genuine credential, under another pseudonym than its own."""
    return authoring.ballot("vote", Pseudonym.generate(), w.voter.credential, ["a"])


def _tampered(w: World) -> bytes:
    """A genuine ballot whose choice was changed after signing."""
    obj = _obj(w.voter.ballot(["a"]))
    return canonical({**obj, "choice": ["b"]})


def _unknown_process(w: World) -> bytes:
    """A well-formed ballot with a valid (self-issued) credential, for no process."""
    issuer, pseudonym = IssuerKey.generate(), Pseudonym.generate()
    state, blinded = blind(credential_message("nope", pseudonym.public_key))
    credential = unblind(state, issuer.sign_blinded(blinded), issuer.public_key)
    return authoring.ballot("nope", pseudonym, credential, ["a"])


def _foreign_manifest(w: World) -> bytes:
    """A manifest naming the institution, for an id reserved for it, signed by
    someone else."""
    obj = _obj(w.svc.inst.process("other", "petition"))
    reserve_process(w.svc.civic, "other", w.svc.inst.key.public_key, obj["issuer"])
    return sign_entry(
        {**obj, "institution": b64encode(w.svc.inst.key.public_key)}, AuthorKey.generate()
    )


CASES: dict[str, tuple[Callable[[World], bytes], int, str]] = {
    "indented JSON": (
        lambda w: json.dumps(_obj(w.voter.ballot(["a"])), indent=1).encode(),
        400,
        "not_canonical",
    ),
    "keys out of order": (
        lambda w: json.dumps(
            dict(reversed(_obj(w.voter.ballot(["a"])).items())), separators=(",", ":")
        ).encode(),
        400,
        "not_canonical",
    ),
    "needless escape": (
        lambda w: w.voter.ballot(["a"]).replace(b'"kind":"ballot"', b'"kind":"b\\u0061llot"'),
        400,
        "not_canonical",
    ),
    "malformed JSON": (lambda w: b'{"v":1,"kind":', 400, "malformed_json"),
    "not an object": (lambda w: b"[1,2]", 400, "malformed_json"),
    "empty body": (lambda w: b"", 400, "malformed_json"),
    "not UTF-8": (lambda w: b'{"v":"\xff"}', 400, "malformed_json"),
    "bad base64": (
        lambda w: canonical({**_obj(w.voter.ballot(["a"])), "credential": "!!not base64!!"}),
        400,
        "bad_base64",
    ),
    "unknown kind": (
        lambda w: canonical({**_obj(w.voter.ballot(["a"])), "kind": "vote"}),
        400,
        "bad_kind",
    ),
    "unknown field": (
        lambda w: canonical({**_obj(w.voter.ballot(["a"])), "ip": "203.0.113.5"}),
        400,
        "unknown_field",
    ),
    "forged credential": (_forged_credential, 422, "bad_credential"),
    "credential of another pseudonym": (_borrowed_credential, 422, "bad_credential"),
    "ballot changed after signing": (_tampered, 403, "bad_entry_signature"),
    "manifest not signed by its institution": (_foreign_manifest, 403, "bad_entry_signature"),
    "close not signed by the institution": (
        lambda w: authoring.close("vote", AuthorKey.generate()),
        403,
        "bad_entry_signature",
    ),
    "double signature": (lambda w: w.petitioner.ballot(), 409, "already_signed"),
    "unknown process": (_unknown_process, 404, "unknown_process"),
    "closed process": (lambda w: w.closed_voter.ballot(["a"]), 409, "process_closed"),
    "process id taken": (lambda w: w.svc.inst.process("vote", "vote"), 409, "process_exists"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_entry_refusals(world: World, case: str) -> None:
    build, status, code = CASES[case]
    leaf = build(world)
    size = world.svc.log.size
    r = world.svc.post(leaf)
    assert_error(r, status, code)
    assert world.svc.log.size == size


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), "process_not_open"),
        (datetime(2027, 1, 1, tzinfo=UTC), "process_ended"),
    ],
)
def test_deadlines(world: World, when: datetime, code: str) -> None:
    size = world.svc.log.size
    world.svc.now[0] = when
    try:
        assert_error(world.svc.post(world.voter.ballot(["a"])), 409, code)
    finally:
        world.svc.now[0] = IN_2026
    assert world.svc.log.size == size


def test_body_size_and_media_type(world: World) -> None:
    svc, size = world.svc, world.svc.log.size
    oversize = b'{"v":1,"pad":"' + b"x" * MAX_ENTRY_SIZE + b'"}'
    assert_error(svc.post(oversize), 413, "entry_too_large")

    # Without a Content-Length (chunked), the body is cut off as it arrives.
    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * 4096

    r = svc.client.post("/entries", content=chunks(), headers=JSON)
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "entry_too_large")

    # Exactly the limit is read (and then judged on its form); one byte more is not.
    at_limit = canonical({"v": 1, "kind": "close", "process": "x" * (MAX_ENTRY_SIZE - 35)})
    assert len(at_limit) == MAX_ENTRY_SIZE
    assert_error(svc.post(at_limit), 400, "missing_field")
    assert_error(svc.post(at_limit + b" "), 413, "entry_too_large")

    ballot = world.voter.ballot(["a"])
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "application/json; charset=latin-1"},
        {},
    ):
        assert_error(svc.post(ballot, headers=headers), 415, "unsupported_media_type")
    assert svc.log.size == size
    # the same bytes with the right type are accepted
    svc.append(ballot)


def test_media_type_parameters(svc: Service) -> None:
    """``application/json`` with any parameters is JSON, unless it names a
    charset other than UTF-8; the charset used to be read from the first
    parameter only."""
    _, codes = svc.open_process("pet", "petition", people=2)
    signatures = [svc.citizen("pet", code).ballot() for code in codes]
    for content_type in (
        "application/json; charset=latin-1",
        "application/json; profile=x; charset=utf-16",
        "application/json-seq",
        "text/json",
    ):
        r = svc.post(signatures[0], {"Content-Type": content_type})
        assert_error(r, 415, "unsupported_media_type")
    for leaf, content_type in zip(
        signatures,
        ('Application/JSON; profile="urne"; charset="UTF-8"', "application/json;charset=utf-8;"),
        strict=True,
    ):
        r = svc.post(leaf, {"Content-Type": content_type})
        assert r.status_code == 201, (content_type, r.text)
    assert svc.client.get("/processes/pet/tally").json()["signatures"] == 2


@pytest.mark.parametrize(
    ("leaf", "code"),
    [
        (b"[" * 50_000, "malformed_json"),
        (b'{"v":' + b"9" * 5000 + b"}", "not_canonical"),
    ],
    ids=["deep-nesting", "huge-integer"],
)
def test_pathological_json_is_refused_as_such(svc: Service, leaf: bytes, code: str) -> None:
    assert_error(svc.post(leaf), 400, code)
    assert svc.log.size == 0


# --------------------------------------------------------------------------
# Privacy, rate limit, OpenAPI
# --------------------------------------------------------------------------

ADDRESS = "203.0.113.77"


def test_no_table_holds_the_client_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for svc in open_service(tmp_path, client=(ADDRESS, 40404), rate_limit=RateLimit()):
        _, codes = svc.open_process("pet", "petition", people=2)
        signer = svc.citizen("pet", codes[0])
        svc.append(signer.ballot())
        assert_error(svc.post(signer.ballot()), 409, "already_signed")
        svc.append(svc.inst.close("pet"))
        assert svc.client.get("/processes/pet").status_code == 200
        # The service did see the address: in memory, for the rate limit, only.
        assert ADDRESS in svc.client.app.state.rate_limiter

    packed = socket.inet_aton(ADDRESS)
    needles = [ADDRESS.encode(), ADDRESS.encode("utf-16-le"), packed]
    db = sqlite3.connect(tmp_path / "log.db")
    tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert {"log_entry", "roll_person"} <= set(tables)
    rows_seen = 0
    for table in tables:
        for row in db.execute(f'SELECT * FROM "{table}"'):
            rows_seen += 1
            for value in row:
                raw = value if isinstance(value, bytes) else str(value).encode()
                assert not any(n in raw for n in needles), (table, row)
                assert ADDRESS not in str(value)
    db.close()
    assert rows_seen > 10
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert packed not in path.read_bytes() and ADDRESS.encode() not in path.read_bytes()
    assert not [r for r in caplog.records if ADDRESS in r.getMessage()]


def test_uvicorn_access_log_lines_carry_no_address(tmp_path: Path) -> None:
    for _ in open_service(tmp_path):
        access = logging.getLogger("uvicorn.access")
        record = access.makeRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            (f"{ADDRESS}:40404", "POST", "/entries", "1.1", 201),
            None,
        )
        assert access.filter(record)
        assert record.getMessage() == '- - "POST /entries HTTP/1.1" 201'


def test_entries_are_rate_limited_per_address(tmp_path: Path) -> None:
    for svc in open_service(tmp_path, rate_limit=RateLimit(burst=2, per_second=0.001)):
        assert_error(svc.post(b"{}"), 400, "bad_version")
        assert_error(svc.post(b"{}"), 400, "bad_version")
        r = svc.post(b"{}")
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        assert svc.client.get("/processes").status_code == 200  # reads are not limited
        with TestClient(svc.client.app, client=("198.51.100.9", 1)) as other:
            r = other.post("/entries", content=b"{}", headers=JSON)
            assert_error(r, 400, "bad_version")


def test_openapi_documents_the_civic_endpoints(svc: Service) -> None:
    r = svc.client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in (
        "/processes",
        "/processes/{process_id}",
        "/processes/{process_id}/tally",
        "/entries",
        "/entries/{index}/receipt",
        "/issuance/{process_id}",
    ):
        assert p in paths
    post = paths["/entries"]["post"]
    assert "application/json" in post["requestBody"]["content"]
    assert {"201", "400", "403", "404", "409", "413", "415", "422", "429"} <= set(post["responses"])
    assert svc.client.get("/docs").status_code == 200


def test_the_casting_fast_path_leaves_every_other_request_to_the_router(svc: Service) -> None:
    """``POST /entries`` is answered ahead of routing (urne.api.routes.civic.EntriesFastPath),
    with the route's own refusals; any other method or path goes through the app."""
    from urne.api.routes.civic import EntriesFastPath

    assert any(m.cls is EntriesFastPath for m in svc.client.app.user_middleware)  # type: ignore[attr-defined]
    r = svc.client.get("/entries")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    assert_error(svc.client.post("/entries/x", content=b"{}", headers=JSON), 404, "not_found")
    assert_error(svc.post(b"[1]"), 400, "malformed_json")
    assert_error(
        svc.post(b"{}", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"
    )
    assert svc.log.size == 0


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (RuntimeError("a bug"), 500, "internal_error"),
        (SequencerBroken("the sequencer stopped on an unexpected error"), 503, "sequencer_broken"),
    ],
    ids=["a bug", "a broken sequencer"],
)
def test_a_failure_in_casting_is_answered_with_the_error_body_and_the_service_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception, status: int, code: str
) -> None:
    from urne.ledger.civic.record import CivicRecord

    log = Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="x.example/log")
    app = create_app(log, rate_limit=None, clock=lambda: IN_2026)

    async def broken(self: CivicRecord, leaf: bytes) -> Receipt:
        raise failure

    monkeypatch.setattr(CivicRecord, "submit_async", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/entries", content=b"{}", headers=JSON)
        assert_error(r, status, code)
        assert r.headers["content-type"] == "application/json"
        assert c.get("/healthz").json() == {"status": "ok"}
    log.close()
