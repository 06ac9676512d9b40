"""``urne.verifier.check.opendata``: the byte-exact writers of ``entries.jsonl`` and
``results.csv``, and the offline check of a process's export, which accepts a
real export and refuses every tampering with a stable code and a message that
names the line."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import Citizen, Institution, authority_for
from tests.support.world import World, build_world
from urne.ledger.civic.opendata import entries_jsonl, open_export, results_csv_bytes
from urne.ledger.log import Log
from urne.ledger.log.keys import load_or_create_log_key
from urne.verifier.check.opendata import (
    ExportReport,
    Outcome,
    check_export,
    check_results_csv,
    entry_line,
    header_line,
    parse_header,
    results_csv,
)
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import OperatorKey
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import decode_entry
from urne.verifier.errors import VerificationError
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.tlog.rfc9162 import hash_leaf

# --------------------------------------------------------------------------
# The writers, byte for byte
# --------------------------------------------------------------------------


def test_header_line_is_canonical_json_and_a_newline() -> None:
    line = header_line(
        process="vote-2026",
        origin="city.example/log",
        log_key="city.example/log+0a1b2c3d+AQ==",
        checkpoint="city.example/log\n7\nROOT=\n\n\u2014 city.example/log SIG=\n",
        entries=3,
    )
    assert line == (
        b'{"checkpoint":"city.example/log\\n7\\nROOT=\\n\\n\xe2\x80\x94 city.example/log SIG=\\n",'
        b'"entries":3,"log_key":"city.example/log+0a1b2c3d+AQ==","origin":"city.example/log",'
        b'"process":"vote-2026","v":1}\n'
    )
    header = parse_header(line)
    assert (header.process, header.entries) == ("vote-2026", 3)


def test_entry_line_holds_the_entry_verbatim() -> None:
    entry = b'{"a":"\xc3\xa9","b":[1,2],"kind":"x"}'
    line = entry_line(41, entry, b"\x00" * 32, [b"\x01" * 32, b"\xff" * 32])
    assert line == (
        b'{"entry":{"a":"\xc3\xa9","b":[1,2],"kind":"x"},"inclusion_proof":['
        b'"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",'
        b'"//////////////////////////////////////////8="],"index":41,'
        b'"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}\n'
    )
    # exactly the canonical JSON of the object, as the checker parses it
    assert line == canonical(json.loads(line)) + b"\n"
    assert entry_line(0, entry, b"\x00" * 32, []).startswith(
        b'{"entry":{"a":"\xc3\xa9","b":[1,2],"kind":"x"},"inclusion_proof":[],"index":0,'
    )
    # a real entry (signed, with a nested tally) too
    inst = Institution()
    leaf = inst.result("p", 3, {"counts": {"a": 1}, "total": 1, "reached_at": None})
    real = entry_line(4, leaf, hash_leaf(leaf), [b"\x02" * 32])
    assert real == canonical(json.loads(real)) + b"\n"
    assert canonical(json.loads(real)["entry"]) == leaf


def _process(ptype: str, proposals: list[dict[str, Any]], title: Any = None) -> Any:
    inst = Institution()
    leaf = inst.process("p-1", ptype, proposals=proposals)
    p = decode_entry(leaf).body
    if title is not None:
        obj = json.loads(leaf)
        obj["title"] = title
        obj.pop("sig")
        from urne.verifier.citizen.signing import sign_entry

        p = decode_entry(sign_entry(obj, inst.key)).body
    return p


def test_results_csv_of_a_vote_rfc4180_and_no_formula() -> None:
    props = [
        authoring.proposal("a", '=HYPERLINK("http://x")', "A"),
        authoring.proposal("b", {"en": 'Say "yes", twice', "fr": "+1\r\nou -1"}, "B"),
        authoring.proposal("c", {"en": "@SUM(A1)", "de": "\tTab"}, "C"),
    ]
    p = _process("vote", props)
    tally = {
        "counts": {"a": 3, "b": 0, "c": 3},
        "paper_counts": {"a": 0, "b": 2, "c": 0},
        "total": {"a": 3, "b": 2, "c": 3},
        "winners": ["a", "c"],
    }
    fa, fb, fc = (q["fingerprint"] for q in props)
    got = b"".join(results_csv(Outcome(p, tally, 17, None)))
    assert (
        got
        == (
            "process,status,result_index,through,proposal,title,title/de,title/en,title/fr,"
            "fingerprint,online,paper,total,winner\r\n"
            f'p-1,provisional,,17,a,"\'=HYPERLINK(""http://x"")",,,,{fa},3,0,3,true\r\n'
            f'p-1,provisional,,17,b,,,"Say ""yes"", twice","\'+1\r\nou -1",{fb},0,2,2,false\r\n'
            f"p-1,provisional,,17,c,,'\tTab,'@SUM(A1),,{fc},3,0,3,true\r\n"
        ).encode()
    )
    published = b"".join(results_csv(Outcome(p, tally, 17, 20)))
    assert published.split(b"\r\n")[1].startswith(b"p-1,published,20,17,a,")


def test_results_csv_of_a_petition_and_a_budget() -> None:
    pet = _process("petition", [], title={"fr": "-Moins", "en": "Plain, with comma"})
    tally = {
        "signatures": 3,
        "paper_signatures": 4,
        "total": 7,
        "threshold": 5,
        "reached": True,
        "reached_at": 9,
    }
    assert b"".join(results_csv(Outcome(pet, tally, 11, 12))) == (
        b"process,status,result_index,through,title/en,title/fr,signatures,paper_signatures,"
        b"total,threshold,reached,reached_at\r\n"
        b'p-1,published,12,11,"Plain, with comma",\'-Moins,3,4,7,5,true,9\r\n'
    )
    unreached = dict(tally, reached=False, reached_at=None)
    assert b"".join(results_csv(Outcome(pet, unreached, 11, None))).endswith(
        b'p-1,provisional,,11,"Plain, with comma",\'-Moins,3,4,7,5,false,\r\n'
    )
    props = [
        authoring.proposal("park", "A park", "P", cost=600),
        authoring.proposal("bikes", "Bike lanes", "B", cost=300),
    ]
    bud = _process("budget", props)
    tally = {"approvals": {"park": 1, "bikes": 4}, "selected": ["bikes"], "spent": 300}
    fp, fb = (q["fingerprint"] for q in props)
    assert (
        b"".join(results_csv(Outcome(bud, tally, 30, None)))
        == (
            "process,status,result_index,through,proposal,title,fingerprint,cost,approvals,"
            "selected\r\n"
            f"p-1,provisional,,30,park,A park,{fp},600,1,false\r\n"
            f"p-1,provisional,,30,bikes,Bike lanes,{fb},300,4,true\r\n"
        ).encode()
    )


# --------------------------------------------------------------------------
# The checker on a real export
# --------------------------------------------------------------------------


@dataclass
class Exported:
    world: World
    key: Ed25519Verifier
    lines: dict[str, list[bytes]]
    csv: dict[str, bytes]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    tmp = tmp_path_factory.mktemp("opendata-check")
    with Log.open(
        f"sqlite:///{tmp / 'log.db'}", key_dir=tmp / "keys", origin="check.example/log"
    ) as log:
        w = build_world(log, fillers=120, sparse_every=10)
        lines, csv = {}, {}
        for pid in ("vote", "pet", "bud"):
            export = open_export(w.civic, pid)
            lines[pid] = list(entries_jsonl(export))
            csv[pid] = results_csv_bytes(export)
        yield Exported(w, log.verifier, lines, csv)


def _refused(lines: list[bytes], key: Ed25519Verifier, code: str, where: str) -> VerificationError:
    with pytest.raises(VerificationError) as exc:
        check_export(lines, key)
    assert exc.value.code == code, f"{exc.value.code}: {exc.value}"
    assert where in str(exc.value), str(exc.value)
    return exc.value


def _edit(line: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    obj = json.loads(line)
    change(obj)
    return canonical(obj) + b"\n"


def _kind_at(lines: list[bytes], kind: str, nth: int = 0) -> int:
    """The position (0 is the header) of the nth entry line of this kind."""
    found = [k for k, x in enumerate(lines) if k and json.loads(x)["entry"]["kind"] == kind]
    return found[nth]


def test_a_real_export_is_accepted(exported: Exported) -> None:
    for pid, lines in exported.lines.items():
        report = check_export(lines, exported.key)
        assert report.entries == len(lines) - 1 == len(exported.world.indices[pid])
        assert report.first_index == exported.world.indices[pid][0]
        assert report.last_index == exported.world.indices[pid][-1]
        check_results_csv(report, exported.csv[pid])
    pet = check_export(exported.lines["pet"], exported.key)
    assert pet.outcome is not None and pet.outcome.status == "published"
    assert pet.credentials_checked == len(exported.world.citizens["pet"]) > 0


def test_changed_entry(exported: Exported) -> None:
    lines = list(exported.lines["vote"])
    k = _kind_at(lines, "ballot", 2)
    lines[k] = _edit(lines[k], lambda o: o["entry"].update(seq=o["entry"]["seq"] + 100))
    _refused(lines, exported.key, "leaf_hash_mismatch", f"line {k + 1} (index ")


def test_changed_leaf_hash(exported: Exported) -> None:
    lines = list(exported.lines["vote"])
    other = json.loads(lines[2])["leaf_hash"]
    lines[3] = _edit(lines[3], lambda o: o.update(leaf_hash=other))
    _refused(lines, exported.key, "leaf_hash_mismatch", "line 4 (index ")


def test_changed_entry_and_leaf_hash_together(exported: Exported) -> None:
    lines = list(exported.lines["pet"])
    k = _kind_at(lines, "paper")

    def change(o: dict[str, Any]) -> None:
        o["entry"]["signatures"] = 400
        o["leaf_hash"] = base64.b64encode(hash_leaf(canonical(o["entry"]))).decode()

    lines[k] = _edit(lines[k], change)
    _refused(lines, exported.key, "root_mismatch", f"line {k + 1} (index ")


def test_wrong_proof(exported: Exported) -> None:
    lines = list(exported.lines["bud"])
    proof = json.loads(lines[5])["inclusion_proof"]
    swapped = [proof[1], proof[0], *proof[2:]]
    _refused(
        [*lines[:5], _edit(lines[5], lambda o: o.update(inclusion_proof=swapped)), *lines[6:]],
        exported.key,
        "root_mismatch",
        "line 6 (index ",
    )
    short = proof[:-1]
    _refused(
        [*lines[:5], _edit(lines[5], lambda o: o.update(inclusion_proof=short)), *lines[6:]],
        exported.key,
        "bad_proof_length",
        "line 6 (index ",
    )
    moved = _edit(lines[5], lambda o: o.update(index=o["index"] + 1))
    _refused([*lines[:5], moved, *lines[6:]], exported.key, "root_mismatch", "line 6")


def test_dropped_line(exported: Exported) -> None:
    vote = exported.lines["vote"]  # no result: only the count can tell
    k = _kind_at(vote, "ballot", 5)
    err = _refused([*vote[:k], *vote[k + 1 :]], exported.key, "bad_export", "line 1")
    assert "cut short or lines were dropped" in str(err)
    pet = exported.lines["pet"]  # a published result: its recount differs first
    k = _kind_at(pet, "ballot", 1)
    r = _kind_at(pet, "result") - 1
    _refused([*pet[:k], *pet[k + 1 :]], exported.key, "wrong_result", f"line {r + 1} (index ")
    m = _kind_at(vote, "process")
    _refused([*vote[:m], *vote[m + 1 :]], exported.key, "no_manifest", f"line {m + 1}")
    # without the registration of its institution, the reservation has no authority
    _refused(vote[:1] + vote[2:], exported.key, "unregistered_institution", "line 2")


def test_reordered_lines(exported: Exported) -> None:
    lines = list(exported.lines["vote"])
    lines[4], lines[5] = lines[5], lines[4]
    err = _refused(lines, exported.key, "bad_export", "line 6 (index ")
    assert "does not follow" in str(err)
    original = exported.lines["vote"]
    again = [*original[:6], original[5], *original[6:]]  # one line twice
    _refused(again, exported.key, "bad_export", "line 7 (index ")


def test_foreign_process(exported: Exported) -> None:
    """A line of another process's export, proven by the same checkpoint, put
    where its index belongs."""
    vote, bud = exported.lines["vote"], exported.lines["bud"]
    foreign = bud[-1]
    index = json.loads(foreign)["index"]
    at = next(k for k, x in enumerate(vote) if k and json.loads(x)["index"] > index)
    _refused([*vote[:at], foreign, *vote[at:]], exported.key, "wrong_process", f"line {at + 1}")
    # a whole other export under this header: the registration of the same
    # institution passes, the reservation of another process does not
    _refused([vote[0], *bud[1:]], exported.key, "wrong_process", "line 3 (index ")


def test_wrong_header_count(exported: Exported) -> None:
    lines = list(exported.lines["pet"])
    for n in (len(lines) - 2, len(lines)):
        header = _edit(lines[0], lambda o, n=n: o.update(entries=n))  # type: ignore[misc]
        err = _refused([header, *lines[1:]], exported.key, "bad_export", "line 1")
        assert f"announces {n} entries" in str(err)
    zero = _edit(lines[0], lambda o: o.update(entries=0))
    _refused([zero, *lines[1:]], exported.key, "bad_export", "line 1")


def test_wrong_checkpoint_signature_or_key(exported: Exported, tmp_path: Path) -> None:
    lines = list(exported.lines["vote"])
    other = load_or_create_log_key(tmp_path, "check.example/log").verifier
    _refused(lines, other, "wrong_log_key", "line 1")

    def sign_with_other_key(o: dict[str, Any]) -> None:
        o["log_key"] = other.vkey

    _refused([_edit(lines[0], sign_with_other_key), *lines[1:]], other, "unknown_key", "line 1")


def test_checkpoint_signature_tampered(exported: Exported) -> None:
    lines = list(exported.lines["vote"])

    def flip(o: dict[str, Any]) -> None:
        body, _, sig = o["checkpoint"].rpartition(" ")
        raw = bytearray(base64.b64decode(sig))
        raw[-1] ^= 1
        o["checkpoint"] = body + " " + base64.b64encode(bytes(raw)).decode() + "\n"

    with pytest.raises(VerificationError) as exc:
        check_export([_edit(lines[0], flip), *lines[1:]], exported.key)
    assert exc.value.code in ("bad_signature", "no_trusted_signature") or "signature" in str(
        exc.value
    )
    assert str(exc.value).startswith("line 1:")

    def other_size(o: dict[str, Any]) -> None:
        origin, size, rest = o["checkpoint"].split("\n", 2)
        o["checkpoint"] = f"{origin}\n{int(size) + 1}\n{rest}"

    with pytest.raises(VerificationError) as exc:
        check_export([_edit(lines[0], other_size), *lines[1:]], exported.key)
    assert str(exc.value).startswith("line 1:")


def test_results_csv_modified(exported: Exported) -> None:
    report = check_export(exported.lines["bud"], exported.key)
    csv = exported.csv["bud"]
    changed = csv.replace(b",true\r\n", b",false\r\n", 1)
    assert changed != csv
    with pytest.raises(VerificationError) as exc:
        check_results_csv(report, changed)
    assert exc.value.code == "wrong_results_csv" and "results.csv line " in str(exc.value)
    with pytest.raises(VerificationError) as exc:
        check_results_csv(report, csv + b"x,y\r\n")
    assert exc.value.code == "wrong_results_csv"
    with pytest.raises(VerificationError) as exc:  # the CSV of another process
        check_results_csv(report, exported.csv["vote"])
    assert exc.value.code == "wrong_results_csv" and "results.csv line 1" in str(exc.value)
    with pytest.raises(VerificationError) as exc:
        check_results_csv(ExportReport("x", "o", report.checkpoint), csv)
    assert exc.value.code == "no_export_checked"


def test_cut_file(exported: Exported) -> None:
    data = b"".join(exported.lines["vote"])
    n = len(exported.lines["vote"])
    cut = data[: len(data) - 10].splitlines(keepends=True)
    _refused(cut, exported.key, "bad_export", f"line {n} does not end with a newline")
    at_line = b"".join(exported.lines["vote"][:-3]).splitlines(keepends=True)
    _refused(at_line, exported.key, "bad_export", "cut short")
    _refused([], exported.key, "bad_export", "empty")
    _refused(exported.lines["vote"][:1], exported.key, "no_manifest", "no manifest")


def test_crlf_and_other_bytes(exported: Exported) -> None:
    lines = list(exported.lines["vote"])
    crlf = [x[:-1] + b"\r\n" for x in lines]
    _refused(crlf, exported.key, "bad_export", "line 1 ends with CR LF")
    one = [*lines[:3], lines[3][:-1] + b"\r\n", *lines[4:]]
    _refused(one, exported.key, "bad_export", "line 4 ends with CR LF")
    spaced = lines[2].replace(b'{"entry":', b'{ "entry":', 1)
    _refused([*lines[:2], spaced, *lines[3:]], exported.key, "not_canonical", "line 3")
    extra = _edit(lines[2], lambda o: o.update(note="x"))
    _refused([*lines[:2], extra, *lines[3:]], exported.key, "bad_export", "line 3")
    blank = [*lines, b"\n"]
    _refused(blank, exported.key, "malformed_json", f"line {len(lines) + 1}")
    v2 = _edit(lines[0], lambda o: o.update(v=2))
    _refused([v2, *lines[1:]], exported.key, "bad_export", "line 1: export version 2")


def test_forged_credential_on_a_log_that_accepts_anything(tmp_path: Path) -> None:
    """A log without the civic rules (so it holds what the service refuses):
    lines written with the same writers, refused on the credential's line."""
    inst = Institution()
    with Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k") as log:
        manifest = inst.process("v", "vote")
        leaves = authority_for(manifest, OperatorKey(log.signer), registered=lambda key: False)
        leaves.append(manifest)
        honest = [Citizen.enrol(inst, "v") for _ in range(3)]
        leaves += [c.ballot(["a"]) for c in honest]
        forger = Citizen.enrol(inst, "v")
        leaves.append(forger.ballot(["b"], credential=honest[0].credential))
        log.append_many(leaves)
        cp = log.checkpoint()
        lines = [
            header_line(
                process="v",
                origin=log.origin,
                log_key=log.verifier.vkey,
                checkpoint=cp.text,
                entries=len(leaves),
            )
        ] + [
            entry_line(i, x, hash_leaf(x), log.inclusion_proof(i, cp.size))
            for i, x in enumerate(leaves)
        ]
        _refused(lines, log.verifier, "bad_credential", "line 8 (index 6)")
        _refused(lines[:7], log.verifier, "bad_export", "announces 7 entries")
