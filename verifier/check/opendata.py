"""A process as open data: its entries as JSON Lines, its results as CSV, and
the offline check of both against the log's key (docs/spec/open-data.md).

``entries.jsonl`` is byte-exact: every line is the RFC 8785 canonical JSON of
one object followed by ``"\\n"``. The first line is the header::

    {"checkpoint":"<signed checkpoint text>","entries":N,"log_key":"<vkey>",
     "origin":"<origin>","process":"<id>","v":1}

then one line per entry of the process, in log order::

    {"entry":<the entry>,"inclusion_proof":["<base64>",...],"index":i,"leaf_hash":"<base64>"}

Entries are themselves canonical JSON (docs/spec/entries.md §1), so the canonical
form of a line holds the entry's stored bytes verbatim: no base64 around them,
and ``jq`` or any JSON reader sees the entry's fields.

:func:`check_export` checks, in order and with nothing but the log's key:

1. the header names the key (``log_key``), and its checkpoint is signed by
   the key, for the header's origin;
2. every line is canonical, its entry hashes to ``leaf_hash``, and the
   inclusion proof puts that leaf at ``index`` in the checkpoint's tree
   (RFC 9162 §2.1.3.2); indices strictly increase;
3. every entry is well-formed (docs/spec/entries.md), belongs to the header's
   process; first come the registrations of its institution (and of the
   registrars above it) and the reservation of its id, then its manifest; the
   entries replayed in order keep
   every rule of ``urne.verifier.civic.process`` (author signatures included);
4. every credential is the issuer's (batch-verified, docs/spec/credentials.md);
5. the process's ``result``, if any, is its only one, follows its close, counts
   exactly through it and equals the recount (the rules of step 3 refuse
   anything else);
6. the file holds as many entries as the header announces.

``results.csv`` is produced here too (:func:`results_csv`), by one pure
function of the outcome, so a verifier that recounted the export regenerates
the CSV and compares bytes (:func:`check_results_csv`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from urne.verifier.civic.canonical import canonical, parse_canonical
from urne.verifier.civic.entries import (
    GRADED,
    RANKED,
    Ballot,
    Delegate,
    Delegation,
    Process,
    SortitionRule,
    VoteRule,
    parse_entry,
)
from urne.verifier.civic.process import EntryRefused, ProcessState, Registry
from urne.verifier.credentials.credential import invalid_credentials
from urne.verifier.errors import FormatError, ProofError, VerificationError
from urne.verifier.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.tlog.proof import prefix_root, verify_inclusion
from urne.verifier.tlog.rfc9162 import HASH_SIZE, hash_leaf

__all__ = [
    "EXPORT_VERSION",
    "ExportHeader",
    "ExportReport",
    "Outcome",
    "check_export",
    "check_results_csv",
    "entry_line",
    "header_line",
    "outcome_of",
    "parse_header",
    "results_csv",
]

#: The ``"v"`` of the header line.
EXPORT_VERSION = 1

_HEADER_FIELDS = frozenset({"checkpoint", "entries", "log_key", "origin", "process", "v"})
_LINE_FIELDS = frozenset({"entry", "inclusion_proof", "index", "leaf_hash"})
#: The kinds that come before a process's manifest in its export: the
#: registrations of its institution (and of the registrars above it) and the
#: reservation of its id.
_AUTHORITY_KINDS = frozenset(
    {"institution", "reservation", "issuer-deal", "issuer-complaint", "issuer-check", "issuer-key"}
)
#: Credentials verified together (two pairings per batch).
_CREDENTIAL_BATCH = 4096


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _bad_export(message: str) -> FormatError:
    return FormatError(message, code="bad_export")


# -- writing (the operator's side calls these, so both sides share one definition) --------


def header_line(*, process: str, origin: str, log_key: str, checkpoint: str, entries: int) -> bytes:
    """The first line of ``entries.jsonl``, newline included."""
    obj = {
        "checkpoint": checkpoint,
        "entries": entries,
        "log_key": log_key,
        "origin": origin,
        "process": process,
        "v": EXPORT_VERSION,
    }
    return canonical(obj) + b"\n"


def entry_line(index: int, entry: bytes, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """One entry line, newline included.

    ``entry`` must be the stored bytes of an entry (canonical JSON of an
    object, as the log only holds such entries): the line is then exactly
    ``JCS({"entry": parse(entry), "inclusion_proof": [...], "index": index,
    "leaf_hash": ...})``, written without re-serialising the entry. The keys
    are in RFC 8785 order (``entry`` < ``inclusion_proof`` < ``index`` <
    ``leaf_hash``), base64 needs no JSON escape.
    """
    hashes = b",".join(b'"' + base64.b64encode(h) + b'"' for h in proof)
    return b"".join(
        (
            b'{"entry":',
            entry,
            b',"inclusion_proof":[',
            hashes,
            b'],"index":',
            str(index).encode("ascii"),
            b',"leaf_hash":"',
            base64.b64encode(leaf_hash),
            b'"}\n',
        )
    )


# -- the outcome and its CSV ---------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What ``results.csv`` shows: the process's final result, or the recount so far.

    ``result_index`` is the log index of the ``result`` entry whose tally this
    is (``status`` ``published``: the one result a process has, counting
    through its close), or None for a provisional recount through ``through``.
    """

    process: Process
    tally: Mapping[str, Any]
    through: int
    result_index: int | None

    @property
    def status(self) -> str:
        return "provisional" if self.result_index is None else "published"


