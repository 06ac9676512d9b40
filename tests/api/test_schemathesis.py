"""Property-based tests of the whole HTTP API against its own OpenAPI schema.

Schemathesis reads the schema the app publishes and, for every operation in it
(the routes other modules add included), sends cases built from the schema and
from its negation: boundary values, integers beyond 2^63, odd characters in
paths, wrong types, missing and extra fields, other methods. Every answer must

- never be a server error (5xx);
- have a status the operation documents, with the documented media type and a
  body that matches the documented schema;
- if it is a refusal (4xx), carry the one error body ``{"error": {"code",
  "message"}}`` (api/errors.py).

Random ids rarely name anything, so a second test sends the requests that do
(each process, entry, tile, code) and holds their answers to the same schema.

The service (casting and issuance in one app) runs on a temporary SQLite log
with a fixed clock: a closed petition with its result, a vote with a revote and
a paper batch, a budget. Generation is derandomised, so a run in CI is a run
anywhere.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.support.civic import RULES
from tests.support.service import Service, blinded_b64, open_service
from urne.api.main import create_app
from urne.verifier.civic.canonical import canonical
from urne.verifier.tlog.tiles import entries_path, tile_path

pytestmark = pytest.mark.slow  # a property run over every operation: the full run

#: The schema as the app publishes it (an app with both roles). Building it
#: opens nothing; the cases go to the app of the ``service`` fixture.
schema = schemathesis.openapi.from_dict(create_app(rate_limit=None).openapi())

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Requests outside the schema (a wrong type, a missing required field or
#: header, another method) must be refused, a 405 with its ``Allow`` header.
#: ``positive_data_acceptance`` is left out: a schema-valid body is rarely a
#: validly signed entry or an issued code, nor a random index one in the log.
CHECKS = [
    *CONFORMANCE,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
]

#: About 30 s for the whole module on two cores; the coverage phase adds the
#: boundary values of each parameter on top of these examples.
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Three processes in every state worth answering about."""
    for svc in open_service(tmp_path_factory.mktemp("schemathesis")):
        _, pet_codes = svc.open_process("pet", "petition", people=3)
        for code in pet_codes[:2]:
            svc.append(svc.citizen("pet", code).ballot())
        svc.append(svc.inst.paper("pet", "stand-1", signatures=7))
        close = svc.append(svc.inst.close("pet"))
        tally = svc.client.get("/processes/pet/tally").json()
        svc.append(svc.inst.result("pet", close.index, tally))

        _, vote_codes = svc.open_process("vote", "vote", people=3)
        voter = svc.citizen("vote", vote_codes[0])
        svc.append(voter.ballot(["a"]))
        svc.append(voter.ballot(["b"]))  # a revote
        svc.append(svc.inst.paper("vote", "box-1", counts={"a": 5, "c": 1}))

        _, budget_codes = svc.open_process("budget", "budget", people=2, rule=RULES["budget"])
        svc.append(svc.citizen("budget", budget_codes[0]).ballot(["park", "bench"]))
        yield svc


def assert_error_body(response: Any) -> None:
    """A refusal carries ``{"error": {"code", "message"}}`` and nothing else."""
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message"}, body
    assert isinstance(error["code"], str) and error["code"], body
    assert isinstance(error["message"], str) and error["message"], body


# --------------------------------------------------------------------------
# Generated cases, every operation
# --------------------------------------------------------------------------


@schema.parametrize()
@SETTINGS
def test_every_operation_keeps_its_schema(case: schemathesis.Case, service: Service) -> None:
    response = case.call(app=service.client.app)
    case.validate_response(response, checks=CHECKS)
    assert_error_body(response)


# --------------------------------------------------------------------------
# Requests that name real things
# --------------------------------------------------------------------------


