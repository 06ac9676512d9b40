"""The pabulib parser: every real file in vectors/pabulib/, pabutools' reading of them,
the format's corners, and clean refusals of what is malformed or unsupported."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from tests.support.paths import VECTORS
from urne.verifier.civic import pabulib
from urne.verifier.civic.pabulib import (
    PabulibInstance,
    UnsupportedPabulib,
    parse_pabulib,
    parse_pabulib_text,
)
from urne.verifier.errors import FormatError, VerificationError

PABULIB = VECTORS / "pabulib"
FILES = sorted(p.name for p in PABULIB.glob("*.pb")) if PABULIB.is_dir() else []


@pytest.fixture(scope="module")
def expected(vectors_dir: Path) -> dict[str, dict[str, object]]:
    with open(vectors_dir / "pabulib" / "expected_outcomes.json", encoding="utf-8") as fh:
        outcomes: dict[str, dict[str, object]] = json.load(fh)["outcomes"]
    return outcomes


def test_all_lists_the_public_names() -> None:
    public = {
        name
        for name, value in vars(pabulib).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == pabulib.__name__
    }
    assert set(pabulib.__all__) == public


def test_every_vector_file_is_listed(expected: dict[str, dict[str, object]]) -> None:
    assert len(FILES) == 9
    assert sorted(expected) == FILES


@pytest.mark.parametrize("name", FILES)
def test_real_files_parse_consistently(name: str, vectors_dir: Path) -> None:
    instance = parse_pabulib(vectors_dir / "pabulib" / name)
    assert isinstance(instance, PabulibInstance)
    assert instance.vote_type == "approval"
    assert len(instance.projects) == int(instance.meta["num_projects"])
    assert len(instance.ballots) == int(instance.meta["num_votes"])
    assert instance.budget == Fraction(instance.meta["budget"].replace(",", "."))
    assert len(set(instance.voter_ids)) == len(instance.voter_ids)
    ids = {p.project_id for p in instance.projects}
    assert all(ballot <= ids for ballot in instance.ballots)
    assert all(p.cost > 0 for p in instance.projects)
    # the 'votes' column, where present, is each project's number of approvals
    approvals = instance.election().approvals()
    for project in instance.projects:
        if "votes" in project.fields:
            assert int(project.fields["votes"]) == approvals[project.project_id]
    # bytes and text give the same instance
    text = (vectors_dir / "pabulib" / name).read_text(encoding="utf-8")
    again = parse_pabulib_text(text)
    assert again.ballots == instance.ballots
    assert again.projects == instance.projects


@pytest.mark.parametrize("name", FILES)
def test_real_files_read_as_pabutools_reads_them(name: str, vectors_dir: Path) -> None:
    election = pytest.importorskip("pabutools.election")
    path = vectors_dir / "pabulib" / name
    instance, profile = election.parse_pabulib(str(path))
    ours = parse_pabulib(path)
    assert Fraction(
        int(instance.budget_limit.numerator), int(instance.budget_limit.denominator)
    ) == (ours.budget)
    theirs = {p.name: Fraction(str(p.cost)) for p in instance}
    assert theirs == {p.project_id: p.cost for p in ours.projects}
    assert [frozenset(p.name for p in ballot) for ballot in profile] == list(ours.ballots)


def test_selected_flags_are_read() -> None:
    instance = parse_pabulib(PABULIB / "Netherlands_Assen_2024.pb")
    flags = {p.project_id: p.selected for p in instance.projects}
    assert set(flags.values()) == {0, 1}
    assert instance.selected_ids() == {p for p, f in flags.items() if f == 1}
    toulouse = parse_pabulib(PABULIB / "France_Toulouse_2022.pb")
    assert toulouse.selected_ids() == frozenset()
    assert all(p.selected is None for p in toulouse.projects)


def test_quoted_fields_keep_semicolons_and_quotes() -> None:
    wroclaw = parse_pabulib(PABULIB / "Poland_Wroclaw_2018.pb")
    names = {p.project_id: p.fields["name"] for p in wroclaw.projects}
    assert names["7"].startswith("Zielona rowerowo-piesza obwodnica Wrocławia; ETAP III")
    assert names["43"].startswith('"Miejskie tężnie. Czyste powietrze" - budowa')


# --------------------------------------------------------------------------- format corners

SMALL = (
    "META\nkey;value\ndescription;test\nnum_projects;3\nnum_votes;3\nbudget;{budget}\n"
    "vote_type;approval\nPROJECTS\nproject_id;cost;name;selected\n"
    '1;{cost};"a; b ""c""";1\n2;200;two;0\n3;300;three;None\n'
    "VOTES\nvoter_id;vote\nv1;1,2\nv2; 3 , 1 \nv3;\n"
)


def small(budget: str = "1000", cost: str = "100") -> str:
    return SMALL.format(budget=budget, cost=cost)


def test_small_file() -> None:
    instance = parse_pabulib_text(small())
    assert instance.budget == 1000
    assert [p.project_id for p in instance.projects] == ["1", "2", "3"]
    assert instance.projects[0].fields["name"] == 'a; b "c"'
    assert [p.selected for p in instance.projects] == [1, 0, None]
    assert instance.ballots == (frozenset({"1", "2"}), frozenset({"1", "3"}), frozenset())
    assert instance.voter_ids == ("v1", "v2", "v3")
    assert instance.meta["description"] == "test"
    election = instance.election()
    assert election.costs == {"1": 100, "2": 200, "3": 300}