def outcome_of(
    state: ProcessState, last_index: int, tally: Callable[[int], Mapping[str, Any]]
) -> Outcome:
    """The process's result if it lies at or before ``last_index``; without
    one, ``tally(last_index)``: the recount through the process's last entry
    (which equals the recount through any later index of the log).

    ``state`` holds only results the rules accepted, hence at most one, the
    final one: a later ``result`` entry forced into a log is refused by the
    rules (``result_exists``) and never replaces it here."""
    if state.draw is not None and state.draw[0] <= last_index:  # a sortition's draw is final
        drawn = state.draw[0]
        return Outcome(state.process, tally(drawn), drawn, drawn)
    published = [(i, r) for i, r in state.results if i <= last_index]
    if published:
        index, result = published[0]
        return Outcome(state.process, result.tally, result.through, index)
    return Outcome(state.process, tally(last_index), last_index, None)


#: A cell starting with one of these is taken for a formula by spreadsheets
#: (OWASP "CSV injection"); such text cells get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(s: str) -> str:
    return "'" + s if s.startswith(_FORMULA_START) else s


def _csv_field(s: str) -> str:
    """RFC 4180 §2: quoted when it holds a comma, a double quote, CR or LF;
    double quotes inside are doubled."""
    if "," in s or '"' in s or "\r" in s or "\n" in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def _csv_row(cells: Iterable[str]) -> bytes:
    return (",".join(_csv_field(c) for c in cells) + "\r\n").encode("utf-8")


def _bool(b: object) -> str:
    return "true" if b is True else "false"


def _int(v: object) -> str:
    return "" if v is None else str(v)


Text = str | dict[str, str]


def _title_columns(texts: Sequence[Text]) -> tuple[list[str], Callable[[Text], list[str]]]:
    """Texts flattened as Decidim's exports do: a plain string in ``title``,
    each translation in ``title/<language>`` (languages in code point order).
    A cell is empty where a text has no such translation."""
    plain = any(isinstance(t, str) for t in texts)
    langs = sorted({k for t in texts if isinstance(t, dict) for k in t})
    columns = (["title"] if plain else []) + [f"title/{lang}" for lang in langs]

    def cells(t: Text) -> list[str]:
        out = [t if isinstance(t, str) else ""] if plain else []
        out += ["" if isinstance(t, str) else t.get(lang, "") for lang in langs]
        return [_text_cell(c) for c in out]

    return columns, cells


