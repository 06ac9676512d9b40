"""``urne-verify``: what citizens and observers run to check the log.

Exit codes: 0 valid; 1 invalid (checked, and found wrong: the reason is
printed); 2 could not check (the log did not answer, in time or within the
bytes its answer may hold; a missing or unreadable file, a malformed verifier
key, a damaged auditor's state). "Could not check" is never reported as
"invalid": the two call for different actions. Either way the reason is one
line, never a traceback (docs/spec/verification.md §2c).

What is printed is the report and nothing else when the output is not a
terminal: the audit's progress bar is drawn on a terminal only.
"""

from __future__ import annotations

import base64
import json
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from urne.verifier.check.audit import (
    MAX_NEW_ENTRIES,
    STEPS,
    HttpSource,
    open_source,
    write_report,
)
from urne.verifier.check.audit import audit as run_audit
from urne.verifier.check.fetch import DEFAULT_DEADLINE, fetch_url
from urne.verifier.check.opendata import check_export, check_results_csv
from urne.verifier.check.receipt import Receipt, check_against_log, check_receipt
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.canonical import fingerprint as canonical_fingerprint
from urne.verifier.civic.entries import ElectionKey, decode_entry
from urne.verifier.civic.process import answers_due
from urne.verifier.cli.pb import pb_command
from urne.verifier.errors import FetchError, FormatError, VerificationError
from urne.verifier.secret.challenge import (
    MAX_CHALLENGE_BYTES,
    Election,
    check_challenge,
    check_published,
    read_challenge,
)
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.cosignature import WitnessPolicy
from urne.verifier.tlog.note import Ed25519Verifier, Note

app = typer.Typer(
    help="Check Urne's log on your own machine, trusting nothing but its public key.",
    no_args_is_help=True,
    add_completion=False,
)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc


@app.callback()
def main() -> None:
    """Check Urne's log on your own machine, trusting nothing but its public key."""


LogKey = Annotated[
    str,
    typer.Option(
        "--log-key", help="The log's verifier key: name+hex8+base64, as the operator publishes it."
    ),
]


Witnesses = Annotated[
    list[str] | None,
    typer.Option(
        "--witness",
        help="A witness's verifier key (name+hex8+base64, type 0x04); repeat for each. "
        "The checkpoint must then carry cosignatures of --quorum of them.",
    ),
]
Quorum = Annotated[
    int | None,
    typer.Option("--quorum", min=0, help="How many of the --witness keys must have cosigned "
                 "(default: all of them)."),
]  # fmt: skip


PolicyFile = Annotated[
    Path | None,
    typer.Option(
        "--witness-policy",
        help="A TOML file naming the witnesses and the quorum: witnesses = [VKEY, ...], "
        "quorum = K (instead of --witness and --quorum).",
    ),
]


def _policy_file(path: Path) -> tuple[list[str], int | None]:
    try:
        data = tomllib.loads(_read(path).decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        typer.echo(f"error: {path} is not a TOML policy: {exc}", err=True)
        raise typer.Exit(2) from exc
    keys, quorum = data.get("witnesses"), data.get("quorum")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not keys:
        typer.echo(f'error: {path}: expected witnesses = ["VKEY", ...]', err=True)
        raise typer.Exit(2)
    if quorum is not None and (not isinstance(quorum, int) or isinstance(quorum, bool)):
        typer.echo(f"error: {path}: quorum is a whole number", err=True)
        raise typer.Exit(2)
    return keys, quorum


def _policy(
    witnesses: list[str] | None, quorum: int | None, policy_file: Path | None = None
) -> WitnessPolicy | None:
    if policy_file is not None:
        if witnesses or quorum is not None:
            typer.echo("error: --witness-policy or --witness/--quorum, not both", err=True)
            raise typer.Exit(2)
        witnesses, quorum = _policy_file(policy_file)
    if not witnesses:
        if quorum:
            typer.echo("error: --quorum needs --witness keys", err=True)
            raise typer.Exit(2)
        return None
    try:
        return WitnessPolicy.of(witnesses, quorum)
    except FormatError as exc:
        typer.echo(f"error: the witness policy is not usable: {exc}", err=True)
        raise typer.Exit(2) from exc


def _witnessed(policy: WitnessPolicy | None, note: Note, what: str) -> str:
    """Apply the policy to ``note``; a line saying who cosigned it."""
    if policy is None:
        return ""
    return f"{what} {policy.describe(policy.check(note))}"


Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.1,
        help="Seconds each request to the log may take, from connecting to its last byte.",
    ),
]


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _could_not_check(code: str, reason: str) -> NoReturn:
    """Exit 2 with one line: what kept the check from running is not a verdict."""
    typer.echo(f"COULD NOT CHECK ({code}): {_one_line(reason)}")
    raise typer.Exit(2)


