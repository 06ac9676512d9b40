"""Five attacks on what the log admits, replayed as they were first carried
out, on SQLite through the service:

- a stranger hijacks a process id: it reads the issuer key the city asked
  for and posts a manifest of its own for the city's id first;
- the institution rewinds its published result with a second ``result``
  counting only through index 2 (another winner);
- one paper tally sheet is recorded twice, pushing a petition over its
  threshold;
- manifests with impossible dates (``2027-13-01``, hour 25, ``2027-02-30``,
  ``2027-00-00``);
- manifests whose issuer key is not a valid G1 public key.

Each is refused at admission with its status and code. Then an operator who
bypasses the rules forces the entry into a log anyway: the audit names it at
its index, with evidence a third party checks with the log's key alone, and
leaves it out of every count, of ``results.csv`` and of the pages.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.support import bls_points
from tests.support.civic import Citizen, Institution
from tests.support.evidence import check_evidence
from tests.support.service import JSON, Service, assert_error, open_service
from urne.api.cli.institution import manifest_from_description
from urne.api.client import InstitutionKey, sign_request
from urne.api.main import create_app
from urne.ledger.civic.authority import register_institution
from urne.ledger.civic.opendata import tile_lines
from urne.ledger.log import Log
from urne.ledger.log.export import export_tiles
from urne.verifier.check.audit import AuditReport, DirectorySource, Finding, audit
from urne.verifier.check.opendata import check_export, header_line
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import b64encode, decode_entry, signing_bytes
from urne.verifier.civic.process import EntryRefused, Registry
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.note import Ed25519Signer, Ed25519Verifier


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    yield from open_service(tmp_path)


@dataclass
class Forced:
    """A log holding exactly the given entries, appended with no rule applied
    (what ``urne append`` lets an operator do), and its tiles on disk."""

    log: Log
    key: Ed25519Verifier
    tiles: Path

    def audit(self) -> AuditReport:
        return audit(DirectorySource(self.tiles), self.key)

    def export_lines(self, process_id: str) -> list[bytes]:
        """An ``entries.jsonl`` of every entry of the process in this log,
        refused ones included: what an operator could hand out as its open data."""
        size = self.log.size
        leaves = self.log.entries(0, size)
        # the process's entries and the registrations (which belong to no process)
        indices = [
            i for i, x in enumerate(leaves) if decode_entry(x).process_id in (process_id, None)
        ]
        header = header_line(
            process=process_id,
            origin=self.log.origin,
            log_key=self.key.vkey,
            checkpoint=self.log.checkpoint().text,
            entries=len(indices),
        )
        assert size <= 256  # one tile
        return [header, *tile_lines(self.log, size, indices)]


class Force(Protocol):
    def __call__(self, leaves: list[bytes], signer: Ed25519Signer | None = None) -> Forced: ...


@pytest.fixture
def force(tmp_path: Path) -> Iterator[Force]:
    """Builds forced logs; closes them after the test. ``signer``: the log's
    key (default: a new one); entries copied from a service's log keep their
    authority only under that log's key, which signed their registrations."""
    opened: list[Log] = []

    def build(leaves: list[bytes], signer: Ed25519Signer | None = None) -> Forced:
        name = f"forced-{len(opened)}"
        signer = signer or Ed25519Signer.generate("forced.example/log")
        log = Log.open(f"sqlite:///{tmp_path / (name + '.db')}", signer=signer)
        opened.append(log)
        log.append_many(leaves)
        export_tiles(log, tmp_path / name)
        return Forced(log, signer.verifier, tmp_path / name)

    yield build
    for log in opened:
        log.close()


def _finding(report: AuditReport, step: int, code: str, index: int) -> Finding:
    found = [(f.step, f.code, f.index) for f in report.findings]
    assert (step, code, index) in found, found
    return next(f for f in report.findings if (f.step, f.code, f.index) == (step, code, index))


def _proven_entry(forced: Forced, finding: Finding) -> dict[str, Any]:
    """The entry the finding names, as a third party reads it from the evidence."""
    entry = check_evidence(forced.key, finding.evidence, finding.index)
    assert entry is not None
    obj: dict[str, Any] = json.loads(entry)
    return obj


def _named_entry(forced: Forced, finding: Finding, leaf: bytes) -> None:
    """A finding on an entry that cannot be decoded names its bytes and the
    signed checkpoint of the log that holds them. The audit reports such a
    finding while it reads, before it holds every leaf of the tree, so it
    carries no inclusion proof yet; where it does, the proof must hold."""
    evidence = finding.evidence
    assert base64.b64decode(evidence["entry"]) == leaf
    assert open_checkpoint(evidence["checkpoint"], forced.key).checkpoint.size > finding.index
    if "inclusion_proof" in evidence:
        assert check_evidence(forced.key, evidence, finding.index) == leaf