def results_csv(outcome: Outcome) -> Iterator[bytes]:
    """``results.csv``: RFC 4180, UTF-8, CRLF, a header row, one row per
    proposal in manifest order (one row for a petition), columns by process
    type as docs/spec/open-data.md §3 lists them."""
    p, t = outcome.process, outcome.tally
    lead = [p.id, outcome.status, _int(outcome.result_index), str(outcome.through)]
    lead_columns = ["process", "status", "result_index", "through"]
    if p.type == "sortition":  # one row per member, in the order drawn
        rule = p.rule
        assert isinstance(rule, SortitionRule)
        columns, cells = _title_columns([p.title])
        yield _csv_row([*lead_columns, *columns, "seat", "member", *rule.features])
        for seat, m in enumerate(t["panel"] or (), start=1):
            yield _csv_row([*lead, *cells(p.title), str(seat), m["id"], *m["values"]])
        return
    if p.type == "petition":
        columns, cells = _title_columns([p.title])
        yield _csv_row(
            [
                *lead_columns,
                *columns,
                "signatures",
                "paper_signatures",
                "total",
                "threshold",
                "reached",
                "reached_at",
            ]
        )
        yield _csv_row(
            [
                *lead,
                *cells(p.title),
                _int(t["signatures"]),
                _int(t["paper_signatures"]),
                _int(t["total"]),
                _int(t["threshold"]),
                _bool(t["reached"]),
                _int(t["reached_at"]),
            ]
        )
        return
    columns, cells = _title_columns([q.title for q in p.proposals])
    head = [*lead_columns, "proposal", *columns, "fingerprint"]
    rule = p.rule
    if isinstance(rule, VoteRule) and rule.method in (GRADED, RANKED):
        # a majority judgment or a Schulze vote: each proposal's tier (from 1)
        # and, for a majority judgment, its majority grade and its profile
        tier = {pid: k for k, ids in enumerate(t["ranking"], start=1) for pid in ids}
        winners = set(t["winners"])
        graded = rule.method == GRADED
        grade_cols = [f"grade:{g}" for g in rule.grade_ids()] if graded else []
        extra = ["majority_grade", *grade_cols] if graded else []
        yield _csv_row([*head, *extra, "tier", "winner"])
        for q in p.proposals:
            grading = (
                [t["majority_grades"][q.id] or "", *map(str, t["profiles"][q.id])] if graded else []
            )
            row = [*lead, q.id, *cells(q.title), q.fingerprint, *grading]
            yield _csv_row([*row, str(tier[q.id]), _bool(q.id in winners)])
        return
    if p.type == "vote":
        yield _csv_row([*head, "online", "paper", "total", "winner"])
        winners = set(t["winners"])
        for q in p.proposals:
            yield _csv_row(
                [
                    *lead,
                    q.id,
                    *cells(q.title),
                    q.fingerprint,
                    _int(t["counts"][q.id]),
                    _int(t["paper_counts"][q.id]),
                    _int(t["total"][q.id]),
                    _bool(q.id in winners),
                ]
            )
        return
    yield _csv_row([*head, "cost", "approvals", "selected"])
    selected = set(t["selected"])
    for q in p.proposals:
        yield _csv_row(
            [
                *lead,
                q.id,
                *cells(q.title),
                q.fingerprint,
                _int(q.cost),
                _int(t["approvals"][q.id]),
                _bool(q.id in selected),
            ]
        )


# -- reading and checking ------------------------------------------------------------------


@dataclass(frozen=True)
class ExportHeader:
    process: str
    origin: str
    log_key: str
    checkpoint: str
    entries: int


