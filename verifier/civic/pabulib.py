"""Read participatory budgets in the pabulib ``.pb`` format.

Pabulib (https://pabulib.org/format; Faliszewski et al., "Participatory
Budgeting: Data, Tools, and Analysis", IJCAI 2023) stores one election per
UTF-8 file in three sections, in this order, each a title line (``META``,
``PROJECTS``, ``VOTES``) and a header line, then ``;``-separated rows with CSV
quoting (a field holding ``;`` or a line break is in double quotes, a quote in
it doubled). Urne reads them to recount real elections and to compare its
rules with what cities funded (the ``selected`` column).

What is accepted: a byte-order mark, CRLF, LF or CR line ends, blank lines,
spaces around fields, ``None`` for a missing value, amounts with a decimal
point or a decimal comma (``1000000``, ``4000.0``, ``12,5``). Approval ballots
(``vote_type`` ``approval`` or ``choose-1``) are supported; ``ordinal``,
``cumulative`` and ``scoring`` ballots are refused with
:class:`UnsupportedPabulib`. Anything else malformed -- a missing section or
column, a duplicated project or voter, a ballot naming an unknown project or
one project twice, a negative or unparsable amount, counts that disagree with
``num_projects`` / ``num_votes`` -- raises :class:`~urne.verifier.errors.FormatError`
naming the line, what was expected and what was found.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

from urne.verifier.civic.budget import ApprovalElection
from urne.verifier.errors import FormatError

__all__ = [
    "PabulibInstance",
    "PabulibProject",
    "UnsupportedPabulib",
    "parse_pabulib",
    "parse_pabulib_text",
]

_SECTIONS = ("meta", "projects", "votes")
_APPROVAL = ("approval", "choose-1")
_OTHER_VOTE_TYPES = ("ordinal", "cumulative", "scoring")
_AMOUNT = re.compile(r"[0-9]+(?:[.,][0-9]+)?")


class UnsupportedPabulib(FormatError):
    """A well-formed pabulib file of a kind Urne does not count (e.g. ordinal ballots)."""

    code = "unsupported"


@dataclass(frozen=True, slots=True)
class PabulibProject:
    """One row of PROJECTS: its id, cost, ``selected`` flag and every column as text.

    ``selected`` is pabulib's flag as written: 1 funded, 0 not funded, other
    integers for special cases the file's comment explains; ``None`` when the
    file has no such column or the value is ``None``.
    """

    project_id: str
    cost: Fraction
    selected: int | None
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True, eq=False)
class PabulibInstance:
    """A parsed ``.pb`` file: META as text, the budget, projects and approval ballots.

    Projects and ballots keep the file's order; ``ballots[k]`` is the set of
    project ids approved by the voter ``voter_ids[k]``.
    """

    meta: Mapping[str, str]
    budget: Fraction
    vote_type: str
    projects: tuple[PabulibProject, ...]
    voter_ids: tuple[str, ...]
    ballots: tuple[frozenset[str], ...]

    def election(self) -> ApprovalElection:
        """The election to count with :mod:`urne.verifier.civic.budget`."""
        return ApprovalElection(
            budget=self.budget,
            costs={p.project_id: p.cost for p in self.projects},
            ballots=self.ballots,
        )

    def selected_ids(self) -> frozenset[str]:
        """The projects the file marks as funded (``selected`` equal to 1)."""
        return frozenset(p.project_id for p in self.projects if p.selected == 1)


def _amount(text: str, what: str, line: int) -> Fraction:
    if not _AMOUNT.fullmatch(text):
        raise FormatError(
            f"line {line}: {what}: expected a non-negative decimal number "
            f"(digits, optionally one '.' or ',' and more digits), found {text!r}"
        )
    return Fraction(text.replace(",", "."))


def _count(meta: Mapping[str, str], key: str, found: int) -> None:
    text = meta.get(key)
    if text is None or text.lower() == "none":
        return
    if not text.isdigit() or int(text) != found:
        raise FormatError(f"META {key}: the file says {text!r}, found {found}")


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=";",
        quotechar='"',
        skipinitialspace=True,  # "key; value", as in the format's own example
        strict=True,
    )
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FormatError(f"line {reader.line_num}: not valid CSV: {exc}") from exc
        cells = [cell.strip() for cell in row]
        if any(cells):
            yield reader.line_num, cells


def parse_pabulib_text(data: str | bytes) -> PabulibInstance:
    """Parse the content of a ``.pb`` file (bytes are decoded as UTF-8)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormatError(f"expected UTF-8 text, found an invalid byte at {exc.start}") from exc
    else:
        text = data.removeprefix("\ufeff")

    meta: dict[str, str] = {}
    projects: dict[str, PabulibProject] = {}
    voter_ids: list[str] = []
    seen_voters: set[str] = set()
    ballots: list[frozenset[str]] = []
    section = ""
    header: list[str] = []
    budget = Fraction(0)
    vote_type = ""
    expect_header = False

    def column(name: str, line: int) -> int:
        if name not in header:
            raise FormatError(
                f"line {line}: {section.upper()} header: expected a {name!r} column, "
                f"found {';'.join(header)!r}"
            )
        return header.index(name)

    for line, cells in _rows(text):
        title = cells[0].lower()
        if title in _SECTIONS and not any(cells[1:]):
            wanted = _SECTIONS[_SECTIONS.index(section) + 1] if section else "meta"
            if title != wanted:
                raise FormatError(
                    f"line {line}: expected the {wanted.upper()} section, found {cells[0]!r}"
                )
            if title == "projects":
                budget, vote_type = _check_meta(meta, line)
            section, expect_header = title, True
            continue
        if not section:
            raise FormatError(f"line {line}: expected the META section first, found {cells[0]!r}")
        if expect_header:
            header = [h.lower() for h in cells]
            if len(set(header)) != len(header):
                raise FormatError(f"line {line}: {section.upper()} header repeats a column name")
            if section == "meta" and header[:2] != ["key", "value"]:
                raise FormatError(f"line {line}: META header: expected 'key;value', found {cells}")
            expect_header = False
            continue
        if section == "meta":
            if len(cells) < 2 or any(cells[2:]) or not cells[0]:
                raise FormatError(f"line {line}: META: expected 'key;value', found {cells}")
            if cells[0] in meta:
                raise FormatError(f"line {line}: META: key {cells[0]!r} appears twice")
            meta[cells[0]] = cells[1]
            continue
        if len(cells) != len(header):
            raise FormatError(
                f"line {line}: {section.upper()}: expected {len(header)} fields as the header, "
                f"found {len(cells)}"
            )
        if section == "projects":
            project = _project(cells, header, line, column)
            if project.project_id in projects:
                raise FormatError(
                    f"line {line}: PROJECTS: project {project.project_id!r} appears twice"
                )
            projects[project.project_id] = project
            continue
        vote = cells[column("vote", line)]
        if "voter_id" in header:
            voter = cells[header.index("voter_id")]
            if voter in seen_voters:
                raise FormatError(f"line {line}: VOTES: voter {voter!r} appears twice")
            seen_voters.add(voter)
        else:
            voter = str(len(voter_ids) + 1)
        chosen = [] if vote.lower() == "none" else [p.strip() for p in vote.split(",")]
        chosen = [p for p in chosen if p]
        for p in chosen:
            if p not in projects:
                raise FormatError(
                    f"line {line}: VOTES: voter {voter!r}: expected a project of PROJECTS, "
                    f"found {p!r}"
                )
        ballot = frozenset(chosen)
        if len(ballot) != len(chosen):
            raise FormatError(f"line {line}: VOTES: voter {voter!r} approves a project twice")
        voter_ids.append(voter)
        ballots.append(ballot)

    if section != "votes" or expect_header:
        missing = "META" if not section else "the VOTES section with its header"
        raise FormatError(f"expected {missing}, found the end of the file")
    _count(meta, "num_projects", len(projects))
    _count(meta, "num_votes", len(ballots))
    return PabulibInstance(
        meta=meta,
        budget=budget,
        vote_type=vote_type,
        projects=tuple(projects.values()),
        voter_ids=tuple(voter_ids),
        ballots=tuple(ballots),
    )