def _recount(leaves: list[bytes], operator: bytes, process_id: str, through: int) -> dict[str, Any]:
    registry = Registry(credential_check=None, operator=operator)
    for index, leaf in enumerate(leaves):
        registry.admit(decode_entry(leaf), index)
    return registry.tally(process_id, through)


def _resigned(leaf: bytes, key: AuthorKey, **change: Any) -> bytes:
    """``leaf`` changed and signed again by its author, with bytes of its own
    making: ``sign_entry`` would refuse to sign what the log refuses."""
    body = {k: v for k, v in json.loads(leaf).items() if k != "sig"}
    body.update(change)
    return canonical({**body, "sig": b64encode(key.sign(signing_bytes(body)))})


# -- a process id hijacked ----------------------------------------------------------------------


def _signed(svc: Service, key: InstitutionKey, path: str, obj: object) -> Response:
    body = json.dumps(obj).encode()
    headers = sign_request(key, "POST", path, body, authority="testserver")
    return svc.client.post(path, content=body, headers={**headers, **JSON})


def test_a_process_id_cannot_be_hijacked(svc: Service, force: Force) -> None:
    """The city asks for the issuer key of ``consulta-2026``; a stranger reads
    it from ``GET /issuance/consulta-2026`` and posts its own manifest for
    the id first, naming its own institution key and official. Before, the
    stranger's manifest was accepted, the city's refused as
    ``process_exists``, citizens voted in the stranger's process with real
    credentials, and its official recorded 1,000 "no" on paper."""
    pid = "consulta-2026"
    city = InstitutionKey.generate("city-hall")
    register_institution(svc.civic, city.name, city.public_key)
    asked = _signed(svc, city, f"/institution/processes/{pid}/issuer-key", {})
    assert asked.status_code == 201, asked.text
    reserved_at = asked.json()["reservation_index"]
    issuer = svc.client.get(f"/issuance/{pid}").json()["issuer"]
    assert issuer == asked.json()["issuer"]

    # the stranger: its own key and official, the city's issuer key
    stranger = Institution()
    hijack = _resigned(
        stranger.process(pid, "vote", rule={"method": "single", "min": 1, "max": 1,
                                            "revoting": False}),
        stranger.key,
        issuer=issuer,
    )  # fmt: skip
    assert_error(svc.post(hijack), 403, "reserved_for_another")
    # nor may it take an id nobody reserved, nor reserve one (it is no institution here)
    assert_error(svc.post(stranger.process("other-id", "petition")), 403, "unreserved_process")
    posing = InstitutionKey.generate("stranger")
    r = _signed(svc, posing, f"/institution/processes/{pid}/issuer-key", {})
    assert_error(r, 401, "unknown_institution")
    # a registered institution may not take the city's id either
    county = InstitutionKey.generate("county")
    register_institution(svc.civic, county.name, county.public_key)
    r = _signed(svc, county, f"/institution/processes/{pid}/issuer-key", {})
    assert_error(r, 409, "process_reserved")
    r = _signed(svc, county, f"/institution/processes/{pid}/roll", {"people": ["x"]})
    assert_error(r, 403, "not_your_process")

    # the city's own manifest, with the key it was given, is the one accepted
    opened = svc.append(
        manifest_from_description(
            {
                "id": pid,
                "type": "vote",
                "title": {"en": "Consulta"},
                "text": {"en": "Yes or no?"},
                "opens": "2026-01-01T00:00:00Z",
                "closes": "2026-12-31T23:59:59Z",
                "rule": {"method": "single", "min": 1, "max": 1, "revoting": False},
                "proposals": [
                    {"id": "yes", "title": {"en": "Yes"}, "body": {"en": "Yes."}},
                    {"id": "no", "title": {"en": "No"}, "body": {"en": "No."}},
                ],
            },
            city.key,
            issuer,
        )
    ).index
    assert svc.client.get(f"/processes/{pid}").json()["index"] == opened > reserved_at
    assert_error(svc.post(hijack), 409, "process_exists")

    # forced into a log by an operator who bypasses the rules: the stranger's
    # manifest before the city's, and the 1,000 "no" of its official
    leaves = svc.log.entries(0, reserved_at + 1)
    paper = stranger.paper(pid, "batch-1", counts={"no": 1000})
    forced = force([*leaves, hijack, paper, stranger.close(pid)], svc.log.signer)
    found = forced.audit()
    finding = _finding(found, 4, "reserved_for_another", reserved_at + 1)
    proven = _proven_entry(forced, finding)
    assert proven["institution"] == b64encode(stranger.key.public_key)
    assert proven["issuer"] == issuer  # the city's key, read from the issuance route
    # nothing of the stranger's process counts: there is no such process
    _finding(found, 6, "unknown_process", reserved_at + 2)
    assert pid not in found.tallies and not found.ok