def parse_header(line: bytes) -> ExportHeader:
    """The header line (newline included), refused unless exactly as specified."""
    obj = _line_object(line, 1)
    if set(obj) != _HEADER_FIELDS:
        raise _bad_export(
            f"line 1: an export starts with its header {sorted(_HEADER_FIELDS)}, "
            f"found the fields {sorted(obj)}"
        )
    if obj["v"] != EXPORT_VERSION:
        raise _bad_export(f"line 1: export version {obj['v']!r}, this verifier reads 1")
    for k in ("checkpoint", "log_key", "origin", "process"):
        if not isinstance(obj[k], str):
            raise _bad_export(f"line 1: {k} is not text")
    n = obj["entries"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise _bad_export(f"line 1: entries is a count >= 1, found {n!r}")
    return ExportHeader(obj["process"], obj["origin"], obj["log_key"], obj["checkpoint"], n)


def _line_object(line: bytes, n: int) -> dict[str, Any]:
    if not line.endswith(b"\n"):
        raise _bad_export(f"line {n} does not end with a newline: the file is cut short")
    body = line[:-1]
    if body.endswith(b"\r"):
        raise _bad_export(f"line {n} ends with CR LF; export lines end with LF alone")
    try:
        return parse_canonical(body)
    except FormatError as exc:
        raise FormatError(f"line {n}: {exc}", code=exc.code) from exc


def _hash(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise _bad_export(f"{what}: expected base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise FormatError(f"{what}: not valid base64", code="bad_base64") from exc
    if len(raw) != HASH_SIZE or _b64(raw) != value:
        raise FormatError(
            f"{what}: expected canonical base64 of {HASH_SIZE} bytes", code="bad_hash_length"
        )
    return raw


@dataclass
class ExportReport:
    """What a valid export showed."""

    process: str
    origin: str
    #: the signed checkpoint the lines are proven against
    checkpoint: SignedCheckpoint
    entries: int = 0
    first_index: int = -1
    last_index: int = -1
    #: ``(index, through)`` of the process's result (at most one), equal to the recount
    results: list[tuple[int, int]] = field(default_factory=list)
    credentials_checked: int = 0
    #: the recount through the last entry
    tally: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None
    #: the process's state after the last entry (a secret vote's ceremony in it)
    state: ProcessState | None = None
    #: the log's size and root just after the manifest, read from the
    #: manifest's inclusion proof (a sortition's seed binds them)
    at_manifest: tuple[int, bytes] | None = None
    #: a sortition's draw line as the export holds it (entry, index, inclusion
    #: proof): the evidence if its panel is not the one the pool gives
    draw_line: dict[str, Any] | None = None


class _Credentials:
    """Ballots' credentials, verified in batches as the lines go by."""

    def __init__(self, batch: int = _CREDENTIAL_BATCH) -> None:
        self.batch = batch
        self.public_key = b""
        self.pending: list[tuple[int, int, tuple[str, bytes, bytes]]] = []
        self.checked = 0

    def add(
        self, line: int, index: int, public_key: bytes, ballot: Ballot | Delegate | Delegation
    ) -> None:
        self.public_key = public_key
        self.pending.append((line, index, (ballot.process, ballot.pseudonym, ballot.credential)))
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        items = [item for _, _, item in self.pending]
        bad = invalid_credentials(self.public_key, items)
        if bad:
            line, index, _ = self.pending[bad[0]]
            raise EntryRefused(
                f"line {line} (index {index}): the credential is not the issuer's for this "
                f"process and pseudonym ({len(bad)} such ballot(s) in lines "
                f"{self.pending[0][0]}-{self.pending[-1][0]})",
                code="bad_credential",
            )
        self.checked += len(items)
        self.pending.clear()


def _refuse(exc: VerificationError, line: int, index: int | None) -> NoReturn:
    at = f"line {line}" if index is None else f"line {line} (index {index})"
    raise type(exc)(f"{at}: {exc}", code=exc.code) from exc


def check_export(lines: Iterable[bytes], log_key: Ed25519Verifier) -> ExportReport:
    """Check an ``entries.jsonl`` (its lines, newlines included, e.g. a file
    opened in binary mode) against the log's key; the checklist is in the
    module docstring. Raises the first failure as a
    :class:`~urne.verifier.errors.VerificationError` whose message names the line.

    Streams: the lines are read once; what is kept is the process's state (as
    for any recount) and at most one batch of credentials.
    """
    it = iter(lines)
    first = next(it, None)
    if first is None:
        raise _bad_export("the file is empty; an export starts with its header line")
    header = parse_header(first)
    # 1. the checkpoint
    if header.log_key != log_key.vkey:
        raise FormatError(
            f"line 1: the export names the log key {header.log_key!r}, the key given to check "
            f"it is {log_key.vkey!r}",
            code="wrong_log_key",
        )
    try:
        signed = open_checkpoint(header.checkpoint, log_key, origin=header.origin)
    except VerificationError as exc:
        _refuse(exc, 1, None)
    cp = signed.checkpoint
    report = ExportReport(header.process, header.origin, signed)
    registry = Registry(credential_check=None, operator=log_key.public_key)
    credentials = _Credentials()
    last = -1
    n = 1
    manifest_seen = False
    for n, line in enumerate(it, start=2):
        index: int | None = None
        try:
            # 2. the line, its leaf and its inclusion proof
            obj = _line_object(line, n)
            if set(obj) != _LINE_FIELDS:
                raise _bad_export(
                    f"an entry line has the fields {sorted(_LINE_FIELDS)}, found {sorted(obj)}"
                )
            raw_index, proof_raw = obj["index"], obj["inclusion_proof"]
            if isinstance(raw_index, bool) or not isinstance(raw_index, int) or raw_index < 0:
                raise _bad_export(f"index is an integer >= 0, found {raw_index!r}")
            index = raw_index
            if index <= last:
                raise _bad_export(
                    f"index {index} does not follow {last}: entries are in log order, once each"
                )
            if not isinstance(obj["entry"], dict):
                raise _bad_export("entry is the entry's JSON object")
            if not isinstance(proof_raw, list):
                raise _bad_export("inclusion_proof is a list of base64 hashes")
            data = canonical(obj["entry"])
            leaf = _hash(obj["leaf_hash"], "leaf_hash")
            if hash_leaf(data) != leaf:
                raise ProofError(
                    "leaf_hash is not SHA-256(0x00 || entry): the entry or its hash was changed",
                    code="leaf_hash_mismatch",
                )
            proof = [_hash(h, f"inclusion_proof[{k}]") for k, h in enumerate(proof_raw)]
            verify_inclusion(leaf, index, cp.size, proof, cp.root)
            # 3. the entry, its process and its rules
            entry = parse_entry(obj["entry"])
            authority = entry.kind in _AUTHORITY_KINDS
            if authority and manifest_seen:
                raise EntryRefused(
                    f"a {entry.kind} entry after the manifest; an export starts with the "
                    "entries that authorise the manifest",
                    code="wrong_process",
                )
            if entry.process_id is not None and entry.process_id != header.process:
                raise EntryRefused(
                    f"an entry of process {entry.process_id!r} in the export of {header.process!r}",
                    code="wrong_process",
                )
            if not authority and not manifest_seen and entry.kind != "process":
                raise EntryRefused(
                    f"a {entry.kind} entry before the manifest; an export starts with the "
                    "registrations and the reservation behind its manifest, then the manifest",
                    code="no_manifest",
                )
            if entry.kind == "process":
                report.at_manifest = (index + 1, prefix_root(leaf, index, cp.size, proof))
            manifest_seen = manifest_seen or entry.kind == "process"
            if entry.kind == "result":
                credentials.flush()  # what the result counts is checked first
            registry.admit(entry, index)
            body = entry.body
            if isinstance(body, Ballot | Delegate | Delegation):
                key = registry.state(body.process).process.issuer_key
                credentials.add(n, index, key, body)
            elif entry.kind == "draw":
                report.draw_line = obj
            elif entry.kind == "result":
                r = registry.state(header.process).results[-1][1]
                report.results.append((index, r.through))
        except VerificationError as exc:
            _refuse(exc, n, index)
        if report.first_index < 0:
            report.first_index = index
        last = index
        report.entries += 1
    if not manifest_seen:
        raise EntryRefused(
            "the export holds no manifest of its process",
            code="no_manifest",
        )
    # 4. the credentials not yet verified
    credentials.flush()
    report.credentials_checked = credentials.checked
    # 6. the count
    if report.entries != header.entries:
        how = (
            "it was cut short or lines were dropped"
            if report.entries < header.entries
            else "lines were added"
        )
        raise _bad_export(
            f"line 1: the header announces {header.entries} entries, the file holds "
            f"{report.entries} (lines 2-{n}): {how}"
        )
    report.last_index = last
    state = registry.state(header.process)
    report.tally = registry.tally(header.process, last)
    report.state = registry.state(header.process)
    report.outcome = outcome_of(state, last, lambda t: registry.tally(header.process, t))
    return report


def check_results_csv(report: ExportReport, data: bytes) -> None:
    """``results.csv`` equals, byte for byte, the one the checked export implies
    (the process's final result, else the recount through the last entry)."""
    if report.outcome is None:
        raise VerificationError(
            "results.csv is checked against a checked export", code="no_export_checked"
        )
    want = b"".join(results_csv(report.outcome))
    if data == want:
        return
    got_lines, want_lines = data.split(b"\r\n"), want.split(b"\r\n")
    for k, (g, w) in enumerate(zip(got_lines, want_lines, strict=False), start=1):
        if g != w:
            raise VerificationError(
                f"results.csv line {k} differs from the recount of this export: found "
                f"{g[:200]!r}, expected {w[:200]!r} ({report.outcome.status} through index "
                f"{report.outcome.through}; a CSV and an export made at different times differ)",
                code="wrong_results_csv",
            )
    raise VerificationError(
        f"results.csv has {len(got_lines) - 1} lines, the recount of this export gives "
        f"{len(want_lines) - 1}",
        code="wrong_results_csv",
    )
