"""docs/ is normative: its tables of codes, fields and limits are walked here
against the code, so that they cannot drift apart.

- every refusal code the code can give is stated in docs/, and every code a
  table of docs/spec names is one the code gives;
- the class and status docs/spec/entries.md gives a code are the class's;
- the fields of each kind of entry are exactly its table in entries.md, and
  the fields of a tally exactly the tables of counting.md;
- each limit of entries.md §1 holds at its value and is refused, with the
  code the table gives, one past it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import Citizen, Institution, authority_for, proposal, registry_knows
from tests.support.paths import ROOT
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic import process as process_rules
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import b64encode, decode_entry, signing_bytes
from urne.verifier.civic.process import Registry
from urne.verifier.errors import FormatError, VerificationError

SPEC = ROOT / "docs" / "spec"
SOURCES = [ROOT / "verifier", ROOT / "ledger", ROOT / "api"]

# -- reading the docs -----------------------------------------------------------------------

_TOKEN = re.compile(r"`([a-z][a-z0-9_]*)`")
#: design.md's tree of error classes: "├── Conflict   conflict   409"
_TREE = re.compile(r"── +[A-Za-z]+ +([a-z][a-z0-9_]*)\b")


def tables(path: Path) -> list[list[dict[str, str]]]:
    """Every markdown table of ``path``: its rows as {lower-case header: cell}."""
    out: list[list[dict[str, str]]] = []
    header: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in stripped.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            out.append([])
        elif set("".join(cells)) <= set("-: "):
            continue
        else:
            out[-1].append(dict(zip(header, cells, strict=False)))
    return out


def section(path: Path, heading: str) -> str:
    """The text of the ``## `` section whose title starts with ``heading``."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}")
    end = text.find("\n## ", start + 4)
    return text[start : end if end >= 0 else len(text)]


def documented_codes() -> set[str]:
    found: set[str] = set()
    for page in (ROOT / "docs").rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        found |= set(_TOKEN.findall(text)) | set(_TREE.findall(text))
    return found


# -- reading the code -------------------------------------------------------------------------

_API_ERRORS = (
    "BadRequest|Unauthorized|Forbidden|Missing|Conflict|PayloadTooLarge|"
    "UnsupportedMediaType|TooManyRequests|ApiError|BallotConstraintError|_could_not_check"
)
_CODE_PATTERNS = [
    re.compile(r'\bcode\s*=\s*"([a-z][a-z0-9_]*)"'),
    re.compile(rf'\b(?:{_API_ERRORS})\(\s*"([a-z][a-z0-9_]*)"'),
]
_CODE_CONSTANT = re.compile(r"\bcode\s*=\s*([A-Z][A-Z0-9_]*)\b")


def emitted_codes() -> dict[str, set[str]]:
    """Every code the code can give, with the files that give it: ``code="x"``
    (keyword or class attribute), the first argument of an API error or a
    budget constraint, or a module constant passed as ``code=``."""
    found: dict[str, set[str]] = {}
    for root in SOURCES:
        for path in root.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            codes = {m for pattern in _CODE_PATTERNS for m in pattern.findall(text)}
            for name in _CODE_CONSTANT.findall(text):
                constant = re.search(rf'^{name}\s*=\s*"([a-z][a-z0-9_]*)"', text, re.M)
                assert constant is not None, f"{path}: code={name} names no string constant"
                codes.add(constant.group(1))
            for code in codes:
                found.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_code_scanner_finds_what_it_must() -> None:
    """The scanner is not vacuous: codes given each way are found."""
    found = emitted_codes()
    for code in (
        "unreserved_process",  # code="..."
        "process_reserved",  # Conflict("...", ...)
        "over_budget",  # BallotConstraintError("...", ...)
        "not_served",  # code=NOT_SERVED
        "io_error",  # _could_not_check("...", ...)
        "malformed",  # a class attribute
    ):
        assert code in found, code
    assert len(found) > 100


# -- codes ---------------------------------------------------------------------------------


def test_every_code_the_code_can_give_is_documented() -> None:
    documented = documented_codes()
    missing = {code: sorted(where) for code, where in emitted_codes().items()}
    missing = {code: where for code, where in missing.items() if code not in documented}
    assert missing == {}