@pytest.mark.parametrize(
    "transform",
    [
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t.replace("\n", "\r"),
        lambda t: "\ufeff" + t,
        lambda t: t.replace("\n", "\n\n"),
        lambda t: t.replace(";", "; ").replace("\n", " \n"),
        lambda t: t.replace("META", "meta").replace("VOTES", "Votes"),
    ],
    ids=["crlf", "cr", "bom", "blank-lines", "spaces", "title-case"],
)
def test_layout_variants_parse_the_same(transform: object) -> None:
    assert callable(transform)
    reference = parse_pabulib_text(small())
    variant = parse_pabulib_text(transform(small()))
    assert variant.ballots == reference.ballots
    assert [(p.project_id, p.cost) for p in variant.projects] == [
        (p.project_id, p.cost) for p in reference.projects
    ]
    assert variant.budget == reference.budget


def test_bom_in_bytes_and_decimal_amounts() -> None:
    data = ("\ufeff" + small(budget="1000,5", cost="100.25")).encode("utf-8")
    instance = parse_pabulib_text(data)
    assert instance.budget == Fraction(2001, 2)
    assert instance.projects[0].cost == Fraction(401, 4)


def test_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "x.pb"
    path.write_bytes(small().encode("utf-8"))
    assert parse_pabulib(path).budget == 1000
    assert parse_pabulib(str(path)).budget == 1000


def test_choose_one_is_read_as_approval() -> None:
    instance = parse_pabulib_text(small().replace("vote_type;approval", "vote_type;choose-1"))
    assert instance.vote_type == "choose-1"
    assert instance.ballots[0] == {"1", "2"}


# --------------------------------------------------------------------------- refusals

BROKEN = [
    ("no-meta", lambda t: t.replace("META\nkey;value\n", ""), "expected the META section"),
    ("order", lambda t: t.replace("PROJECTS", "XX").replace("VOTES", "PROJECTS"), "expected"),
    ("no-votes", lambda t: t.split("VOTES")[0], "found the end of the file"),
    ("no-budget", lambda t: t.replace("budget;1000\n", ""), "'budget'"),
    ("bad-budget", lambda t: t.replace("budget;1000", "budget;1 000"), "decimal number"),
    ("negative-cost", lambda t: t.replace("1;100;", "1;-100;"), "decimal number"),
    ("none-cost", lambda t: t.replace("1;100;", "1;None;"), "decimal number"),
    ("dup-project", lambda t: t.replace("3;300;three", "1;300;three"), "appears twice"),
    ("dup-voter", lambda t: t.replace("v2;", "v1;"), "voter 'v1' appears twice"),
    ("unknown-project", lambda t: t.replace("v1;1,2", "v1;1,7"), "found '7'"),
    ("twice-in-ballot", lambda t: t.replace("v1;1,2", "v1;1,2,1"), "approves a project twice"),
    ("field-count", lambda t: t.replace("2;200;two;0", "2;200;two"), "expected 4 fields"),
    ("no-cost-column", lambda t: t.replace("project_id;cost", "project_id;price"), "'cost'"),
    ("no-vote-column", lambda t: t.replace("voter_id;vote", "voter_id;ballot"), "'vote'"),
    ("count", lambda t: t.replace("num_votes;3", "num_votes;4"), "num_votes"),
    ("vote-type", lambda t: t.replace("vote_type;approval", "vote_type;plurality"), "vote_type"),
    ("no-vote-type", lambda t: t.replace("vote_type;approval\n", ""), "vote_type"),
    ("meta-header", lambda t: t.replace("key;value", "name;value"), "key;value"),
    ("meta-dup", lambda t: t.replace("budget;1000", "budget;1000\nbudget;2000"), "twice"),
    ("meta-extra", lambda t: t.replace("budget;1000", "budget;1000;x"), "key;value"),
    ("selected", lambda t: t.replace("two;0", "two;yes"), "integer flag"),
    ("quote", lambda t: t.replace('"a; b ""c"""', '"a; b "c"'), "not valid CSV"),
    ("before-meta", lambda t: "hello\n" + t, "META section first"),
]


@pytest.mark.parametrize(
    ("transform", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_malformed_files_are_refused(transform: object, message: str) -> None:
    assert callable(transform)
    with pytest.raises(FormatError) as info:
        parse_pabulib_text(transform(small()))
    assert message in str(info.value)
    assert info.value.code == "malformed"


@pytest.mark.parametrize("vote_type", ["ordinal", "cumulative", "scoring"])
def test_other_ballot_kinds_are_unsupported(vote_type: str) -> None:
    text = small().replace("vote_type;approval", f"vote_type;{vote_type}")
    with pytest.raises(UnsupportedPabulib) as info:
        parse_pabulib_text(text)
    assert info.value.code == "unsupported"
    assert vote_type in str(info.value)
    assert isinstance(info.value, FormatError)
    assert isinstance(info.value, VerificationError)


def test_not_utf8_is_refused() -> None:
    with pytest.raises(FormatError, match="expected UTF-8"):
        parse_pabulib_text(small().encode("utf-8") + b"\xff")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read"):
        parse_pabulib(tmp_path / "absent.pb")