# -- a published result rewound --------------------------------------------------------------


def test_a_published_result_cannot_be_rewound(svc: Service, force: Force) -> None:
    _, codes = svc.open_process("vote", "vote", people=5)
    for code, choice in zip(codes, "bbaaa", strict=True):
        svc.append(svc.citizen("vote", code).ballot([choice]))
    close = svc.append(svc.inst.close("vote")).index
    # the institution publishes as `urne process publish` does: recount the export
    export = svc.client.get("/processes/vote/entries.jsonl").content.splitlines(keepends=True)
    recount = check_export(export, svc.log_key())
    assert recount.last_index == close and recount.tally["winners"] == ["a"]
    result = svc.append(svc.inst.result("vote", close, recount.tally)).index

    # the attack: a second result counting only through the second ballot, another winner
    leaves = svc.log.entries(0, svc.log.size)
    second = svc.civic.process("vote").ballot_indices[1]
    partial = _recount(leaves, svc.log.verifier.public_key, "vote", second)
    assert partial["winners"] == ["b"]
    rewound = svc.inst.result("vote", second, partial)
    assert_error(svc.post(rewound), 409, "result_exists")
    assert svc.log.size == result + 1  # nothing appended

    # what everyone is shown is the final result
    csv = svc.client.get("/processes/vote/results.csv").content.decode()
    rows = csv.splitlines()[1:]
    assert all(r.startswith(f"vote,published,{result},{close},") for r in rows)
    assert [r.split(",")[0:5] + r.split(",")[-1:] for r in rows if r.endswith("true")] == [
        ["vote", "published", str(result), str(close), "a", "true"]
    ]
    page = svc.client.get("/p/vote").text
    assert "Final result" in page and f'href="/log/entries/{result}"' in page
    report = check_export(
        svc.client.get("/processes/vote/entries.jsonl").content.splitlines(keepends=True),
        svc.log_key(),
    )
    assert report.results == [(result, close)]

    # forced into a log: named by the audit, counted nowhere
    forced = force([*leaves, rewound], svc.log.signer)
    found = forced.audit()
    finding = _finding(found, 6, "result_exists", result + 1)
    proven = _proven_entry(forced, finding)
    assert (proven["kind"], proven["through"]) == ("result", second)
    assert proven["tally"]["winners"] == ["b"]
    assert found.tallies["vote"]["winners"] == ["a"]
    assert len(found.findings) == 1
    # an export that holds it is not valid (urne-verify export said VALID)
    with pytest.raises(EntryRefused) as refused:
        check_export(forced.export_lines("vote"), forced.key)
    assert refused.value.code == "result_exists" and f"(index {result + 1})" in str(refused.value)
    # the service over that log shows the final result only
    with TestClient(create_app(forced.log, issuance=False, rate_limit=None)) as client:
        forced_csv = client.get("/processes/vote/results.csv").content
        assert forced_csv.decode().splitlines()[1].startswith(f"vote,published,{result},{close},")
        assert client.get("/processes/vote").json()["results"] == [
            {"index": result, "through": close}
        ]
        page = client.get("/p/vote").text
        assert f'href="/log/entries/{result}"' in page
        assert f'href="/log/entries/{result + 1}"' not in page


def test_a_result_counts_through_the_close_only(svc: Service, force: Force) -> None:
    """The rewound result alone, as the process's first: before the close it
    is refused for coming early, after it for what it counts."""
    _, codes = svc.open_process("vote", "vote", people=5)
    for code, choice in zip(codes, "bbaaa", strict=True):
        svc.append(svc.citizen("vote", code).ballot([choice]))
    second = svc.civic.process("vote").ballot_indices[1]
    partial = _recount(
        svc.log.entries(0, svc.log.size), svc.log.verifier.public_key, "vote", second
    )
    early = svc.inst.result("vote", second, partial)
    assert_error(svc.post(early), 409, "process_not_closed")
    close = svc.append(svc.inst.close("vote")).index
    assert_error(svc.post(early), 422, "bad_through")
    page = svc.client.get("/p/vote").text
    assert "Final result" in page and "Not published yet" in page
    csv = svc.client.get("/processes/vote/results.csv").content.decode()
    assert csv.splitlines()[1].startswith(f"vote,provisional,,{close},")

    forced = force([*svc.log.entries(0, svc.log.size), early], svc.log.signer)
    finding = _finding(forced.audit(), 7, "bad_through", close + 1)
    assert _proven_entry(forced, finding)["through"] == second
    before = force([*svc.log.entries(0, close), early], svc.log.signer)
    _finding(before.audit(), 6, "process_not_closed", close)