def test_every_code_in_a_table_of_the_spec_is_one_the_code_gives() -> None:
    emitted = emitted_codes()
    unknown = []
    for page in sorted(SPEC.glob("*.md")):
        for table in tables(page):
            for row in table:
                column = next((v for k, v in row.items() if k == "code"), "")
                unknown += [f"{page.name}: {c}" for c in _TOKEN.findall(column) if c not in emitted]
    assert unknown == []


_CLASSES: dict[str, type[VerificationError]] = {
    "FormatError": FormatError,
    "EntryRefused": process_rules.EntryRefused,
    "EntryConflict": process_rules.EntryConflict,
    "NotAuthorized": process_rules.NotAuthorized,
    "UnknownProcess": process_rules.UnknownProcess,
}


def test_the_class_and_status_entries_md_gives_each_code_are_the_classes() -> None:
    rows = [row for table in tables(SPEC / "entries.md") for row in table if "class, status" in row]
    assert len(rows) >= 10
    for row in rows:
        name, _, status = row["class, status"].partition(",")
        cls = _CLASSES[name.strip().strip("`")]
        assert cls.status == int(status.strip()), row
        for code in _TOKEN.findall(row["code"]):
            assert code in emitted_codes(), code


# -- fields --------------------------------------------------------------------------------


def _fields_of(heading: str) -> set[str]:
    """The field names of the ``| field | value |`` table of entries.md's
    section ``heading``: the backticked names of its first column, and for
    the "exactly one of" row of a paper batch, those of its value."""
    names: set[str] = set()
    inside = False
    for line in section(SPEC / "entries.md", heading).splitlines():
        if line.startswith("| field |"):
            inside = True
            continue
        if not inside or line.startswith("|---"):
            continue
        if not line.startswith("|"):
            break
        first, value = (c.strip() for c in line.strip().strip("|").split("|")[:2])
        if first == "exactly one of":
            names |= {n for n in _TOKEN.findall(value) if n in {"signatures", "counts", "ballots"}}
        else:
            names |= set(_TOKEN.findall(first))
    assert names, heading
    return names


COMMON = {"v", "kind", "sig"}


def _kinds() -> dict[str, list[dict[str, Any]]]:
    """One real entry (or several) of each kind, as objects."""
    operator, inst = AuthorKey.generate(), Institution()
    manifests = [
        inst.process("pet", "petition"),
        inst.process("vote", "vote"),
        inst.process("bud", "budget"),
        inst.process("ans", "vote", answers={"by": "2026-12-31T00:00:00Z", "proposals": ["a"]}),
        inst.process(
            "fc",
            "petition",
            eligibility={
                "provider": "https://auth.franceconnect.gouv.fr/api/v2",
                "name": "FranceConnect",
                "rules": [{"claim": "birthdate", "min_age": 16}],
            },
        ),
    ]
    citizen = Citizen.enrol(inst, "vote")
    registration = authority_for(manifests[0], operator, registered=lambda key: False)
    return {
        "institution": [json.loads(registration[0])],
        "reservation": [json.loads(registration[1])],
        "process": [json.loads(m) for m in manifests],
        "ballot": [
            json.loads(citizen.ballot(["a"])),
            json.loads(
                authoring.graded_ballot("mj", citizen.pseudonym, citizen.credential, ["good"])
            ),
            json.loads(Citizen.enrol(inst, "pet").ballot()),
        ],
        "paper": [
            json.loads(inst.paper("pet", "b1", signatures=3)),
            json.loads(inst.paper("vote", "b1", counts={"a": 1})),
            json.loads(inst.paper("bud", "b1", ballots=[["park"]])),
        ],
        "result": [json.loads(inst.result("pet", 3, {"process": "pet"}))],
    }


@pytest.mark.parametrize(
    ("kind", "heading", "optional"),
    [
        ("process", "2. `process`", {"answers", "eligibility"}),
        ("ballot", "3. `ballot`", {"choice", "grades"}),
        ("paper", "4. `paper`", {"signatures", "counts", "ballots"}),
        ("result", "6. `result`", set()),
        ("institution", "8. `institution`", set()),
        ("reservation", "9. `reservation`", set()),
    ],
)
def test_the_fields_of_each_kind_are_its_table(kind: str, heading: str, optional: set[str]) -> None:
    documented = _fields_of(heading)
    seen: set[str] = set()
    for obj in _kinds()[kind]:
        fields = set(obj) - COMMON
        seen |= fields
        assert fields <= documented, (kind, fields - documented)
        assert documented - optional <= fields, (kind, documented - optional - fields)
    assert seen == documented  # every documented field occurs in some real entry


