"""``GET /processes/{id}/entries.jsonl`` and ``GET /processes/{id}/results.csv``:
what the service streams is what an observer checks offline with the log's key
(``urne.verifier.check.opendata.check_export``), pinned to one checkpoint, and an unknown
process is a 404 in the API's error format."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.civic import Citizen, Institution, open_in
from tests.support.service import assert_error
from tests.support.world import World, build_world
from urne.api.main import create_app
from urne.api.routes.opendata import CSV_MEDIA_TYPE, JSONL_MEDIA_TYPE
from urne.ledger.civic.opendata import entries_jsonl, open_export, results_csv_bytes
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.check.opendata import check_export, check_results_csv, parse_header
from urne.verifier.tlog.note import Ed25519Verifier

IN_2026 = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, World]]:
    tmp = tmp_path_factory.mktemp("opendata-api")
    log = Log.open(
        f"sqlite:///{tmp / 'log.db'}",
        key_dir=tmp / "keys",
        origin="opendata.example/log",
        batch_wait=0.01,
    )
    w = build_world(log, fillers=600, sparse_every=15)
    app = create_app(log, rate_limit=None)
    assert app.state.civic is w.civic  # the app reads the record the world wrote
    with TestClient(app) as client:
        yield client, w
    log.close()


def _log_key(client: TestClient) -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(client.get("/log").json()["verifier_key"])


@pytest.mark.parametrize("pid", ["vote", "pet", "bud"])
def test_entries_and_results_check_offline(served: tuple[TestClient, World], pid: str) -> None:
    client, w = served
    r = client.get(f"/processes/{pid}/entries.jsonl")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == JSONL_MEDIA_TYPE
    assert r.headers["content-disposition"] == f'attachment; filename="{pid}-entries.jsonl"'
    assert r.headers["cache-control"] == "no-cache"
    body = r.content
    assert body == b"".join(entries_jsonl(open_export(w.civic, pid)))  # byte for byte
    report = check_export(body.splitlines(keepends=True), _log_key(client))
    assert report.entries == len(w.indices[pid])
    assert report.checkpoint.checkpoint.size == w.log.size

    csv = client.get(f"/processes/{pid}/results.csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"] == CSV_MEDIA_TYPE == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"] == f'attachment; filename="{pid}-results.csv"'
    check_results_csv(report, csv.content)
    assert csv.content == results_csv_bytes(open_export(w.civic, pid))


def test_unknown_process_is_404(served: tuple[TestClient, World]) -> None:
    client, _ = served
    for path in ("nope/entries.jsonl", "nope/results.csv", "other-0x/results.csv"):
        assert_error(client.get(f"/processes/{path}"), 404, "unknown_process")
    # not an identifier at all: still the same refusal, never a server error
    for pid in ("%00", "a%0D%0Ab", "..", "%22%3Cx%3E", "x" * 5000):
        r = client.get(f"/processes/{pid}/entries.jsonl")
        assert r.status_code == 404, (pid, r.text)
        assert set(r.json()["error"]) == {"code", "message"}


def test_the_stream_is_pinned_while_ballots_keep_coming(
    served: tuple[TestClient, World],
) -> None:
    """A ballot accepted while the client reads the answer (through the same
    civic record) lies beyond its checkpoint; the next request sees it."""
    client, w = served
    before = w.log.size
    with client.stream("GET", "/processes/bud/entries.jsonl") as r:
        chunks = r.iter_bytes()
        first = next(chunks)
        header = parse_header(first.split(b"\n", 1)[0] + b"\n")
        done = threading.Event()

        def vote() -> None:
            w.ballot("bud", 7)
            w.settle()
            done.set()

        t = threading.Thread(target=vote)
        t.start()
        assert done.wait(30), "a ballot waited for the stream: the lock is held"
        body = first + b"".join(chunks)
        t.join()
    assert int(header.checkpoint.splitlines()[1]) == before < w.log.size
    report = check_export(body.splitlines(keepends=True), w.log.verifier)
    assert report.entries == header.entries == len(w.indices["bud"]) - 1
    # a new request sees the new ballot
    again = client.get("/processes/bud/entries.jsonl").content
    assert check_export(again.splitlines(keepends=True), w.log.verifier).entries == len(
        w.indices["bud"]
    )


def test_a_process_with_its_result_as_the_operator_recounts_it(tmp_path: Path) -> None:
    """What the operator's publishing step does: download entries.jsonl, check
    and recount it with the log key, and compare with the published CSV."""
    log = Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="o.example/log")
    civic = CivicRecord(log, clock=lambda: IN_2026)
    inst = Institution()
    open_in(civic, inst.process("pet", "petition"))
    for _ in range(4):
        civic.append(Citizen.enrol(inst, "pet").ballot())
    close = civic.append(inst.close("pet"))
    with TestClient(create_app(log, rate_limit=None)) as client:
        provisional = check_export(
            client.get("/processes/pet/entries.jsonl").content.splitlines(keepends=True),
            _log_key(client),
        )
        assert provisional.outcome is not None and provisional.outcome.status == "provisional"
        result = civic.append(inst.result("pet", close, provisional.tally))
        report = check_export(
            client.get("/processes/pet/entries.jsonl").content.splitlines(keepends=True),
            _log_key(client),
        )
        assert report.results == [(result, close)] and report.credentials_checked == 4
        csv = client.get("/processes/pet/results.csv").content
        check_results_csv(report, csv)
        assert csv.splitlines()[1].startswith(f"pet,published,{result},{close},".encode())
    log.close()


def test_openapi_documents_both_routes(served: tuple[TestClient, World]) -> None:
    client, _ = served
    paths = client.get("/openapi.json").json()["paths"]
    jsonl = paths["/processes/{process_id}/entries.jsonl"]["get"]["responses"]
    assert set(jsonl) >= {"200", "404"}
    assert list(jsonl["200"]["content"]) == [JSONL_MEDIA_TYPE]
    assert "Content-Disposition" in jsonl["200"]["headers"]
    error = {"$ref": "#/components/schemas/ErrorBody"}
    assert jsonl["404"]["content"] == {"application/json": {"schema": error}}
    csv = paths["/processes/{process_id}/results.csv"]["get"]["responses"]
    assert list(csv["200"]["content"]) == ["text/csv"]
    assert csv["404"]["content"] == {"application/json": {"schema": error}}
    assert "422" not in jsonl and "422" not in csv
