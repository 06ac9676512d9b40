"""Decidim to Urne and back: ``urne process import-decidim`` reads a process's
proposals from a stand-in of Decidim's GraphQL API (tests/support/decidim_server.py),
checks every fingerprint and writes the description ``urne process open``
takes; ``urne process export-accountability`` writes the CSV Decidim's
Accountability component imports, from the recount of the open data."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Response
from typer.testing import CliRunner

from tests.support.decidim_server import Decidim, Process, Proposal, decidim_fingerprint, serving
from tests.support.paths import load_vector
from tests.support.service import serving as serving_urne
from urne.api.cli import decidim as decidim_cli
from urne.api.cli.main import app as urne
from urne.api.client import UrneClient
from urne.ledger.db.settings import Settings
from urne.ledger.log import Log
from urne.verifier.civic.canonical import fingerprint

runner = CliRunner()
VECTORS = load_vector("decidim/fingerprints.json")["cases"]
OPENS, CLOSES = "2020-01-01T00:00:00Z", "2099-12-31T23:59:59Z"


def _vector_proposals() -> list[Proposal]:
    return [
        Proposal(101 + i, c["fields"]["title"], c["fields"]["body"], state="evaluating")
        for i, c in enumerate(VECTORS)
    ]


def _decidim() -> Decidim:
    main = [
        *_vector_proposals(),
        Proposal(
            110,
            {
                "en": "A library open on Sundays",
                "fr": "Une bibliothèque ouverte le dimanche",
                "ca": "Una biblioteca oberta els diumenges",
            },
            {
                "en": '<p>Open <a href="https://example.org/a?b=1&amp;c=2">it</a> on Sundays.</p>',
                "fr": "<p>L’ouvrir le <em>dimanche</em>.</p>\n<p>« Enfin » 🎉</p>",
                "ca": "<p>Obrir-la els diumenges.</p>",
            },
        ),
        Proposal(111, {"ca": "Més arbres"}, {"ca": "<ul><li>Plàtans</li><li>Til·lers</li></ul>"}),
        Proposal(112, {"en": "Withdrawn idea"}, {"en": "<p>No longer.</p>"}, withdrawn=True),
    ]
    other = [
        Proposal(
            120,
            {"en": "Bike racks", "fr": "Arceaux vélo"},
            {"en": "<p>At every school.</p>", "fr": "<p>Devant chaque école.</p>"},
        ),
    ]
    return Decidim(
        {
            "pressupostos-2027": Process(
                "pressupostos-2027",
                {"en": "Budget 2027", "fr": "Budget 2027", "ca": "Pressupostos 2027"},
                {"en": "<p>Choose.</p>", "ca": ""},
                {"11": main, "12": None, "13": other},
            ),
            "tampered": Process(
                "tampered",
                {"en": "Tampered"},
                {},
                {
                    "21": [
                        Proposal(201, {"en": "Fine"}, {"en": "<p>Fine.</p>"}),
                        Proposal(
                            202,
                            {"en": "Changed"},
                            {"en": "<p>Changed.</p>"},
                            reference="d-prop-202",
                            value="0" * 64,
                        ),
                    ]
                },
            ),
            "spaced": Process(
                "spaced",
                {"en": "Spaced"},
                {},
                {
                    "31": [
                        Proposal(
                            301,
                            {"en": "T"},
                            {"en": "B"},
                            source='{"body": {"en": "B"}, "title": {"en": "T"}}',
                        )
                    ]
                },
            ),
            "machine": Process(
                "machine",
                {"en": "Machine"},
                {},
                {
                    "41": [
                        Proposal(
                            401,
                            {"en": "Trees", "machine_translations": {"fr": "Arbres"}},
                            {"en": "<p>Trees.</p>"},
                        )
                    ]
                },
            ),
            "empty-locale": Process(
                "empty-locale",
                {"en": "Empty"},
                {},
                {"51": [Proposal(501, {"en": "Official", "fr": ""}, {"en": "<p>x</p>", "fr": ""})]},
            ),
        }
    )


@pytest.fixture
def decidim() -> Iterator[tuple[str, Decidim]]:
    d = _decidim()
    with serving(d) as url:
        yield url, d


def _fix_spaced(d: Decidim) -> None:
    import hashlib

    for p in d.processes["spaced"].components["31"] or []:
        assert p.source is not None
        p.value = hashlib.sha256(p.source.encode()).hexdigest()


def _run(args: list[str]) -> Any:
    return runner.invoke(urne, args)


def _ok(args: list[str]) -> str:
    r = _run(args)
    assert r.exit_code == 0, r.output
    return r.output


def _import(url: str, slug: str, out: Path, *extra: str) -> Any:
    return _run(
        [
            "process",
            "import-decidim",
            url,
            slug,
            "--out",
            str(out),
            "--opens",
            OPENS,
            "--closes",
            CLOSES,
            *extra,
        ]
    )


# -- the stand-in is Decidim's algorithm --------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["name"])
def test_the_stand_in_fingerprints_as_the_vectors_say(case: dict[str, Any]) -> None:
    value, source = decidim_fingerprint(case["fields"])
    assert (value, source) == (case["fingerprint"], case["source"])
    assert fingerprint(case["fields"]) == case["fingerprint"]


# -- the import --------------------------------------------------------------------------------


def test_import_reads_every_page_and_keeps_decidims_fingerprints(
    tmp_path: Path, decidim: tuple[str, Decidim]
) -> None:
    url, d = decidim
    out = tmp_path / "desc.json"
    r = _import(url, "pressupostos-2027", out, "--id", "vote-2027")
    assert r.exit_code == 0, r.output
    assert "withdrawn, left out: proposal 112" in r.output
    desc = json.loads(out.read_text(encoding="utf-8"))
    assert desc["id"] == "vote-2027" and desc["type"] == "vote"
    assert desc["title"] == {"en": "Budget 2027", "fr": "Budget 2027", "ca": "Pressupostos 2027"}
    assert desc["text"] == {"en": "<p>Choose.</p>"}  # the empty Catalan text left out
    assert desc["rule"] == decidim_cli.VOTE_RULE
    ids = [p["id"] for p in desc["proposals"]]
    assert ids == ["101", "102", "103", "104", "110", "111", "120"]
    # pages of two: 7 proposals of component 11 in 4 pages, 1 of component 13 in one
    pages = [q for q in d.requests if "component(id: $id)" in q["query"]]
    assert [(q["variables"]["id"], q["variables"]["after"] is None) for q in pages] == [
        ("11", True),
        ("11", False),
        ("11", False),
        ("11", False),
        ("13", True),
    ]
    assert all(q["variables"]["first"] == decidim_cli.PAGE_SIZE for q in pages)
    # the texts are the fingerprinted ones, byte for byte; the fingerprints Decidim's
    by_id = {
        str(p.id): p for c in d.processes["pressupostos-2027"].components.values() for p in c or []
    }
    for p in desc["proposals"]:
        want = by_id[p["id"]]
        assert (p["title"], p["body"]) == (want.title, want.body)
        assert (
            fingerprint({"title": p["title"], "body": p["body"]})
            == decidim_fingerprint({"title": want.title, "body": want.body})[0]
        )
    for i, case in enumerate(VECTORS):
        p = desc["proposals"][i]
        assert fingerprint({"title": p["title"], "body": p["body"]}) == case["fingerprint"]
    # the query is the one the guide shows, against Decidim's schema
    assert d.requests[0]["query"] == decidim_cli.PROCESS_QUERY
    guide = (Path(__file__).parents[1] / "docs" / "guides" / "decidim.md").read_text()
    assert decidim_cli.PROPOSALS_QUERY in guide and decidim_cli.PROCESS_QUERY in guide


def test_a_mismatch_is_refused_naming_the_proposal(
    tmp_path: Path, decidim: tuple[str, Decidim]
) -> None:
    url, d = decidim
    out = tmp_path / "d.json"
    r = _import(url, "tampered", out)
    assert r.exit_code == 1
    assert r.output.count("\n") == 1 and r.output.startswith("error: fingerprint_mismatch: ")
    assert "proposal 202 (d-prop-202)" in r.output and not out.exists()
    _fix_spaced(d)
    r = _import(url, "spaced", out)
    assert r.exit_code == 1 and "fingerprint_mismatch" in r.output and "proposal 301" in r.output
    assert "Urne's canonical form" in r.output and not out.exists()
    r = _import(url, "machine", out)
    assert r.exit_code == 1 and "machine_translations" in r.output and "proposal 401" in r.output
    r = _import(url, "empty-locale", out)
    assert r.exit_code == 1 and "empty_translation" in r.output and "proposal 501" in r.output


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("not_json", "decidim_malformed"),
        ("errors", "decidim_refused"),
        ("http_500", "decidim_unreachable"),
        ("endless", "too_many_pages"),
    ],
)
def test_bad_answers_are_refused_in_one_line(
    tmp_path: Path, decidim: tuple[str, Decidim], mode: str, code: str
) -> None:
    url, d = decidim
    d.mode = mode
    out = tmp_path / "d.json"
    r = _import(url, "pressupostos-2027", out)
    assert r.exit_code == 1, r.output
    assert r.output.startswith(f"error: {code}: ") and r.output.count("\n") == 1, r.output
    assert not out.exists()
    if mode == "endless":
        assert len(d.requests) == decidim_cli.MAX_PAGES


def test_usage_errors(tmp_path: Path, decidim: tuple[str, Decidim]) -> None:
    url, _ = decidim
    out = tmp_path / "d.json"
    for bad in ("ftp://decidim.example", "not a url", "https://x.example/api?q=1"):
        r = _import(bad, "pressupostos-2027", out)
        assert r.exit_code == 2 and "bad_url" in r.output, r.output
    r = _import(url, "nowhere", out)
    assert r.exit_code == 1 and "decidim_not_found" in r.output
    r = _import(url, "pressupostos-2027", out, "--type", "budget")
    assert r.exit_code == 2 and "--costs" in r.output
    r = _import(url, "pressupostos-2027", out, "--component", "12")
    assert r.exit_code == 1 and "no proposals component 12" in r.output
    out.write_text("{}")
    r = _import(url, "pressupostos-2027", out)
    assert r.exit_code == 2 and "never overwritten" in r.output
    assert out.read_text() == "{}"
    r = _run(
        [
            "process",
            "import-decidim",
            "http://127.0.0.1:9",
            "x",
            "--out",
            str(tmp_path / "e.json"),
            "--opens",
            OPENS,
            "--closes",
            CLOSES,
        ]
    )
    assert r.exit_code == 1 and "decidim_unreachable" in r.output


def test_a_budget_needs_a_cost_for_each_proposal(
    tmp_path: Path, decidim: tuple[str, Decidim]
) -> None:
    url, _ = decidim
    costs = tmp_path / "costs.csv"
    costs.write_text("id,cost\n110,600\n120,300\n")
    out = tmp_path / "b.json"
    args = ["--type", "budget", "--costs", str(costs), "--rule", '{"budget": 1000}']
    r = _import(url, "pressupostos-2027", out, *args)
    assert r.exit_code == 1 and "bad_costs" in r.output and "proposal 101" in r.output
    costs.write_text("id,cost\n110,600\n120,300\n999,5\n")
    r = _import(url, "pressupostos-2027", out, *args, "--component", "13")
    assert r.exit_code == 1 and "not imported: ['110', '999']" in r.output
    costs.write_text("id,cost\n120,zero\n")
    r = _import(url, "pressupostos-2027", out, *args, "--component", "13")
    assert r.exit_code == 2 and "bad_costs" in r.output and "line 2" in r.output
    costs.write_text("id,cost\n120,300\n")
    r = _import(
        url,
        "pressupostos-2027",
        out,
        "--type",
        "budget",
        "--costs",
        str(costs),
        "--component",
        "13",
    )
    assert r.exit_code == 1 and "budget" in r.output and "missing" in r.output


# -- open it on a real service, count, and export for Accountability -----------------------------


@dataclass
class Served:
    url: str
    log: Log
    vkey: str


def _with_open_data_route(app: FastAPI) -> None:
    if any(getattr(r, "path", "") == "/processes/{process_id}/entries.jsonl" for r in app.routes):
        return
    from urne.ledger.civic.opendata import entries_jsonl, open_export

    @app.get("/processes/{process_id}/entries.jsonl")
    def _entries(process_id: str) -> Response:
        export = open_export(app.state.civic, process_id)
        return Response(b"".join(entries_jsonl(export)), media_type="application/jsonl")


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    from urne.api.main import create_app, open_log

    monkeypatch.setenv("URNE_DATABASE_URL", f"sqlite:///{tmp_path / 'urne.db'}")
    monkeypatch.setenv("URNE_ISSUANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'issuance.db'}")
    monkeypatch.setenv("URNE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("URNE_ORIGIN", "decidim.example/log")
    settings = Settings()
    log = open_log(settings)
    app = create_app(log, settings, rate_limit=None)
    _with_open_data_route(app)
    try:
        with serving_urne(app) as base:
            yield Served(base, log, log.verifier.vkey)
    finally:
        log.close()


def _institution_and_official(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    key = tmp_path / "city.json"
    out = _ok(["institution", "keygen", "city-hall", "--out", str(key)])
    _ok(["institution", "add", "city-hall", out.split("public key:")[1].split()[0]])
    official = tmp_path / "desk.json"
    out = _ok(["official", "keygen", "Town hall desk", "--out", str(official)])
    return key, official, json.loads(out.strip().splitlines()[-1])


def _open(tmp_path: Path, served: Served, desc_path: Path) -> tuple[Path, Path, list[str]]:
    key, official, named = _institution_and_official(tmp_path)
    desc = json.loads(desc_path.read_text(encoding="utf-8"))
    desc["officials"] = [named]
    full = tmp_path / "full.json"
    full.write_text(json.dumps(desc, ensure_ascii=False), encoding="utf-8")
    _ok(["process", "open", str(full), "--server", served.url, "--key", str(key)])
    return key, official, [p["id"] for p in desc["proposals"]]


def _manifest(log: Log, pid: str) -> dict[str, Any]:
    entries = [json.loads(e) for e in log.entries(0, log.size)]
    return next(e for e in entries if e["kind"] == "process" and e["id"] == pid)


def _csv(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    assert not text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_a_decidim_vote_opened_counted_and_exported(
    tmp_path: Path, decidim: tuple[str, Decidim], served: Served
) -> None:
    url, d = decidim
    desc_path = tmp_path / "desc.json"
    assert _import(url, "pressupostos-2027", desc_path, "--id", "vote-2027").exit_code == 0
    key, official, ids = _open(tmp_path, served, desc_path)
    manifest = _manifest(served.log, "vote-2027")
    nodes = {
        str(p.id): p.node()
        for c in d.processes["pressupostos-2027"].components.values()
        for p in c or []
    }
    assert [p["fingerprint"] for p in manifest["proposals"]] == [
        nodes[i]["fingerprint"]["value"] for i in ids
    ]
    srv = ["--server", served.url]
    counts = {"110": 7, "120": 7, "101": 2}
    sheet = tmp_path / "sheet.pdf"
    sheet.write_bytes(b"signed tally sheet")
    _ok(
        [
            "paper",
            "record",
            "vote-2027",
            str(sheet),
            "--batch",
            "b1",
            *srv,
            "--key",
            str(official),
            *[f"--count={i}={counts.get(i, 0)}" for i in ids],
        ]
    )
    out = tmp_path / "results.csv"
    r = _run(
        [
            "process",
            "export-accountability",
            "vote-2027",
            *srv,
            "--out",
            str(out),
            "--log-key",
            served.vkey,
        ]
    )
    assert r.exit_code == 1 and "not_closed" in r.output and not out.exists()
    _ok(["process", "close", "vote-2027", *srv, "--key", str(key)])
    r = _run(
        [
            "process",
            "export-accountability",
            "vote-2027",
            *srv,
            "--out",
            str(out),
            "--log-key",
            served.vkey,
            "--status-id",
            "3",
        ]
    )
    assert r.exit_code == 0, r.output
    rows = _csv(out)
    assert list(rows[0]) == [
        "id",
        "title/en",
        "title/ca",
        "title/fr",
        "description/en",
        "description/ca",
        "description/fr",
        "category/id",
        "parent/id",
        "status/id",
        "progress",
        "start_date",
        "end_date",
        "proposal_urls",
        "external_id",
        "urne/process",
        "urne/proposal",
        "urne/fingerprint",
        "urne/votes",
        "urne/cost",
        "urne/outcome",
    ]
    assert [r["urne/proposal"] for r in rows] == ["110", "120"]  # the tied winners
    first = rows[0]
    body = nodes["110"]["body"]["translations"]
    assert first["title/fr"] == "Une bibliothèque ouverte le dimanche"
    assert [first[f"description/{t['locale']}"] for t in body] == [t["text"] for t in body]
    assert first["description/fr"].endswith("« Enfin » 🎉</p>")  # HTML and newline kept
    assert rows[1]["title/ca"] == "" and rows[1]["title/fr"] == "Arceaux vélo"
    for row in rows:
        assert row["id"] == row["category/id"] == row["parent/id"] == ""
        assert row["progress"] == row["start_date"] == row["end_date"] == ""
        assert row["proposal_urls"] == "" and row["status/id"] == "3"
        assert row["external_id"] == f"urne:vote-2027:{row['urne/proposal']}"
        assert row["urne/fingerprint"] == nodes[row["urne/proposal"]]["fingerprint"]["value"]
        assert row["urne/votes"] == "7" and row["urne/cost"] == ""
        assert row["urne/outcome"] == "selected"
    r = _run(["process", "export-accountability", "vote-2027", *srv, "--out", str(out)])
    assert r.exit_code == 2 and "never overwritten" in r.output
    everything = tmp_path / "all.csv"
    _ok(
        [
            "process",
            "export-accountability",
            "vote-2027",
            *srv,
            "--out",
            str(everything),
            "--log-key",
            served.vkey,
            "--all",
        ]
    )
    rows = _csv(everything)
    assert [r["urne/proposal"] for r in rows] == ids
    assert {r["urne/proposal"]: r["urne/votes"] for r in rows} == {
        i: str(counts.get(i, 0)) for i in ids
    }
    assert rows[0]["title/en"] == "My title" and rows[1]["title/en"] == "A title"  # a plain text
    assert sum(r["urne/outcome"] == "selected" for r in rows) == 2


def test_a_decidim_budget_opened_counted_and_exported(
    tmp_path: Path, decidim: tuple[str, Decidim], served: Served
) -> None:
    url, _ = decidim
    costs = tmp_path / "costs.csv"
    costs.write_text("id,cost\n101,600\n102,300\n103,200\n104,500\n110,400\n111,100\n120,250\n")
    desc_path = tmp_path / "budget.json"
    r = _import(
        url,
        "pressupostos-2027",
        desc_path,
        "--id",
        "budget-2027",
        "--type",
        "budget",
        "--costs",
        str(costs),
        "--rule",
        '{"budget": 1000}',
    )
    assert r.exit_code == 0, r.output
    desc = json.loads(desc_path.read_text(encoding="utf-8"))
    assert {p["id"]: p["cost"] for p in desc["proposals"]}["120"] == 250
    assert desc["rule"] == {**decidim_cli.BUDGET_RULE, "budget": 1000}
    key, official, ids = _open(tmp_path, served, desc_path)
    ballots = tmp_path / "ballots.txt"
    ballots.write_text("101 102\n101 111\n110 120\n101\n")
    sheet = tmp_path / "sheet.pdf"
    sheet.write_bytes(b"budget sheet")
    srv = ["--server", served.url]
    _ok(
        [
            "paper",
            "record",
            "budget-2027",
            str(sheet),
            "--batch",
            "b1",
            *srv,
            "--key",
            str(official),
            "--ballots",
            str(ballots),
        ]
    )
    _ok(["process", "close", "budget-2027", *srv, "--key", str(key)])
    out = tmp_path / "results.csv"
    _ok(
        [
            "process",
            "export-accountability",
            "budget-2027",
            *srv,
            "--out",
            str(out),
            "--log-key",
            served.vkey,
        ]
    )
    rows = _csv(out)
    tally = UrneClient(served.url).get_json("/processes/budget-2027")["tally"]
    selected = [r["urne/proposal"] for r in rows]
    assert "101" in selected and selected == [i for i in ids if i in tally["selected"]]
    costs_of = {p["id"]: p["cost"] for p in desc["proposals"]}
    assert sum(costs_of[i] for i in selected) <= 1000
    for row in rows:
        assert row["urne/cost"] == str(costs_of[row["urne/proposal"]])
        assert row["urne/outcome"] == "selected"
    assert {r["urne/proposal"]: r["urne/votes"] for r in rows}["101"] == "3"