def test_a_close_is_the_object_entries_md_shows() -> None:
    text = section(SPEC / "entries.md", "5. `close`")
    shown = set(re.findall(r'"([a-z]+)":', text))
    assert shown == set(json.loads(authoring.close("pet", AuthorKey.generate())))


def _tally_tables() -> dict[str, set[str]]:
    """counting.md §2: the common fields, and those of each type."""
    text = section(SPEC / "counting.md", "2. The tally object")
    out: dict[str, set[str]] = {}
    label = ""
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith("|"):
            label = line.rstrip(":").split()[0].lower()
        elif line.startswith("| `"):
            out.setdefault(label, set()).update(_TOKEN.findall(line.split("|")[1]))
    return out


def test_the_fields_of_a_tally_are_the_tables_of_counting_md() -> None:
    documented = _tally_tables()
    assert set(documented) == {"common", "petition", "vote", "budget", "sortition"}
    operator, inst = AuthorKey.generate(), Institution()
    registry = Registry(None, operator=operator.public_key)
    index = 0

    def admit(leaf: bytes) -> None:
        nonlocal index
        if decode_entry(leaf).kind == "process":
            for first in authority_for(leaf, operator, registered=registry_knows(registry)):
                registry.admit(decode_entry(first), index)
                index += 1
        registry.admit(decode_entry(leaf), index)
        index += 1

    for pid, ptype in (("pet", "petition"), ("vote", "vote"), ("bud", "budget")):
        admit(inst.process(pid, ptype))
    admit(Citizen.enrol(inst, "vote").ballot(["a"]))
    admit(Citizen.enrol(inst, "bud").ballot(["park"]))
    for pid, ptype in (("pet", "petition"), ("vote", "vote"), ("bud", "budget")):
        tally = registry.tally(pid, index - 1)
        assert set(tally) == documented["common"] | documented[ptype], ptype
    from tests.support.sortition import pool_file, rule

    panel = Institution(officials=[])
    opens = "2024-01-01T00:00:00Z"
    drawn = rule(pool_file(40), 5)
    admit(panel.process("draw", "sortition", rule=drawn, proposals=[], opens=opens))
    tally = registry.tally("draw", index - 1)
    assert set(tally) == documented["common"] | documented["sortition"]
    # the budget's "rule" is the outcome rule's name, as the table says
    budget = registry.tally("bud", index - 1)
    assert budget["rule"] == "greedy" and set(budget["approvals"]) == {"park", "bikes", "bench"}


# -- limits ---------------------------------------------------------------------------------


def _resigned(leaf: bytes, key: AuthorKey, **change: Any) -> bytes:
    """``leaf`` changed and signed again, with bytes of our own making
    (``sign_entry`` refuses to sign what the log refuses)."""
    body = {k: v for k, v in json.loads(leaf).items() if k != "sig"}
    body.update(change)
    return canonical({**body, "sig": b64encode(key.sign(signing_bytes(body)))})


def _code(leaf: bytes) -> str | None:
    try:
        decode_entry(leaf)
    except VerificationError as exc:
        return exc.code
    return None


def _manifest(inst: Institution, **change: Any) -> bytes:
    return _resigned(inst.process("p", "vote"), inst.key, **change)


def _probe_entry(code: str, tmp: Path) -> None:
    from tests.support.service import assert_error, open_service

    inst = Institution()
    base = len(_manifest(inst, text="x"))
    at_limit = _manifest(inst, text="x" * (1 + 65_535 - base))
    over = _manifest(inst, text="x" * (2 + 65_535 - base))
    assert (len(at_limit), len(over)) == (65_535, 65_536)
    for svc in open_service(tmp):
        # at the limit the entry is read and decided (here: no reservation)
        assert_error(svc.post(at_limit), 403, "unreserved_process")
        assert_error(svc.post(over), 413, code)
        assert svc.log.size == 0