def _verifier(vkey: str) -> Ed25519Verifier:
    try:
        return Ed25519Verifier.from_vkey(vkey)
    except FormatError as exc:
        typer.echo(f"error: the log key is not usable: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def checkpoint(
    file: Annotated[Path, typer.Argument(help="A signed checkpoint, as served at /checkpoint.")],
    log_key: LogKey,
    witness: Witnesses = None,
    quorum: Quorum = None,
    witness_policy: PolicyFile = None,
) -> None:
    """Check that FILE is a checkpoint signed by the log's key (and cosigned by witnesses)."""
    verifier = _verifier(log_key)
    policy = _policy(witness, quorum, witness_policy)
    data = _read(file)
    try:
        signed = open_checkpoint(data, verifier)
        seen = _witnessed(policy, signed.note, "the checkpoint is")
    except VerificationError as exc:
        typer.echo(f"INVALID ({exc.code}): {exc}")
        raise typer.Exit(1) from exc
    cp = signed.checkpoint
    typer.echo("VALID checkpoint")
    typer.echo(f"  origin: {cp.origin}")
    typer.echo(f"  size:   {cp.size}")
    typer.echo(f"  root:   {base64.b64encode(cp.root).decode()}")
    if seen:
        typer.echo(f"  {seen}")


@app.command()
def fingerprint(
    file: Annotated[
        Path,
        typer.Argument(help='JSON object of the fingerprinted fields, e.g. {"title", "body"}.'),
    ],
) -> None:
    """Print a proposal's fingerprint (equal to Decidim's): SHA-256 of its RFC 8785 JSON."""
    try:
        obj = json.loads(_read(file), parse_float=Decimal)
    except ValueError as exc:
        typer.echo(f"error: {file} is not JSON: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        typer.echo(canonical_fingerprint(obj))
    except VerificationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


app.command("pb")(pb_command)


@app.command()
def receipt(
    file: Annotated[Path, typer.Argument(help="A receipt (JSON) as the service gave it.")],
    log_key: LogKey,
    log: Annotated[
        str | None,
        typer.Option("--log", help="The log's URL: also check the entry is still in it today."),
    ] = None,
    timeout: Timeout = DEFAULT_DEADLINE,
    witness: Witnesses = None,
    quorum: Quorum = None,
    witness_policy: PolicyFile = None,
) -> None:
    """Check a receipt offline; with --log, also that the log still holds the entry."""
    verifier = _verifier(log_key)
    policy = _policy(witness, quorum, witness_policy)
    try:
        rc = Receipt.parse(_read(file))
    except VerificationError as exc:
        typer.echo(f"error: {file} is not a receipt: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        signed = check_receipt(rc, verifier)
        cp = signed.checkpoint
        typer.echo(f"1. checkpoint signed by {verifier.name} (size {cp.size}): ok")
        if policy is not None:
            typer.echo(f"   {_witnessed(policy, signed.note, 'and')}: ok")
            when = policy.existed_by(policy.check(signed.note))
            if when is not None:
                stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                typer.echo(f"   the entry existed by {stamp} (witnessed: {policy.quorum} "
                           "witnesses' clocks)")  # fmt: skip
        typer.echo(f"2. entry {rc.index} is in that tree (inclusion proof): ok")
        if log is not None:
            now = check_against_log(rc, verifier, HttpSource(log, deadline=timeout).get)
            typer.echo(
                f"3. the log's latest checkpoint (size {now.checkpoint.size}) extends it "
                "(consistency proof): ok"
            )
            if policy is not None:
                typer.echo(f"   {_witnessed(policy, now.note, 'and that checkpoint is')}: ok")
    except FetchError as exc:
        _could_not_check(exc.code, str(exc))
    except VerificationError as exc:
        typer.echo(f"INVALID ({exc.code}): {_one_line(exc)}")
        if exc.code == "no_quorum":
            typer.echo(
                "  a receipt given when the entry was cast is cosigned moments later: ask the "
                f"service for its current one (GET /entries/{rc.index}/receipt, or "
                "`urne-wallet receipts`) and check that; a receipt the witnesses never "
                "cosign is of a log they were not shown"
            )
        raise typer.Exit(1) from exc
    typer.echo("VALID receipt")


Progress = Callable[[int, int], None]


@contextmanager
def _progress(label: str) -> Iterator[Progress | None]:
    """A progress bar on a terminal (on stderr, apart from the report); nothing
    at all otherwise, so a file or a pipe receives the report alone."""
    if not sys.stderr.isatty():
        yield None
        return
    with typer.progressbar(length=1, label=label, show_pos=True, file=sys.stderr) as bar:
        seen = [0]

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - seen[0])
            seen[0] = done

        yield progress


_OUTCOME = {True: "ok", False: "FAILED", None: "not run"}


@app.command("audit")
def audit_command(
    log: Annotated[str, typer.Option("--log", help="The log's URL, or an exported directory.")],
    log_key: LogKey,
    state: Annotated[
        Path | None,
        typer.Option("--state", help="Directory where this auditor keeps what it verified."),
    ] = None,
    report_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report (JSON) here.")
    ] = None,
    timeout: Timeout = DEFAULT_DEADLINE,
    max_new_entries: Annotated[
        int,
        typer.Option(
            "--max-new-entries",
            min=0,
            help="The most entries to read beyond what --state holds; a checkpoint "
            "claiming more stops the audit before anything is read.",
        ),
    ] = MAX_NEW_ENTRIES,
    witness: Witnesses = None,
    quorum: Quorum = None,
    witness_at: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-at",
            help="A witness's URL: compare the checkpoint it last cosigned for this log "
            "with the log audited (a split view is a finding); repeat for each.",
        ),
    ] = None,
    witness_policy: PolicyFile = None,
) -> None:
    """Audit the whole log: the numbered checklist of docs/spec/verification.md."""
    verifier = _verifier(log_key)
    policy = _policy(witness, quorum, witness_policy)
    for url in witness_at or []:
        if not url.startswith(("http://", "https://")):
            typer.echo(f"error: --witness-at {url!r}: expected an http(s) URL", err=True)
            raise typer.Exit(2)
    readers = [(url, HttpSource(url, deadline=timeout).get) for url in witness_at or []]
    try:
        with _progress("entries") as progress:
            report = run_audit(
                open_source(log, deadline=timeout),
                verifier,
                state_dir=state,
                progress=progress,
                max_new_entries=max_new_entries,
                policy=policy,
                witnesses=readers,
            )
    except (FetchError, VerificationError) as exc:  # VerificationError: bad_state
        _could_not_check(exc.code, f"the audit could not run: {exc}")
    except OSError as exc:  # the auditor's own files
        _could_not_check("io_error", f"the audit could not run: {exc}")
    except MemoryError:
        _could_not_check("out_of_memory", "the audit could not run: out of memory")
    if report.steps[1]:
        typer.echo(
            f"log {report.origin} at {report.source}: size {report.size}, root {report.root}"
        )
    else:
        typer.echo(f"log {report.origin} at {report.source}: no checkpoint signed by its key")
    if report.previous_size:
        typer.echo(f"(this auditor had verified it up to size {report.previous_size})")
    if policy is not None and report.cosigned_by:
        names = ", ".join(report.cosigned_by)
        typer.echo(f"cosigned by {len(report.cosigned_by)} of {len(policy.witnesses)} "
                   f"witnesses ({names})")  # fmt: skip
    for view in report.witnesses:
        typer.echo(f"witness {view['witness']}: size {view['size']}, {view['outcome']}")
    if report.witnessed_checkpoints:
        typer.echo(f"entries dated by {report.witnessed_checkpoints} cosigned checkpoints")
    for pid, n in sorted(report.witnessed_late.items()):
        typer.echo(f"  {pid}: {n} entries first witnessed after it closed (not proven in time)")
    for pid, c in sorted(report.commitments.items()):
        released = datetime.fromtimestamp(c["round_released"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if c["proven_before_round"]:
            seen = datetime.fromtimestamp(c["first_witnessed"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            typer.echo(f"sortition {pid}: committed before its round (witnessed {seen}, "
                       f"round released {released})")  # fmt: skip
        else:
            typer.echo(f"sortition {pid}: no cosigned checkpoint proves its commitment came "
                       f"before its round (released {released})")  # fmt: skip
    for pid, behind in sorted(report.answers_behind.items()):
        late = [d for d in behind if d["state"] == "late"]
        missing = [d for d in behind if d["state"] == "overdue"]
        what = ", ".join(
            part
            for part in (
                f"{len(late)} answered after the deadline" if late else "",
                f"{len(missing)} not answered by the deadline" if missing else "",
            )
            if part
        )
        typer.echo(f"answers of {pid}: {what} (docs/spec/answers.md)")
    for pid, c in sorted(report.issuance.items()):
        if c["checked"]:
            typer.echo(f"credentials of {pid}: {c['pseudonyms']:,} pseudonyms took part, "
                       f"{c['credentials_issued']:,} credentials issued")  # fmt: skip
        else:
            typer.echo(f"credentials of {pid}: {c['pseudonyms']:,} pseudonyms took part; "
                       f"the issuer's count not checked ({c['source']})")  # fmt: skip
    for n, title in STEPS.items():
        outcome = _OUTCOME[report.steps[n]]
        if n == 2 and state is None and outcome == "ok":
            outcome += " (nothing verified before; pass --state DIR to compare the next run)"
        typer.echo(f"{n}. {title}: {outcome}")
    if report.steps[4] is not None:
        proofs = (
            f", secret ballots' proofs: {report.ballot_proofs_checked}"
            if report.ballot_proofs_checked
            else ""
        )
        typer.echo(
            f"entries checked: {report.entries_checked}, credentials: "
            f"{report.credentials_checked}{proofs}, results compared: {report.results_compared}"
        )
    for f in report.findings:
        at = f" at index {f.index}" if f.index is not None else ""
        typer.echo(f"  step {f.step} {f.code}{at}: {_one_line(f.message)}")
    if report_file is not None:
        try:
            write_report(report, report_file)
        except OSError as exc:
            _could_not_check("io_error", f"cannot write the report: {exc}")
        typer.echo(f"report written to {report_file}")
    if not report.ok:
        stopped = [n for n, ok in report.steps.items() if ok is None]
        after = f"; steps {stopped[0]}-{stopped[-1]} not run" if stopped else ""
        typer.echo(f"FAILED: {len(report.findings)} finding(s), with evidence in the report{after}")
        raise typer.Exit(1)
    typer.echo("PASSED")


@app.command("export")
def export_command(
    entries: Annotated[
        Path,
        typer.Argument(
            help="A process's entries.jsonl (or a directory holding entries.jsonl and, "
            "optionally, results.csv), as served at /processes/<id>/entries.jsonl."
        ),
    ],
    log_key: Annotated[
        str,
        typer.Option(
            "--log-key",
            "--key",
            help="The log's verifier key: name+hex8+base64, as the operator publishes it.",
        ),
    ],
    results: Annotated[
        Path | None,
        typer.Option("--results", help="The process's results.csv: also check it byte for byte."),
    ] = None,
) -> None:
    """Check a process exported as open data, and recount it (docs/spec/open-data.md)."""
    verifier = _verifier(log_key)
    if entries.is_dir():
        if results is None and (entries / "results.csv").is_file():
            results = entries / "results.csv"
        entries = entries / "entries.jsonl"
    csv = _read(results) if results is not None else None
    try:
        fh = entries.open("rb")
    except OSError as exc:
        typer.echo(f"error: cannot read {entries}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    try:
        with fh:
            report = check_export(fh, verifier)
        if csv is not None:
            check_results_csv(report, csv)
    except VerificationError as exc:
        typer.echo(f"INVALID ({exc.code}): {exc}")
        raise typer.Exit(1) from exc
    except OSError as exc:
        typer.echo(f"error: cannot read {entries}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    cp, outcome = report.checkpoint.checkpoint, report.outcome
    if outcome is None:  # check_export sets it on every export it accepts
        typer.echo("INVALID (no_outcome): the export gave no outcome")
        raise typer.Exit(1)
    typer.echo(f"process: {report.process}")
    typer.echo(f"1. checkpoint signed by {verifier.name} (size {cp.size}): ok")
    typer.echo(
        f"2. {report.entries} entries (indices {report.first_index} to {report.last_index}), "
        "each in that tree (inclusion proofs): ok"
    )
    typer.echo("3. every entry follows the rules of its process (signatures, order): ok")
    typer.echo(f"4. credentials checked: {report.credentials_checked}: ok")
    typer.echo(f"5. published results equal to the recount: {len(report.results)}")
    if csv is not None:
        typer.echo("6. results.csv equals the recount: ok")
    if outcome.result_index is None:
        typer.echo(f"outcome: provisional, the recount through index {outcome.through}")
    else:
        typer.echo(
            f"outcome: published, the result at index {outcome.result_index} "
            f"(counting through index {outcome.through})"
        )
    typer.echo(f"tally: {canonical(dict(outcome.tally)).decode()}")
    if report.state is not None and report.state.process.answers is not None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        due = answers_due(report.state, report.last_index, now)
        by = report.state.process.answers.by
        typer.echo(f"answers promised by {by}: {len(due)} due as of {now}")
        for d in due:
            about = "the petition" if d.about is None else f"proposal {d.about}"
            last = f", last {d.status} at index {d.index}" if d.status is not None else ""
            typer.echo(f"  {about}: {d.state}{last}")
    typer.echo("VALID export")


@app.command("sortition")
def sortition_command(
    entries: Annotated[
        Path,
        typer.Argument(
            help="The sortition's entries.jsonl, as served at /processes/<id>/entries.jsonl."
        ),
    ],
    pool: Annotated[Path, typer.Option("--pool", help="The pool file the manifest committed to.")],
    log_key: Annotated[
        str,
        typer.Option("--log-key", help="The log's verifier key: name+hex8+base64, as published."),
    ],
    report_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the outcome (JSON) here.")
    ] = None,
) -> None:
    """Replay a sortition from its open data and its pool file (docs/spec/sortition.md)."""
    from urne.verifier.check.sortition import SortitionMismatch, replay

    verifier = _verifier(log_key)
    data = _read(pool)
    try:
        with entries.open("rb") as fh:
            report = check_export(fh, verifier)
        got = replay(report, data)
    except SortitionMismatch as exc:
        typer.echo(f"INVALID ({exc.code}): {exc}")
        if report_file is not None:
            _write_json(report_file, {"ok": False, "code": exc.code, "message": str(exc),
                                      "evidence": exc.evidence})  # fmt: skip
            typer.echo(f"evidence written to {report_file}")
        raise typer.Exit(1) from exc
    except VerificationError as exc:
        typer.echo(f"INVALID ({exc.code}): {exc}")
        raise typer.Exit(1) from exc
    except OSError as exc:
        typer.echo(f"error: cannot read {entries}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    rule = got.rule
    typer.echo(f"process: {got.process.id}")
    typer.echo(
        f"1. the export checks against the log's key (size {report.checkpoint.checkpoint.size}): ok"
    )
    typer.echo(
        f"2. the pool file is the one committed ({rule.people} people, "
        f"sha256 {rule.pool_sha256}): ok"
    )
    typer.echo(
        f"3. drand quicknet round {rule.round}: signature verified, "
        f"randomness {got.randomness.hex()}"
    )
    typer.echo(f"4. seed (log root at size {got.size}): {got.seed.hex()}")
    typer.echo(
        f"5. the draw on the log names the panel the seed gives (attempt {got.outcome.attempt}): ok"
    )
    for seat, m in enumerate(got.panel, start=1):
        typer.echo(f"  {seat:>3}. {m.id} ({', '.join(m.values)})")
    if report_file is not None:
        _write_json(report_file, {
            "ok": True,
            "process": got.process.id,
            "round": rule.round,
            "randomness": got.randomness.hex(),
            "seed": got.seed.hex(),
            "attempt": got.outcome.attempt,
            "panel": [{"id": m.id, "values": list(m.values)} for m in got.panel],
        })  # fmt: skip
    typer.echo("VALID sortition")


def _write_json(path: Path, obj: object) -> None:
    try:
        path.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        _could_not_check("io_error", f"cannot write {path}: {exc.strerror}")


# -- challenge files (docs/secret-ballot.md §5) ---------------------------------------

#: The most bytes read of the service's description of a process (its manifest
#: is at most 65,535 bytes), of one entry of ``/log/entries`` (its bytes in
#: base64) and of a receipt (an entry, a checkpoint and its proof).
_MAX_PROCESS_ANSWER = 1 << 20
_MAX_ENTRY_ANSWER = 128 << 10
_MAX_RECEIPT_ANSWER = 256 << 10


def _answer(url: str, max_bytes: int, what: str, timeout: float) -> object:
    data = fetch_url(url, max_bytes=max_bytes, what=what, deadline=timeout)
    try:
        return json.loads(data)
    except ValueError:
        _could_not_check("bad_process_answer", f"GET {url}: the answer is not JSON")


def _manifest_bytes(
    base: str, election: Election, verifier: Ed25519Verifier | None, timeout: float
) -> tuple[bytes, str]:
    """The manifest entry's bytes as the log serves them, and how they were
    read: with --log-key, with their inclusion proof under that key."""
    return _entry_bytes(base, election.index, verifier, timeout, "the manifest")


def _logged_key(
    base: str, answer: Any, election: Election, verifier: Ed25519Verifier, timeout: float
) -> int:
    """With --log-key: the election key the service publishes is the one of the
    log's ``election-key`` entry of this process, read with its inclusion proof
    (``bad_election_key`` otherwise). Returns the entry's index."""
    secret = answer.get("secret") if isinstance(answer, dict) else None
    index = secret.get("election_key_index") if isinstance(secret, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        _could_not_check("bad_process_answer", "the process names no election-key entry")
    data, _ = _entry_bytes(base, index, verifier, timeout, "the election key")
    body = decode_entry(data).body
    if (
        not isinstance(body, ElectionKey)
        or body.issuer
        or body.process != election.process
        or body.key != election.key
    ):
        raise VerificationError(
            f"the entry at index {index} is not {election.process}'s election key as the "
            "service publishes it",
            code="bad_election_key",
        )
    return index


def _entry_bytes(
    base: str, index: int, verifier: Ed25519Verifier | None, timeout: float, what: str
) -> tuple[bytes, str]:
    """An entry's bytes as the log serves them, and how they were read: with
    --log-key, with their inclusion proof under that key."""
    if verifier is None:
        url = f"{base}/log/entries/{index}"
        obj = _answer(url, _MAX_ENTRY_ANSWER, "an entry", timeout)
        data = obj.get("data") if isinstance(obj, dict) else None
        try:
            if not isinstance(data, str):
                raise ValueError("no data")
            return base64.b64decode(data, validate=True), "as the log serves it"
        except ValueError:
            _could_not_check("bad_process_answer", f"GET {url}: no entry's bytes in the answer")
    url = f"{base}/entries/{index}/receipt"
    try:
        rc = Receipt.from_json(_answer(url, _MAX_RECEIPT_ANSWER, "a receipt", timeout))
    except FormatError as exc:
        _could_not_check("bad_process_answer", f"GET {url}: not a receipt ({exc})")
    if rc.index != index:
        raise VerificationError(
            f"asked for the receipt of {what} at index {index}, the service "
            f"answered one of index {rc.index}",
            code="bad_receipt",
        )
    size = check_receipt(rc, verifier).checkpoint.size
    return rc.entry, f"in the log signed by {verifier.name} (size {size}, inclusion proof)"


def _read_at_most(file: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of ``file``: what is beyond is refused unread."""
    try:
        with file.open("rb") as fh:
            return fh.read(max_bytes)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc


@app.command("challenge")
def challenge_command(
    file: Annotated[
        Path, typer.Argument(help="A challenge file (urne-challenge/1), as a wallet wrote it.")
    ],
    service: Annotated[
        str | None,
        typer.Option(
            "--service",
            help="The service's URL: check the file against the process it publishes "
            "(proposals, rule, manifest fingerprint, election key).",
        ),
    ] = None,
    process_file: Annotated[
        Path | None,
        typer.Option(
            "--process",
            help="Offline: the process as GET /processes/<id> describes it, saved as JSON.",
        ),
    ] = None,
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="With --service: the log's verifier key; the manifest is then read with "
            "its inclusion proof under that key.",
        ),
    ] = None,
    timeout: Timeout = DEFAULT_DEADLINE,
) -> None:
    """Check a challenge file: the ballot it opens encrypts the choice it shows."""
    if (service is None) == (process_file is None):
        typer.echo(
            "error: give --service URL, or --process FILE (not both): the proposals' order "
            "and the rule a challenge is checked with are its process's",
            err=True,
        )
        raise typer.Exit(2)
    if log_key is not None and service is None:
        typer.echo("error: --log-key goes with --service", err=True)
        raise typer.Exit(2)
    verifier = None if log_key is None else _verifier(log_key)
    if service is not None and not service.startswith(("http://", "https://")):
        typer.echo(f"error: --service {service!r}: expected an http(s) URL", err=True)
        raise typer.Exit(2)
    try:
        ch = read_challenge(_read_at_most(file, MAX_CHALLENGE_BYTES + 1))
    except FormatError as exc:
        _could_not_check(exc.code, f"{file} is not a challenge file: {exc}")
    typer.echo(f"1. a challenge of {ch.process} for the pseudonym "
               f"{base64.b64encode(ch.pseudonym).decode()}: read")  # fmt: skip
    try:
        if service is not None:
            base = service.rstrip("/")
            answer = _answer(f"{base}/processes/{ch.process}", _MAX_PROCESS_ANSWER,
                             "a process", timeout)  # fmt: skip
            try:
                election = Election.from_process(answer)
            except FormatError as exc:
                _could_not_check(exc.code, str(exc))
            manifest, how = _manifest_bytes(base, election, verifier, timeout)
            election = election.with_manifest(manifest)
            source = f"{base} publishes"
            if verifier is not None:
                at = _logged_key(base, answer, election, verifier, timeout)
                how += f"; the key is the log's election-key entry at index {at}, proven"
        else:
            assert process_file is not None
            saved = _read_at_most(process_file, _MAX_PROCESS_ANSWER)
            try:
                election = Election.from_process(json.loads(saved))
            except (ValueError, FormatError) as exc:
                code = exc.code if isinstance(exc, FormatError) else "bad_process_answer"
                _could_not_check(code, f"{process_file}: {exc}")
            source, how = f"{process_file} shows", ""
        check_published(ch, election)
        typer.echo(f"2. the key and the manifest's fingerprint are those {source} for "
                   f"{election.process}: ok")  # fmt: skip
        if election.recomputed:
            typer.echo(f"   the fingerprint is the SHA-256 of the manifest at index "
                       f"{election.index}, {how}")  # fmt: skip
        selected = check_challenge(ch, election.proposals, election.bounds, election.spend)
    except FetchError as exc:
        _could_not_check(exc.code, str(exc))
    except VerificationError as exc:
        typer.echo(f"INVALID ({exc.code}): {_one_line(exc)}")
        raise typer.Exit(1) from exc
    typer.echo("3. the ballot's proofs verify for this pseudonym, manifest and key: ok")
    typer.echo("4. each ciphertext is the encryption of the choice shown, with the randomness "
               "revealed: ok")  # fmt: skip
    shown = ", ".join(election.titles[k] for k in selected) or "no proposal"
    typer.echo(
        f"This ballot encrypts: {shown}. A ballot made like it and cast would count for "
        "that choice."
    )
    typer.echo("VALID challenge")


if __name__ == "__main__":
    app()
