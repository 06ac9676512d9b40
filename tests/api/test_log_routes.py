"""The log over HTTP: tiles, checkpoint, proof endpoints and their refusals."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import reference as R
from urne.api.main import create_app
from urne.ledger.log import Log
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.proof import verify_consistency, verify_inclusion
from urne.verifier.tlog.rfc9162 import hash_leaf
from urne.verifier.tlog.tiles import decode_entry_bundle, entries_path, tile_path

ENTRIES = [f"ballot {i}".encode() for i in range(700)]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Log]]:
    tmp = tmp_path_factory.mktemp("api")
    log = Log.open(f"sqlite:///{tmp / 'log.db'}", key_dir=tmp / "keys", origin="api.example/log")
    log.append_many(ENTRIES[:300])
    log.append_many(ENTRIES[300:])
    with TestClient(create_app(log)) as c:
        yield c, log
    log.close()


def _b(s: str) -> bytes:
    return base64.b64decode(s)


def test_checkpoint_is_signed_text(client: tuple[TestClient, Log]) -> None:
    c, log = client
    r = c.get("/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    cp = open_checkpoint(r.text, log.verifier).checkpoint
    assert (cp.origin, cp.size, cp.root) == ("api.example/log", 700, R.mth(ENTRIES))
    r = c.get("/log/checkpoints/300")
    assert open_checkpoint(r.text, log.verifier).checkpoint.root == R.mth(ENTRIES[:300])
    assert "immutable" in r.headers["cache-control"]


def test_tiles(client: tuple[TestClient, Log]) -> None:
    c, _ = client
    r = c.get("/" + tile_path(0, 1))
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert r.content == b"".join(hash_leaf(e) for e in ENTRIES[256:512])
    r = c.get("/" + tile_path(0, 2, 700 - 512))
    assert r.content == b"".join(hash_leaf(e) for e in ENTRIES[512:700])
    r = c.get("/" + tile_path(1, 0, 2))
    assert r.content == R.mth(ENTRIES[:256]) + R.mth(ENTRIES[256:512])
    r = c.get("/" + entries_path(1))
    assert decode_entry_bundle(r.content) == ENTRIES[256:512]
    r = c.get("/" + entries_path(2, 188))
    assert decode_entry_bundle(r.content) == ENTRIES[512:700]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/tile/0/002", 404, "no_tile"),  # only a partial tile exists there
        ("/tile/0/000.p/300", 400, "bad_tile_path"),
        ("/tile/0/2", 400, "bad_tile_path"),
        ("/tile/0/x000/001", 400, "bad_tile_path"),
        ("/tile/entries/003", 404, "no_tile"),
        ("/tile/99/000", 400, "bad_tile_path"),
        ("/tile/banana", 400, "bad_tile_path"),
        ("/tile/0/000%0A", 400, "bad_tile_path"),  # was tile 0/000, under another path
        ("/tile/entries/002.p/188%0A", 400, "bad_tile_path"),
        ("/log/proof/inclusion?index=700", 400, "bad_index"),
        ("/log/proof/inclusion?index=0&size=701", 400, "size_beyond_log"),
        ("/log/proof/inclusion?index=-1", 400, "invalid_parameter"),
        ("/log/proof/inclusion?index=abc", 400, "invalid_parameter"),
        ("/log/proof/inclusion?index=99999999999999999999999", 400, "invalid_parameter"),
        # a proof from size 0 proves nothing: refused as docs/spec/log.md says (it was
        # answered invalid_parameter, a mismatch a second verifier found)
        ("/log/proof/consistency?size1=0", 400, "bad_size"),
        ("/log/proof/consistency?size1=-1", 400, "invalid_parameter"),
        ("/log/proof/consistency?size1=5&size2=4", 400, "bad_size"),
        ("/log/entries/700", 400, "size_beyond_log"),
        ("/log/checkpoints/5", 404, "no_checkpoint"),
        ("/nowhere", 404, "not_found"),
    ],
)
def test_refusals_have_stable_codes(
    client: tuple[TestClient, Log], path: str, status: int, code: str
) -> None:
    c, _ = client
    r = c.get(path)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/checkpoint", "GET"),
        ("DELETE", "/tile/0/000", "GET"),
        ("PUT", "/log/entries/1", "GET"),
        ("TRACE", "/log/proof/inclusion", "GET"),
        ("GET", "/entries", "POST"),
    ],
)
def test_another_method_is_405_with_allow(
    client: tuple[TestClient, Log], method: str, path: str, allow: str
) -> None:
    """Found by schemathesis: the 405 lost Starlette's ``Allow`` header (RFC 9110 §15.5.6)."""
    c, _ = client
    r = c.request(method, path)
    assert r.status_code == 405, r.text
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["allow"] == allow


def test_openapi_documents_each_refusal_with_the_error_body(
    client: tuple[TestClient, Log],
) -> None:
    c, _ = client
    schema = c.get("/openapi.json").json()
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, statuses in {
        "/tile/{path}": {"400", "404"},
        "/log/checkpoints/{size}": {"400", "404"},
        "/log/entries/{index}": {"400"},
        "/log/proof/inclusion": {"400"},
        "/log/proof/consistency": {"400"},
    }.items():
        responses = schema["paths"][path]["get"]["responses"]
        assert set(responses) == {"200", *statuses}, path  # no 422: parameters fail with 400
        for status in statuses:
            assert responses[status]["content"]["application/json"]["schema"] == error
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["paths"]["/checkpoint"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }


def test_inclusion_proof_endpoint(client: tuple[TestClient, Log]) -> None:
    c, _ = client
    for index, size in ((0, 1), (5, 300), (699, 700), (256, 700)):
        j = c.get(f"/log/proof/inclusion?index={index}&size={size}").json()
        assert _b(j["leaf_hash"]) == hash_leaf(ENTRIES[index])
        assert _b(j["root"]) == R.mth(ENTRIES[:size])
        verify_inclusion(
            hash_leaf(ENTRIES[index]),
            index,
            size,
            [_b(h) for h in j["proof"]],
            R.mth(ENTRIES[:size]),
        )
    j = c.get("/log/proof/inclusion?index=3").json()
    assert j["size"] == 700


def test_consistency_proof_endpoint(client: tuple[TestClient, Log]) -> None:
    c, _ = client
    j = c.get("/log/proof/consistency?size1=300&size2=700").json()
    verify_consistency(300, 700, [_b(h) for h in j["proof"]], R.mth(ENTRIES[:300]), R.mth(ENTRIES))
    assert c.get("/log/proof/consistency?size1=300").json()["size2"] == 700


def test_entry_and_info(client: tuple[TestClient, Log]) -> None:
    c, log = client
    j = c.get("/log/entries/42").json()
    assert _b(j["data"]) == ENTRIES[42] and _b(j["leaf_hash"]) == hash_leaf(ENTRIES[42])
    info = c.get("/log").json()
    assert info["verifier_key"] == log.verifier.vkey and info["size"] == 700


def test_openapi_lists_the_log_endpoints(client: tuple[TestClient, Log]) -> None:
    c, _ = client
    paths = c.get("/openapi.json").json()["paths"]
    for p in ("/checkpoint", "/tile/{path}", "/log/proof/inclusion", "/log/proof/consistency"):
        assert p in paths


def test_settings_open_their_own_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URNE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("URNE_ISSUANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'issuance.db'}")
    monkeypatch.setenv("URNE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("URNE_ORIGIN", "env.example/log")
    with TestClient(create_app()) as c:
        cp = c.get("/checkpoint").text
        assert cp.startswith("env.example/log\n0\n")