def _probe_integer(code: str, tmp: Path) -> None:
    inst = Institution()
    at = _manifest(inst, rule={"method": "single", "min": 1, "max": 1, "revoting": False})
    assert _code(at) is None
    leaf = inst.paper("p", "b1", signatures=2**53 - 1)
    assert _code(leaf) is None
    over = leaf.replace(b'"signatures":9007199254740991', b'"signatures":9007199254740992')
    assert over != leaf and _code(over) == code


def _probe_identifier(code: str, tmp: Path) -> None:
    inst = Institution()
    assert _code(_manifest(inst, id="a" * 128)) is None
    assert _code(_manifest(inst, id="a" * 129)) == code
    assert _code(_manifest(inst, id="-a")) == code


def _probe_text(code: str, tmp: Path) -> None:
    inst = Institution()
    assert _code(_manifest(inst, text="x" * 60_000)) is None
    assert _code(_manifest(inst, text="")) == code
    # 100,000 characters do not fit an entry; the decoder's own limit is the table's
    with pytest.raises(FormatError) as e:
        decode_entry(_manifest(inst, text="é" * 100_001))
    assert e.value.code == code


def _probe_translations(code: str, tmp: Path) -> None:
    inst = Institution()
    assert _code(_manifest(inst, text={"fr": "Oui", "en": "Yes"})) is None
    assert _code(_manifest(inst, text={})) == code
    assert _code(_manifest(inst, text={"fr": 1})) == code


def _probe_official(code: str, tmp: Path) -> None:
    inst = Institution()
    key = b64encode(inst.officials[0].public_key)
    assert _code(_manifest(inst, officials=[{"name": "n" * 200, "key": key}])) is None
    assert _code(_manifest(inst, officials=[{"name": "n" * 201, "key": key}])) == code
    assert _code(_manifest(inst, officials=[{"name": {"en": "Desk"}, "key": key}])) == code


def _probe_proposals(code: str, tmp: Path) -> None:
    inst = Institution()
    many = [proposal(f"p{i}", "P") for i in range(10_001)]
    rule = {"method": "approval", "min": 0, "max": 1, "revoting": False}
    assert _code(_manifest(inst, proposals=many[:10_000], rule=rule)) is None
    assert _code(_manifest(inst, proposals=many, rule=rule)) == code


def _probe_shares(code: str, tmp: Path) -> None:
    inst = Institution()
    issuer = json.loads(inst.process("p", "vote"))["issuer"]
    assert _code(_manifest(inst, issuer=dict(issuer, threshold=255, shares=255))) is None
    assert _code(_manifest(inst, issuer=dict(issuer, threshold=1, shares=256))) == code
    assert _code(_manifest(inst, issuer=dict(issuer, threshold=3, shares=2))) == code


PROBES: dict[str, Callable[[str, Path], None]] = {
    "an entry": _probe_entry,
    "an integer": _probe_integer,
    "an identifier": _probe_identifier,
    "a text given as a string": _probe_text,
    "a text given as translations": _probe_translations,
    "an official's name": _probe_official,
    "proposals of a manifest": _probe_proposals,
    "issuer shares": _probe_shares,
}


def _limits() -> list[dict[str, str]]:
    rows = [row for table in tables(SPEC / "entries.md") for row in table if "limit" in row]
    assert rows
    return rows


def test_every_limit_of_entries_md_has_a_probe() -> None:
    assert {row["what"] for row in _limits()} == set(PROBES)


@pytest.mark.parametrize("what", sorted(PROBES))
def test_each_limit_holds_and_is_refused_one_past_it(what: str, tmp_path: Path) -> None:
    row = next(r for r in _limits() if r["what"] == what)
    codes = _TOKEN.findall(row["refused as"])
    assert len(codes) == 1, row
    PROBES[what](codes[0], tmp_path)


def test_signing_refuses_what_the_log_refuses() -> None:
    """The probes above make their bytes by hand because the signing helper
    refuses to sign an entry the log would refuse."""
    inst = Institution()
    body = {k: v for k, v in json.loads(inst.process("p", "vote")).items() if k != "sig"}
    with pytest.raises(FormatError):
        sign_entry({**body, "id": "a" * 129}, inst.key)