def _known_requests(svc: Service) -> list[tuple[str, str, dict[str, Any], int | None]]:
    """(method, path template, request parts, expected status or None for any
    documented one)."""
    size = svc.log.size
    pet_manifest = base64.b64decode(svc.client.get("/log/entries/0").json()["data"])
    requests: list[tuple[str, str, dict[str, Any], int | None]] = [
        ("GET", "/checkpoint", {}, 200),
        ("GET", "/log", {}, 200),
        ("GET", "/healthz", {}, 200),
        ("GET", "/processes", {}, 200),
        ("GET", "/log/checkpoints/{size}", {"path": {"size": size}}, 200),
        ("GET", "/log/proof/inclusion", {"query": {"index": 3}}, 200),
        ("GET", "/log/proof/inclusion", {"query": {"index": 0, "size": 1}}, 200),
        ("GET", "/log/proof/consistency", {"query": {"size1": 1}}, 200),
        ("GET", "/log/proof/consistency", {"query": {"size1": 2, "size2": size}}, 200),
        ("GET", "/tile/{path}", {"path": {"path": tile_path(0, 0, size)[5:]}}, 200),
        ("GET", "/tile/{path}", {"path": {"path": entries_path(0, size)[5:]}}, 200),
        ("GET", "/tile/{path}", {"path": {"path": tile_path(0, 0)[5:]}}, 404),
        ("POST", "/entries", {"body": pet_manifest}, 409),  # process_exists
        ("POST", "/entries", {"body": canonical({"v": 1})}, 400),
        ("POST", "/issuance/{process_id}", {"path": {"process_id": "nope"}}, 404),
        ("POST", "/issuance/{process_id}", {"path": {"process_id": "vote"}}, 404),
    ]
    for index in range(size):
        requests += [
            ("GET", "/log/entries/{index}", {"path": {"index": index}}, 200),
            ("GET", "/entries/{index}/receipt", {"path": {"index": index}}, 200),
        ]
    # every GET about one process, the ones other modules add included
    about_a_process = [
        template
        for template, operations in schema.raw_schema["paths"].items()
        if "get" in operations and template.count("{") == 1 and "{process_id}" in template
    ]
    assert {"/processes/{process_id}", "/issuance/{process_id}"} <= set(about_a_process)
    answered = {
        "/processes/{process_id}",
        "/processes/{process_id}/tally",
        "/issuance/{process_id}",
    }
    for pid in ("pet", "vote", "budget"):
        for template in about_a_process:
            status = 200 if template in answered else None
            requests.append(("GET", template, {"path": {"process_id": pid}}, status))
    return requests


def test_real_resources_keep_their_schema(service: Service) -> None:
    """200s with real content (processes, proofs, receipts, tiles) match the schema too."""
    seen = 0
    for method, template, parts, status in _known_requests(service):
        path = template.format(**parts.get("path", {}))
        if method == "GET":
            response = service.client.get(path, params=parts.get("query"))
        elif template == "/entries":
            response = service.post(parts["body"])
        else:  # a well-formed code that is on no roll
            body = {"code": "7K3M-Q9XD-2HRT", "blinded": blinded_b64()}
            response = service.client.post(path, json=body)
        if status is not None:
            assert response.status_code == status, (method, path, response.text)
        case = schema[template][method].Case(
            path_parameters=parts.get("path"), query=parts.get("query")
        )
        case.validate_response(response, checks=CONFORMANCE)
        assert_error_body(response)
        seen += 1
    assert seen > 40


def _resolve(published: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = published["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_the_schema_documents_the_error_body() -> None:
    """Every documented 4xx/5xx has the error body; FastAPI's 422 list of
    details, which this API never answers, is gone."""
    published = create_app(rate_limit=None).openapi()
    assert "HTTPValidationError" not in published["components"]["schemas"]
    for path, operations in published["paths"].items():
        for method, operation in operations.items():
            where = (method, path)
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    body = _resolve(published, answer["content"]["application/json"]["schema"])
                    assert body["required"] == ["error"], where
                    error = _resolve(published, body["properties"]["error"])
                    assert sorted(error["required"]) == ["code", "message"], where
            if operation.get("parameters") or operation.get("requestBody"):
                assert "400" in operation["responses"], where