# -- one tally sheet counted twice ------------------------------------------------------------


def test_one_paper_tally_sheet_counts_once(svc: Service, force: Force) -> None:
    _, codes = svc.open_process("pet", "petition", people=2, rule={"threshold": 10})
    for code in codes:
        svc.append(svc.citizen("pet", code).ballot())
    sheet = "c3" * 32
    first = svc.append(svc.inst.paper("pet", "stand-1", sheet=sheet, signatures=4)).index
    # the attack: the same sheet again, as another batch, 2 + 4 + 4 = 10
    twice = svc.inst.paper("pet", "stand-2", sheet=sheet, signatures=4)
    assert_error(svc.post(twice), 409, "duplicate_sheet")
    tally = svc.client.get("/processes/pet/tally").json()
    assert (tally["total"], tally["reached"]) == (6, False)

    # forced into a log, with a close and the certificate it would allow
    leaves = svc.log.entries(0, svc.log.size)
    close_at = len(leaves) + 1
    # the old rules' count through the close
    claimed = _recount(leaves, svc.log.verifier.public_key, "pet", first)
    claimed.update(paper_signatures=8, total=10, reached=True, reached_at=len(leaves))
    claimed["paper_batches"] = {official: 2 for official in claimed["paper_batches"]}
    forced = force(
        [*leaves, twice, svc.inst.close("pet"), svc.inst.result("pet", close_at, claimed)],
        svc.log.signer,
    )
    found = forced.audit()
    finding = _finding(found, 6, "duplicate_sheet", len(leaves))
    proven = _proven_entry(forced, finding)
    earlier = json.loads(leaves[first])
    assert (proven["sheet"], proven["batch"]) == (earlier["sheet"], "stand-2") != earlier["batch"]
    _finding(found, 7, "wrong_result", close_at + 1)
    assert (found.tallies["pet"]["total"], found.tallies["pet"]["reached"]) == (6, False)


# -- impossible dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "closes",
    [
        "2027-13-01T00:00:00Z",
        "2027-01-01T25:00:00Z",
        "2027-02-30T00:00:00Z",
        "2027-00-00T00:00:00Z",
    ],
)
def test_a_manifest_with_an_impossible_date_is_refused(
    svc: Service, force: Force, closes: str
) -> None:
    inst = svc.inst
    manifest = _resigned(inst.process("pet", "petition"), inst.key, closes=closes)
    assert_error(svc.post(manifest), 400, "bad_time")
    assert svc.client.get("/processes").json() == []

    forced = force([manifest, Citizen.enrol(inst, "pet").ballot()])
    found = forced.audit()
    _named_entry(forced, _finding(found, 4, "bad_time", 0), manifest)
    _finding(found, 6, "unknown_process", 1)  # nothing of the process counts


# -- invalid issuer keys ----------------------------------------------------------------------


_G2 = bls_points.G2_GENERATOR
#: Issuer keys are points of G2 (docs/spec/credentials.md §1).
INVALID_ISSUER_KEYS = {
    "the point at infinity": bytes([0xC0]) + bytes(95),
    "outside the G2 subgroup": bls_points.non_subgroup_g2(),
    "x >= p": bls_points.encode_g2((bls_points.P, 0)),
    "no compression flag": bytes([_G2[0] & 0x7F]) + _G2[1:],
}


@pytest.mark.parametrize("what", list(INVALID_ISSUER_KEYS))
def test_a_manifest_with_an_invalid_issuer_key_is_refused(
    svc: Service, force: Force, what: str
) -> None:
    inst = Institution()
    manifest = json.loads(inst.process("pet", "petition"))
    issuer = dict(manifest["issuer"], public_key=b64encode(INVALID_ISSUER_KEYS[what]))
    leaf = _resigned(inst.process("pet", "petition"), inst.key, issuer=issuer)
    assert_error(svc.post(leaf), 400, "bad_issuer_key")
    assert svc.client.get("/processes").json() == []

    # forced into a log: the manifest itself is the finding, not only its ballots
    forced = force([leaf, Citizen.enrol(inst, "pet").ballot()])
    found = forced.audit()
    _named_entry(forced, _finding(found, 4, "bad_issuer_key", 0), leaf)
    _finding(found, 6, "unknown_process", 1)
    assert "bad_credential" not in [f.code for f in found.findings]