def _check_meta(meta: Mapping[str, str], line: int) -> tuple[Fraction, str]:
    if "budget" not in meta:
        raise FormatError(f"line {line}: META: expected a 'budget' key, found none")
    budget = _amount(meta["budget"], "META budget", line)
    vote_type = meta.get("vote_type", "").lower()
    if vote_type in _OTHER_VOTE_TYPES:
        raise UnsupportedPabulib(
            f"META vote_type: Urne counts approval ballots ('approval', 'choose-1'), "
            f"found {vote_type!r}"
        )
    if vote_type not in _APPROVAL:
        raise FormatError(
            f"META vote_type: expected one of {', '.join(_APPROVAL + _OTHER_VOTE_TYPES)}, "
            f"found {meta.get('vote_type')!r}"
        )
    return budget, vote_type


def _project(
    cells: list[str], header: list[str], line: int, column: Callable[[str, int], int]
) -> PabulibProject:
    project_id = cells[column("project_id", line)]
    if not project_id or project_id.lower() == "none":
        raise FormatError(f"line {line}: PROJECTS: expected a project_id, found {project_id!r}")
    cost = _amount(cells[column("cost", line)], f"cost of project {project_id!r}", line)
    selected: int | None = None
    if "selected" in header:
        flag = cells[header.index("selected")]
        if flag and flag.lower() != "none":
            if not flag.isdigit():
                raise FormatError(
                    f"line {line}: PROJECTS: selected of project {project_id!r}: "
                    f"expected an integer flag, found {flag!r}"
                )
            selected = int(flag)
    return PabulibProject(
        project_id=project_id,
        cost=cost,
        selected=selected,
        fields=dict(zip(header, cells, strict=True)),
    )


def parse_pabulib(path: str | os.PathLike[str]) -> PabulibInstance:
    """Read and parse the ``.pb`` file at ``path``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise FormatError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
    return parse_pabulib_text(data)
