"""The two command lines, as a newcomer runs them."""

from __future__ import annotations

import base64
import csv
import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Response
from typer.testing import CliRunner

from tests.support.service import serving
from urne.api.cli.main import app as urne
from urne.api.client import InstitutionKey, UrneClient
from urne.ledger.db.settings import Settings
from urne.ledger.log import Log
from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
from urne.verifier.cli.main import app as urne_verify
from urne.verifier.credentials.credential import credential_message

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("URNE_DATABASE_URL", f"sqlite:///{tmp_path / 'urne.db'}")
    monkeypatch.setenv("URNE_ISSUANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'issuance.db'}")
    monkeypatch.setenv("URNE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("URNE_ORIGIN", "cli.example/log")
    return tmp_path


def _vkey(out: str) -> str:
    line = next(x for x in out.splitlines() if x.startswith("verifier key:"))
    return line.split()[-1]


def test_init_append_checkpoint_and_verify(env: Path) -> None:
    r = runner.invoke(urne, ["init"])
    assert r.exit_code == 0, r.output
    vkey = _vkey(r.output)
    assert vkey.startswith("cli.example/log+")
    (env / "a.json").write_bytes(b'{"a": 1}')
    (env / "b.json").write_bytes(b'{"b": 2}')
    r = runner.invoke(urne, ["append", str(env / "a.json"), str(env / "b.json")])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [f"0\t{env / 'a.json'}", f"1\t{env / 'b.json'}"]
    r = runner.invoke(urne, ["checkpoint"])
    assert r.exit_code == 0 and r.output.startswith("cli.example/log\n2\n")
    cp = env / "cp.txt"
    cp.write_text(r.output)

    r = runner.invoke(urne_verify, ["checkpoint", str(cp), "--log-key", vkey])
    assert r.exit_code == 0, r.output
    assert "VALID checkpoint" in r.output and "size:   2" in r.output

    cp.write_text(cp.read_text().replace("\n2\n", "\n3\n"))  # claim a size never signed
    r = runner.invoke(urne_verify, ["checkpoint", str(cp), "--log-key", vkey])
    assert r.exit_code == 1
    assert "INVALID (bad_signature)" in r.output


def test_verify_refuses_unusable_key_and_missing_file(env: Path) -> None:
    r = runner.invoke(urne_verify, ["checkpoint", str(env / "cp.txt"), "--log-key", "nonsense"])
    assert r.exit_code == 2 and "log key is not usable" in r.output
    r = runner.invoke(
        urne_verify,
        [
            "checkpoint",
            str(env / "nope.txt"),
            "--log-key",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        ],
    )
    assert r.exit_code == 2 and "cannot read" in r.output


def test_bad_settings_are_refused_clearly(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URNE_ORIGIN", "https://has a space")
    r = runner.invoke(urne, ["init"])
    assert r.exit_code == 2 and "origin must be a schema-less URL" in r.output


def test_append_refuses_oversized_entry(env: Path) -> None:
    big = env / "big.bin"
    big.write_bytes(b"x" * 70000)
    r = runner.invoke(urne, ["append", str(big)])
    assert r.exit_code == 1
    assert "70000 bytes, the most is 65535" in r.output


def test_fingerprint_matches_decidim(tmp_path: Path) -> None:
    from tests.support.paths import load_vector

    for case in load_vector("decidim/fingerprints.json")["cases"]:
        f = tmp_path / f"{case['name']}.json"
        f.write_text(json.dumps(case["fields"], indent=2, ensure_ascii=False), encoding="utf-8")
        r = runner.invoke(urne_verify, ["fingerprint", str(f)])
        assert r.exit_code == 0, r.output
        assert r.output == case["fingerprint"] + "\n"


def test_fingerprint_refuses_what_it_cannot_hash(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"title": "t", "body": 1.5}')
    r = runner.invoke(urne_verify, ["fingerprint", str(f)])
    assert r.exit_code == 2 and "error:" in r.output
    f.write_text("[1, 2]")
    r = runner.invoke(urne_verify, ["fingerprint", str(f)])
    assert r.exit_code == 2 and "JSON object" in r.output
    f.write_text("{nope")
    r = runner.invoke(urne_verify, ["fingerprint", str(f)])
    assert r.exit_code == 2 and "not JSON" in r.output


# --------------------------------------------------------------------------
# Institutions, processes and rolls, against a real server on a free port
# --------------------------------------------------------------------------


@dataclass
class Served:
    url: str
    log: Log
    vkey: str


def _with_open_data_route(app: FastAPI) -> None:
    """A stand-in ``GET /processes/{id}/entries.jsonl`` for the tests only, when
    the app does not serve it yet (the format: ``urne.ledger.civic.opendata.entries_jsonl``)."""
    if any(getattr(r, "path", "") == "/processes/{process_id}/entries.jsonl" for r in app.routes):
        return
    from urne.ledger.civic.opendata import entries_jsonl, open_export

    @app.get("/processes/{process_id}/entries.jsonl")
    def _entries(process_id: str) -> Response:
        export = open_export(app.state.civic, process_id)
        return Response(b"".join(entries_jsonl(export)), media_type="application/jsonl")


@pytest.fixture
def served(env: Path) -> Iterator[Served]:
    """``urne serve`` as it runs, in a thread: the settings' log and database."""
    from urne.api.main import create_app, open_log

    settings = Settings()
    log = open_log(settings)
    app = create_app(log, settings, rate_limit=None)
    _with_open_data_route(app)
    try:
        with serving(app) as base:
            yield Served(base, log, log.verifier.vkey)
    finally:
        log.close()


def _ok(args: list[str]) -> str:
    r = runner.invoke(urne, args)
    assert r.exit_code == 0, r.output
    return r.output


PETITION = {
    "id": "library-sundays",
    "type": "petition",
    "title": {"en": "Open the library on Sundays"},
    "text": {"en": "We ask the council to open the central library on Sundays."},
    "opens": "2020-01-01T00:00:00Z",
    "closes": "2099-12-31T23:59:59Z",
    "rule": {"threshold": 2},
}


def test_institution_keygen_add_list(env: Path) -> None:
    out = _ok(["institution", "keygen", "city-hall", "--out", str(env / "city.json")])
    assert stat.S_IMODE((env / "city.json").stat().st_mode) == 0o600
    line = next(x for x in out.splitlines() if x.strip().startswith("urne institution add"))
    public = line.split()[-1]
    assert InstitutionKey.load(env / "city.json").public_key == base64.b64decode(public)
    r = runner.invoke(urne, ["institution", "keygen", "city-hall", "--out", str(env / "city.json")])
    assert r.exit_code == 2 and "never overwritten" in r.output
    assert _ok(["institution", "add", "city-hall", public]).startswith("registered city-hall")
    r = runner.invoke(urne, ["institution", "add", "city-hall", public])
    assert r.exit_code == 1 and "institution_exists" in r.output
    r = runner.invoke(urne, ["institution", "add", "other", "not base64"])
    assert r.exit_code == 2 and "32-byte" in r.output
    assert _ok(["institution", "list"]).split("\t")[:2] == ["city-hall", public]


def test_a_process_from_opening_to_result(env: Path, served: Served) -> None:
    key = env / "city.json"
    out = _ok(["institution", "keygen", "city-hall", "--out", str(key)])
    out = _ok(["institution", "add", "city-hall", out.split("public key:")[1].split()[0]])
    registered = _index(out)  # the registration is the log's first entry
    assert registered == 0
    srv = ["--server", served.url, "--key", str(key)]

    desc = env / "petition.json"
    desc.write_text(json.dumps(PETITION))
    bad = env / "bad.json"
    bad.write_text(json.dumps({**PETITION, "id": "bad", "rule": {"threshold": 0}}))
    r = runner.invoke(urne, ["process", "open", str(bad), *srv])
    assert r.exit_code == 2, r.output  # refused before any issuer key is made
    # Too large for an entry, or closed already: refused before any issuer key
    # is made, so the id is not burned (finding 14 of the security review).
    huge = env / "huge.json"
    huge.write_text(json.dumps({**PETITION, "text": {"en": "x" * 70_000}}))
    r = runner.invoke(urne, ["process", "open", str(huge), *srv])
    assert r.exit_code == 2 and "at most 65535" in r.output, r.output
    past = env / "past.json"
    past.write_text(json.dumps({**PETITION, "closes": "2021-01-01T00:00:00Z"}))
    r = runner.invoke(urne, ["process", "open", str(past), *srv])
    assert r.exit_code == 2 and "--allow-past" in r.output, r.output
    # nothing refused reached the log: the reservation of the id, then the manifest
    out = _ok(["process", "open", str(desc), *srv, "--receipt", str(env / "m.json")])
    manifest = _index(out)
    assert f"manifest at index {registered + 2}" in out
    assert [json.loads(e)["kind"] for e in served.log.entries(0, manifest + 1)] == [
        "institution",
        "reservation",
        "process",
    ]
    receipt = env / "m.json"
    r = runner.invoke(urne_verify, ["receipt", str(receipt), "--log-key", served.vkey])
    assert r.exit_code == 0, r.output
    # opening it again: the same institution gets the same key and reservation
    # back (a retry), but the id is used already, and nothing is appended
    r = runner.invoke(urne, ["process", "open", str(desc), *srv])
    assert r.exit_code == 1 and "process_exists" in r.output, r.output
    assert served.log.size == manifest + 1

    people = env / "people.csv"
    people.write_text("Person,district\nES-1,north\nES-2,south\nES-3,south\n")
    codes = env / "codes.csv"
    out = _ok(["roll", "import", PETITION["id"], str(people), *srv, "--codes-out", str(codes)])
    assert "3 people added" in out
    assert stat.S_IMODE(codes.stat().st_mode) == 0o600
    rows = list(csv.reader(codes.read_text().splitlines()))
    assert rows[0] == ["person", "code"] and [r[0] for r in rows[1:]] == ["ES-1", "ES-2", "ES-3"]
    r = runner.invoke(
        urne, ["roll", "import", PETITION["id"], str(people), *srv, "--codes-out", str(codes)]
    )
    assert r.exit_code == 2 and "never overwritten" in r.output
    again = env / "again.csv"
    r = runner.invoke(
        urne, ["roll", "import", PETITION["id"], str(people), *srv, "--codes-out", str(again)]
    )
    assert r.exit_code == 1 and "already_on_roll" in r.output and not again.exists()

    # two citizens sign through the API with their codes
    client = UrneClient(served.url)
    issuer = base64.b64decode(
        client.get_json(f"/issuance/{PETITION['id']}")["issuer"]["public_key"]
    )
    for _, code in rows[1:3]:
        pseudonym = Pseudonym.generate()
        state, blinded = blind(credential_message(PETITION["id"], pseudonym.public_key))
        credential = unblind(
            state, client.request_credential(PETITION["id"], code, blinded), issuer
        )
        client.post_entry(authoring.signature(PETITION["id"], pseudonym, credential))

    close = manifest + 3  # after the two signatures
    assert f"close at index {close}" in _ok(["process", "close", PETITION["id"], *srv])
    out = _ok(["process", "publish", PETITION["id"], *srv, "--log-key", served.vkey])
    # the registration, the reservation, the manifest, two signatures, the close
    assert "recounted 6 entries" in out and "2 credentials checked" in out
    assert f"result at index {close + 1}" in out
    tally = client.get_json(f"/processes/{PETITION['id']}")
    assert tally["results"] == [{"index": close + 1, "through": close}]
    assert tally["tally"]["total"] == 2

    # a key registered nowhere: the server refuses its requests
    _ok(["institution", "keygen", "nobody", "--out", str(env / "nobody.json")])
    nobody = ["--server", served.url, "--key", str(env / "nobody.json")]
    r = runner.invoke(urne, ["process", "open", str(desc), *nobody])
    assert r.exit_code == 1 and "unknown_institution" in r.output
    r = runner.invoke(
        urne, ["roll", "import", PETITION["id"], str(people), *nobody, "--codes-out", str(again)]
    )
    assert r.exit_code == 1 and "unknown_institution" in r.output and not again.exists()

    # the open data, from the local database
    out = _ok(["export", PETITION["id"], str(env / "out")])
    assert "published" in out and (env / "out" / "entries.jsonl").exists()


def test_demo_through_the_api(env: Path, served: Served) -> None:
    out = _ok(["demo", "--server", served.url, "--citizens", "3", "--log-key", served.vkey])
    assert "institution demo-institution" in out
    client = UrneClient(served.url)
    processes = client.get_json("/processes")
    assert sorted(p["type"] for p in processes) == ["budget", "petition", "vote"]
    for p in processes:
        detail = client.get_json(f"/processes/{p['id']}")
        assert detail["closed"] and len(detail["results"]) == 1
        assert detail["credentials_issued"] == 3
    petition = next(p for p in processes if p["type"] == "petition")
    assert client.get_json(f"/processes/{petition['id']}/tally")["total"] == 3 + 12
    # a second run reuses the demo institution's key
    _ok(["demo", "--server", served.url, "--citizens", "1"])
    assert len(client.get_json("/processes")) == 6


def test_demo_with_a_budget_from_a_pabulib_file(env: Path, served: Served) -> None:
    """``urne demo --pabulib``: the file's projects, costs and budget; its own
    ballots as paper batches beside the simulated citizens'; the published
    result equals the recount, and the paper ballots are all counted."""
    from tests.support.paths import VECTORS
    from urne.verifier.civic.pabulib import parse_pabulib

    path = VECTORS / "pabulib" / "Netherlands_Assen_2024.pb"
    instance = parse_pabulib(path)
    out = _ok(["demo", "--server", served.url, "--citizens", "4", "--pabulib", str(path)])
    client = UrneClient(served.url)
    (budget,) = [p for p in client.get_json("/processes") if p["type"] == "budget"]
    assert budget["id"].startswith("pabulib-") and budget["id"] in out
    detail = client.get_json(f"/processes/{budget['id']}")
    assert [p["id"] for p in detail["proposals"]] == [p.project_id for p in instance.projects]
    assert detail["rule"]["budget"] == instance.budget
    assert detail["closed"] and len(detail["results"]) == 1
    tally = client.get_json(f"/processes/{budget['id']}/tally")
    assert tally["paper_ballots"] == len(instance.ballots)
    assert tally["ballots"] == 4


def test_demo_refuses_a_file_that_is_not_pabulib(env: Path, served: Served) -> None:
    bad = env / "not.pb"
    bad.write_text("this is not a pabulib file\n")
    r = runner.invoke(urne, ["demo", "--server", served.url, "--pabulib", str(bad)])
    assert r.exit_code != 0 and "not.pb" in r.output
    assert UrneClient(served.url).get_json("/processes") == []


@pytest.mark.parametrize(("flag", "want"), [([], True), (["--no-access-log"], False)])
def test_serve_passes_the_access_log_choice_to_uvicorn(
    env: Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], want: bool
) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    _ok(["serve", "--port", "8999", *flag])
    assert seen["access_log"] is want and seen["port"] == 8999


def test_roll_import_refuses_an_empty_row_naming_its_line_before_sending(tmp_path: Path) -> None:
    key = tmp_path / "city.json"
    InstitutionKey.generate("city-hall").save(key)
    people = tmp_path / "people.csv"
    people.write_text("person\nES-1\n\nES-2\n", encoding="utf-8")
    codes = tmp_path / "codes.csv"
    nowhere = ["--server", "http://127.0.0.1:9", "--key", str(key)]  # never reached
    r = runner.invoke(
        urne, ["roll", "import", "p", str(people), *nowhere, "--codes-out", str(codes)]
    )
    assert r.exit_code == 2
    assert r.output.strip() == f"error: {people}, line 3: an empty line in the roll"
    assert not codes.exists()


def test_an_unreachable_database_is_one_line_and_leaves_no_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    nowhere = "postgresql+psycopg://nobody:secret@127.0.0.1:9/none"
    r = runner.invoke(urne, ["init", "--database-url", nowhere, "--key-dir", str(keys)])
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the database"), r.output
    assert "secret" not in r.output  # the password is never printed
    assert not (keys / "log.key").exists()


def test_the_roll_lives_apart_from_the_log(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 3 of the security review: with the roll's rows and the log's in
    one database, their order linked people to ballots. The issuance database
    is another one, and the log's URL for it is refused. (Institutions are
    registered on the log: public entries, not rows beside the roll.)"""
    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from urne.api.main import create_app

    out = _ok(["institution", "keygen", "city-hall", "--out", str(env / "city.json")])
    public = out.split("public key:")[1].split()[0]
    _ok(["institution", "add", "city-hall", public])
    _ok(["init"])
    assert _ok(["institution", "list"]).split("\t")[:2] == ["city-hall", public]
    with TestClient(create_app(settings=Settings(), rate_limit=None)) as client:
        assert client.get("/log").json()["size"] == 1  # the registration
    tables = {
        name: set(sa.inspect(sa.create_engine(f"sqlite:///{env / name}")).get_table_names())
        for name in ("urne.db", "issuance.db")
    }
    assert {"roll_person", "institution_process", "institution_nonce"} <= tables["issuance.db"]
    assert "log_entry" in tables["urne.db"] and _rows(env / "urne.db", "log_entry") == 1
    assert "log_entry" not in tables["issuance.db"] or _rows(env / "issuance.db", "log_entry") == 0
    for table in ("institution", "roll_person"):
        assert table not in tables["urne.db"] or _rows(env / "urne.db", table) == 0
    same = f"sqlite:///{env / 'urne.db'}"
    monkeypatch.setenv("URNE_ISSUANCE_DATABASE_URL", same)
    r = runner.invoke(urne, ["institution", "list"])
    assert r.exit_code == 2 and "must not be the log's" in r.output


def _index(out: str) -> int:
    """The log index a command's output ends its first line with ("... index N")."""
    return int(out.splitlines()[0].rsplit("index ", 1)[1])


def _rows(db: Path, table: str) -> int:
    import sqlalchemy as sa

    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def test_the_demos_unused_codes_are_kept_in_a_private_file(tmp_path: Path) -> None:
    from urne.api.cli.operator import DEMO_CODES, keep_demo_codes

    path = tmp_path / DEMO_CODES
    keep_demo_codes(path, {"demo-vote": [("resident-0060", "AAAA-BBBB-CCCC")]})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines() == [
        "process\tperson\tone-time code",
        "demo-vote\tresident-0060\tAAAA-BBBB-CCCC",
    ]
