"""``urne``: the operator's command line.

Settings come from ``URNE_*`` environment variables (see ``urne.ledger.db.settings``);
the options below override them for one run.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from urne.api.client import InstitutionKey, UrneClient, UrneError
from urne.ledger.db.settings import Settings
from urne.ledger.errors import InvalidRequest, LedgerError
from urne.ledger.log import Log
from urne.verifier.citizen import authoring
from urne.verifier.civic.entries import AuthorKey, b64encode, sign_entry

if TYPE_CHECKING:
    from urne.verifier.check.opendata import ExportReport
    from urne.verifier.civic.pabulib import PabulibInstance

app = typer.Typer(
    help="Urne operator commands: run the service, manage the log.",
    no_args_is_help=True,
    add_completion=False,
)

DatabaseOpt = Annotated[
    str | None, typer.Option("--database-url", help="Overrides URNE_DATABASE_URL.")
]
KeyDirOpt = Annotated[Path | None, typer.Option("--key-dir", help="Overrides URNE_KEY_DIR.")]
OriginOpt = Annotated[str | None, typer.Option("--origin", help="Overrides URNE_ORIGIN.")]


def _settings(database_url: str | None, key_dir: Path | None, origin: str | None) -> Settings:
    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    if key_dir:
        overrides["key_dir"] = key_dir
    if origin:
        overrides["origin"] = origin
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _open(settings: Settings) -> Log:
    from urne.api.main import open_log

    try:
        return open_log(settings)
    except LedgerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def init(
    database_url: DatabaseOpt = None, key_dir: KeyDirOpt = None, origin: OriginOpt = None
) -> None:
    """Create the database and the log key (if new) and print the verifier key."""
    s = _settings(database_url, key_dir, origin)
    with _open(s) as log:
        cp = log.checkpoint()
        typer.echo(f"origin:        {log.origin}")
        typer.echo(f"verifier key:  {log.verifier.vkey}")
        typer.echo(f"size:          {cp.size}")
        typer.echo(f"database:      {s.database_url}")
        typer.echo(f"key directory: {s.key_dir}")


@app.command()
def append(
    files: Annotated[
        list[Path], typer.Argument(help="Each file is one entry; '-' reads one from stdin.")
    ],
    database_url: DatabaseOpt = None,
    key_dir: KeyDirOpt = None,
    origin: OriginOpt = None,
) -> None:
    """Append entries to the log and print their indices once committed."""
    entries = [sys.stdin.buffer.read() if str(f) == "-" else f.read_bytes() for f in files]
    with _open(_settings(database_url, key_dir, origin)) as log:
        try:
            indices = log.append_many(entries)
        except InvalidRequest as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        for f, i in zip(files, indices, strict=True):
            typer.echo(f"{i}\t{f}")


@app.command()
def checkpoint(
    database_url: DatabaseOpt = None, key_dir: KeyDirOpt = None, origin: OriginOpt = None
) -> None:
    """Print the latest signed checkpoint."""
    with _open(_settings(database_url, key_dir, origin)) as log:
        typer.echo(log.checkpoint().text, nl=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Overrides URNE_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides URNE_PORT.")] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Into an empty log, put a demo petition, vote and budget with a crowd of "
            "simulated citizens who take part through the real protocol.",
        ),
    ] = False,
    rate_limit: Annotated[
        bool,
        typer.Option(
            "--rate-limit/--no-rate-limit",
            help="Limit POST /entries and /issuance per client address (docs/api.md §5). "
            "Turn it off only for a local demo or a test.",
        ),
    ] = True,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="A line per request on standard output (never with the client's address). "
            "Off, the service spends less per ballot under heavy load.",
        ),
    ] = True,
    database_url: DatabaseOpt = None,
    key_dir: KeyDirOpt = None,
    origin: OriginOpt = None,
) -> None:
    """Run the HTTP service (OpenAPI documentation at /docs)."""
    import uvicorn

    from urne.api.main import DEFAULT_RATE_LIMIT, create_app

    s = _settings(database_url, key_dir, origin)
    log = _open(s)
    if demo and log.size == 0:
        from urne.ledger.civic.record import CivicRecord
        from urne.ledger.demo import populate_demo

        with typer.progressbar(length=1, label="demo citizens taking part") as bar:
            done = [0]

            def progress(n: int, total: int) -> None:
                bar.length = total
                bar.update(n - done[0])
                done[0] = n

            populate_demo(CivicRecord(log), s.key_dir, s.database_url, progress=progress)
    h, p = host or s.host, port or s.port
    typer.echo(f"Urne log {log.origin}, {log.size} entries, verifier key {log.verifier.vkey}")
    typer.echo(f"serving on http://{h}:{p}/  (pages for people; API documentation: /docs)")
    typer.echo(f"check a receipt in your browser: http://{h}:{p}/receipt")
    try:
        uvicorn.run(
            create_app(log, s, rate_limit=DEFAULT_RATE_LIMIT if rate_limit else None),
            host=h,
            port=p,
            log_level="info",
            access_log=access_log,
        )
    finally:
        log.close()


# --------------------------------------------------------------------------
# Institutions, processes and rolls (docs/operating.md §Institutions)
# --------------------------------------------------------------------------

institution_app = typer.Typer(
    help="Institutions: their keys, and registering them on this service.",
    no_args_is_help=True,
)
process_app = typer.Typer(
    help="An institution's processes, through the API: open, close, publish.",
    no_args_is_help=True,
)
roll_app = typer.Typer(help="Eligibility rolls, through the API.", no_args_is_help=True)
app.add_typer(institution_app, name="institution")
app.add_typer(process_app, name="process")
app.add_typer(roll_app, name="roll")

ServerOpt = Annotated[str, typer.Option("--server", help="The service, e.g. http://127.0.0.1:8000")]
KeyFileOpt = Annotated[
    Path, typer.Option("--key", help="The institution's key file (urne institution keygen).")
]


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _client(server: str, key_file: Path | None = None) -> UrneClient:
    key = None
    if key_file is not None:
        try:
            key = InstitutionKey.load(key_file)
        except (OSError, ValueError) as exc:
            _fail(f"cannot use the key file: {exc}", 2)
    try:
        return UrneClient(server, key)
    except ValueError as exc:
        _fail(str(exc), 2)


def _new_private_file(path: Path) -> int:
    """A new file, ``0600``, for secrets; an existing one is never overwritten."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"{path} exists; it is never overwritten", 2)
    except OSError as exc:
        _fail(f"cannot create {path}: {exc}", 2)


@institution_app.command("keygen")
def institution_keygen(
    name: Annotated[str, typer.Argument(help="The institution's name (its key id).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the key file (0600).")],
) -> None:
    """Make an institution's Ed25519 key; prints the public key to register."""
    from urne.ledger.institutions.registry import INSTITUTION_NAME

    if not INSTITUTION_NAME.fullmatch(name):
        _fail(
            "a name is 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit", 2
        )
    key = InstitutionKey.generate(name)
    try:
        key.save(out)
    except FileExistsError:
        _fail(f"{out} exists; it is never overwritten", 2)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc}", 2)
    public = b64encode(key.public_key)
    typer.echo(f"key file:    {out} (keep it secret; back it up offline)")
    typer.echo(f"public key:  {public}")
    typer.echo("Give the service's operator this line to register the institution:")
    typer.echo(f"  urne institution add {name} {public}")


@institution_app.command("add")
def institution_add(
    name: Annotated[str, typer.Argument(help="The institution's name (its key id).")],
    public_key: Annotated[str, typer.Argument(help="Its Ed25519 public key, base64.")],
    database_url: DatabaseOpt = None,
) -> None:
    """Register an institution in this service's database."""
    from urne.ledger.institutions.registry import add_institution
    from urne.ledger.issuance.service import open_roll
    from urne.verifier.civic.entries import b64decode
    from urne.verifier.errors import FormatError

    s = _settings(database_url, None, None)
    try:
        raw = b64decode(public_key, "public key", size=32)
    except FormatError as exc:
        _fail(f"{exc} (expected base64 of a 32-byte Ed25519 public key)", 2)
    engine = open_roll(s.database_url)
    try:
        added = add_institution(engine, name, raw)
    except InvalidRequest as exc:
        _fail(f"{exc} ({exc.code})")
    finally:
        engine.dispose()
    typer.echo(f"registered {added.name} ({public_key}) at {added.added_at.isoformat()}")


@institution_app.command("list")
def institution_list(database_url: DatabaseOpt = None) -> None:
    """The institutions registered in this service's database."""
    from urne.ledger.institutions.registry import institutions
    from urne.ledger.issuance.service import open_roll

    engine = open_roll(_settings(database_url, None, None).database_url)
    try:
        found = institutions(engine)
    finally:
        engine.dispose()
    for i in found:
        typer.echo(f"{i.name}\t{b64encode(i.public_key)}\t{i.added_at.isoformat()}")
    if not found:
        typer.echo("no institution is registered (urne institution add NAME PUBLIC_KEY)", err=True)


#: The fields of a process description (docs/operating.md §Institutions).
_DESCRIPTION = {"id", "type", "title", "text", "opens", "closes", "rule"}
_DESCRIPTION_OPTIONAL = {"issuer", "officials", "proposals"}


def manifest_from_description(
    desc: dict[str, Any], institution: AuthorKey, issuer: Mapping[str, Any]
) -> bytes:
    """The signed manifest of a process description (``FormatError`` if it is
    not one). ``issuer`` is the manifest's issuer object."""
    from urne.verifier.errors import FormatError

    missing = sorted(_DESCRIPTION - set(desc))
    unknown = sorted(set(desc) - _DESCRIPTION - _DESCRIPTION_OPTIONAL)
    if missing or unknown:
        raise FormatError(f"missing fields {missing}, unknown fields {unknown}")
    proposals = []
    for p in desc.get("proposals", []):
        if not isinstance(p, dict) or not {"id", "title", "body"} <= set(p) <= {
            "id",
            "title",
            "body",
            "cost",
        }:
            raise FormatError(f'a proposal is {{"id", "title", "body"[, "cost"]}}, not {p!r}')
        proposals.append(authoring.proposal(p["id"], p["title"], p["body"], cost=p.get("cost")))
    return sign_entry(
        {
            "v": 1,
            "kind": "process",
            "id": desc["id"],
            "type": desc["type"],
            "title": desc["title"],
            "text": desc["text"],
            "institution": b64encode(institution.public_key),
            "opens": desc["opens"],
            "closes": desc["closes"],
            "issuer": dict(issuer),
            "officials": desc.get("officials", []),
            "proposals": proposals,
            "rule": desc["rule"],
        },
        institution,
    )


def _issuer_shape(desc: dict[str, Any]) -> tuple[int, int]:
    issuer = desc.get("issuer", {})
    if not isinstance(issuer, dict) or not set(issuer) <= {"threshold", "shares"}:
        _fail('"issuer" is {"threshold": t, "shares": n} (both optional)', 2)
    return issuer.get("threshold", 1), issuer.get("shares", 1)


def _read_description(path: Path) -> dict[str, Any]:
    try:
        desc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read the process description {path}: {exc}", 2)
    if not isinstance(desc, dict):
        _fail(f"{path}: a process description is a JSON object", 2)
    return desc


def _save_receipt(receipt: dict[str, Any], path: Path | None) -> None:
    if path is not None:
        fd = _new_private_file(path)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(receipt, fh, indent=1)
            fh.write("\n")
        typer.echo(f"receipt:  {path}")


def _post(client: UrneClient, entry: bytes) -> dict[str, Any]:
    try:
        return client.post_entry(entry)
    except UrneError as exc:
        _fail(str(exc))


ReceiptOpt = Annotated[
    Path | None, typer.Option("--receipt", help="Save the entry's receipt there (a new file).")
]


def open_process(client: UrneClient, desc: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Ask for the issuer key, sign the manifest and append it: ``(receipt, index)``.

    The description is checked in full (with a throw-away issuer key) before
    the service is asked for the real one, which a process gets once."""
    from urne.verifier.credentials.credential import IssuerKey

    assert client.key is not None
    threshold, shares = _issuer_shape(desc)
    placeholder = {
        "public_key": b64encode(IssuerKey.generate().public_key),
        "threshold": threshold,
        "shares": shares,
    }
    manifest_from_description(desc, client.key.key, placeholder)  # FormatError if not valid
    answer = client.create_issuer_key(desc["id"], threshold=threshold, shares=shares)
    receipt = client.post_entry(manifest_from_description(desc, client.key.key, answer["issuer"]))
    return receipt, int(receipt["index"])


@process_app.command("open")
def process_open(
    description: Annotated[Path, typer.Argument(help="The process description (JSON).")],
    server: ServerOpt,
    key: KeyFileOpt,
    receipt: ReceiptOpt = None,
) -> None:
    """Open a process: its issuer key on the service, then its signed manifest."""
    from urne.verifier.errors import VerificationError

    desc = _read_description(description)
    client = _client(server, key)
    try:
        answer, index = open_process(client, desc)
    except VerificationError as exc:
        _fail(f"{description}: {exc}", 2)
    except UrneError as exc:
        _fail(str(exc))
    typer.echo(f"opened {desc['id']}: manifest at index {index}")
    _save_receipt(answer, receipt)


def _read_people(path: Path) -> list[str]:
    """The ``person`` column of a roll CSV (as ``urne.ledger.issuance.service.import_roll_csv``
    reads it: UTF-8, a header naming one ``person`` column, blank lines skipped).
    Each person is checked by the service."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, None) or []]
            if header.count("person") != 1:
                _fail(f"{path}: the first line must be a header with one 'person' column", 2)
            col = header.index("person")
            return [
                row[col] if col < len(row) else ""
                for row in reader
                if any(cell.strip() for cell in row)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        _fail(f"cannot read {path} as a UTF-8 CSV file: {exc}", 2)


@roll_app.command("import")
def roll_import(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    people_csv: Annotated[Path, typer.Argument(help="CSV with a 'person' column.")],
    server: ServerOpt,
    key: KeyFileOpt,
    codes_out: Annotated[
        Path, typer.Option("--codes-out", help="Where to write person,code (a new 0600 file).")
    ],
    skip_existing: Annotated[
        bool,
        typer.Option(help="Keep people already on the roll (no new code), not refuse."),
    ] = False,
) -> None:
    """Put people on a process's roll; writes their one-time codes, once."""
    people = _read_people(people_csv)
    client = _client(server, key)
    fd = _new_private_file(codes_out)
    try:
        answer = client.import_roll(process_id, people, skip_existing=skip_existing)
    except UrneError as exc:
        os.close(fd)
        codes_out.unlink()
        _fail(str(exc))
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["person", "code"])
        writer.writerows(answer["codes"].items())
        fh.flush()
        os.fsync(fh.fileno())
    typer.echo(f"{answer['imported']} people added to the roll of {process_id}")
    if answer["skipped"]:
        typer.echo(f"{len(answer['skipped'])} already on it, skipped (their codes are unchanged)")
    typer.echo(f"codes: {codes_out} (print and mail them, then destroy this file)")


@process_app.command("close")
def process_close(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    server: ServerOpt,
    key: KeyFileOpt,
    receipt: ReceiptOpt = None,
) -> None:
    """Close a process: nothing after the close counts."""
    client = _client(server, key)
    assert client.key is not None
    answer = _post(client, authoring.close(process_id, client.key.key))
    typer.echo(f"closed {process_id}: close at index {answer['index']}")
    _save_receipt(answer, receipt)


def recount_export(client: UrneClient, process_id: str, log_key: str | None) -> ExportReport:
    """Download the process's open data and check it in full (every proof,
    signature and credential; ``urne.verifier.check.opendata.check_export``)."""
    from urne.verifier.check.opendata import check_export, parse_header
    from urne.verifier.tlog.note import Ed25519Verifier

    pid = urllib.parse.quote(process_id, safe="")
    data = client.get_bytes(f"/processes/{pid}/entries.jsonl")
    lines = data.splitlines(keepends=True)
    vkey = log_key if log_key is not None else parse_header(lines[0] if lines else b"").log_key
    return check_export(lines, Ed25519Verifier.from_vkey(vkey))


def publish_result(client: UrneClient, process_id: str, log_key: str | None) -> tuple[Any, Any]:
    """Recount the export and append the signed result of that recount:
    ``(report, receipt)``."""
    assert client.key is not None
    report = recount_export(client, process_id, log_key)
    entry = authoring.result(process_id, client.key.key, report.last_index, report.tally)
    return report, client.post_entry(entry)


@process_app.command("publish")
def process_publish(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    server: ServerOpt,
    key: KeyFileOpt,
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="The log's verifier key, as published; default: the one the export names "
            "(which checks the export's consistency, not who signed it).",
        ),
    ] = None,
    receipt: ReceiptOpt = None,
) -> None:
    """Recount a process from its open data and sign the result of that recount."""
    from urne.verifier.errors import VerificationError

    client = _client(server, key)
    try:
        report, answer = publish_result(client, process_id, log_key)
    except UrneError as exc:
        _fail(str(exc))
    except VerificationError as exc:
        _fail(f"the export of {process_id} does not check: {exc} ({exc.code})")
    typer.echo(
        f"recounted {report.entries} entries of {process_id} through index {report.last_index} "
        f"({report.credentials_checked} credentials checked)"
    )
    typer.echo(json.dumps(report.tally, ensure_ascii=False, sort_keys=True))
    typer.echo(f"published: result at index {answer['index']}")
    _save_receipt(answer, receipt)


@app.command("export")
def export(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")],
    database_url: DatabaseOpt = None,
    key_dir: KeyDirOpt = None,
    origin: OriginOpt = None,
) -> None:
    """Write a process's open data (entries.jsonl, results.csv) from this database."""
    from urne.ledger.civic.opendata import export_process
    from urne.ledger.civic.record import CivicRecord
    from urne.verifier.civic.process import EntryRefused

    with _open(_settings(database_url, key_dir, origin)) as log:
        try:
            files = export_process(CivicRecord(log), process_id, directory)
        except EntryRefused as exc:
            _fail(f"{exc} ({exc.code})")
    typer.echo(f"{files.entries_path}\t{files.entries} entries, checkpoint size {files.size}")
    typer.echo(f"{files.results_path}\t{files.status}")


# --------------------------------------------------------------------------
# The demo, through the API
# --------------------------------------------------------------------------

DEMO_INSTITUTION = "demo-institution"


def _demo_key(key_file: Path | None, settings: Settings) -> InstitutionKey:
    """The given key, or the demo institution's key in the key directory,
    made and registered in the settings' database on first use."""
    from urne.ledger.institutions.registry import add_institution, institution_key
    from urne.ledger.issuance.service import open_roll

    if key_file is not None:
        try:
            return InstitutionKey.load(key_file)
        except (OSError, ValueError) as exc:
            _fail(f"cannot use the key file: {exc}", 2)
    path = settings.key_dir / f"{DEMO_INSTITUTION}.json"
    if not path.exists():
        settings.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        InstitutionKey.generate(DEMO_INSTITUTION).save(path)
    try:
        key = InstitutionKey.load(path)
    except (OSError, ValueError) as exc:
        _fail(f"cannot use the demo key: {exc}", 2)
    engine = open_roll(settings.database_url)
    try:
        known = institution_key(engine, key.name)
        if known is None:
            add_institution(engine, key.name, key.public_key)
        elif known != key.public_key:
            _fail(f"{key.name} is registered with another key than {path}", 2)
    finally:
        engine.dispose()
    return key


def run_demo(
    client: UrneClient,
    *,
    citizens: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    log_key: str | None = None,
    pabulib: tuple[PabulibInstance, bytes] | None = None,
) -> dict[str, Any]:
    """A petition, a vote and a budget, from opening to published result, with
    ``citizens`` simulated people taking part through the API. Returns, per
    process id, its result's tally (or ``None`` if the server has no open-data
    export to recount from).

    ``pabulib``: a parsed pabulib file and its bytes. The budget is then that
    file's (its projects, costs, budget and ballot lengths), and its ballots,
    besides the simulated citizens', are recorded as paper batches by the demo
    official, each naming the file's SHA-256 as its tally sheet."""
    import random
    import secrets
    from datetime import UTC, datetime, timedelta

    from urne.ledger.demo import demo_choice, demo_descriptions
    from urne.verifier.civic.entries import b64decode
    from urne.verifier.credentials.credential import Pseudonym, blind, credential_message, unblind

    assert client.key is not None
    rnd = random.Random(seed)
    official = AuthorKey(rnd.randbytes(32))
    suffix = f"-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"  # a fresh id each run
    now = datetime.now(UTC).replace(microsecond=0)
    descriptions = demo_descriptions(suffix, now, official.public_key)
    paper: dict[str, list[bytes]] = {}
    if pabulib is not None:
        from urne.ledger.civic.pabulib_import import (
            pabulib_description,
            pabulib_outcome,
            pabulib_paper_batches,
        )

        instance, source = pabulib
        budget = next(d for d in descriptions if d["type"] == "budget")
        pid = f"pabulib{suffix}"
        descriptions[descriptions.index(budget)] = pabulib_description(
            instance,
            process_id=pid,
            outcome=pabulib_outcome(instance),
            opens=now - timedelta(days=1),
            closes=now + timedelta(days=60),
            officials=budget["officials"],
        )
        paper[pid] = pabulib_paper_batches(instance, source, process_id=pid, official=official)
    people = [f"resident-{i:04d}" for i in range(citizens)]
    for desc in descriptions:
        pid = desc["id"]
        _, _ = open_process(client, desc)
        codes = client.import_roll(pid, people)["codes"]
        issuer = b64decode(
            client.get_json(f"/issuance/{pid}")["issuer"]["public_key"], "issuer", size=48
        )
        for person in people:
            pseudonym = Pseudonym.generate()
            state, blinded = blind(credential_message(pid, pseudonym.public_key))
            credential = unblind(
                state, client.request_credential(pid, codes[person], blinded), issuer
            )
            choice = demo_choice(desc["type"], rnd, desc if desc["type"] == "budget" else None)
            if choice is None:
                leaf = authoring.signature(pid, pseudonym, credential)
            else:
                leaf = authoring.ballot(pid, pseudonym, credential, choice)
            client.post_entry(leaf)
            if progress is not None:
                progress(1)
        if desc["type"] == "petition":
            client.post_entry(
                authoring.paper_batch(pid, official, "street-stand-1", "0" * 64, signatures=12)
            )
        for batch in paper.get(pid, []):
            client.post_entry(batch)
    outcome: dict[str, Any] = {}
    for desc in descriptions:
        client.post_entry(authoring.close(desc["id"], client.key.key))
    for desc in descriptions:
        try:
            report, _ = publish_result(client, desc["id"], log_key)
        except UrneError as exc:
            if exc.status != 404:
                raise
            outcome[desc["id"]] = None
            continue
        outcome[desc["id"]] = report.tally
    return outcome


@app.command()
def demo(
    server: ServerOpt,
    citizens: Annotated[int, typer.Option(min=1, max=10_000, help="Simulated citizens.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the citizens' choices.")] = 2026,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="A registered institution's key file; default: the demo institution's, "
            "made and registered in this machine's database (URNE_DATABASE_URL, URNE_KEY_DIR).",
        ),
    ] = None,
    log_key: Annotated[
        str | None, typer.Option("--log-key", help="The log's verifier key, to check exports.")
    ] = None,
    pabulib: Annotated[
        Path | None,
        typer.Option(
            "--pabulib",
            exists=True,
            dir_okay=False,
            help="A participatory budget in the pabulib format (.pb): the demo's budget is "
            "then this one, and the file's own ballots are recorded as paper batches.",
        ),
    ] = None,
    database_url: DatabaseOpt = None,
    key_dir: KeyDirOpt = None,
) -> None:
    """A petition, a vote and a budget, through the API from opening to result."""
    import time

    from urne.verifier.civic.pabulib import parse_pabulib_text
    from urne.verifier.errors import FormatError

    budget: tuple[PabulibInstance, bytes] | None = None
    if pabulib is not None:
        source = pabulib.read_bytes()
        try:
            budget = (parse_pabulib_text(source), source)
        except FormatError as exc:
            _fail(f"{pabulib}: {exc}")
    s = _settings(database_url, key_dir, None)
    institution = _demo_key(key, s)

    def slowed(wait: float) -> None:
        typer.echo(
            f"\nrate-limited: waiting {wait:.0f} s (start the server with --no-rate-limit "
            "for a fast demo)",
            err=True,
        )

    client = UrneClient(server, institution, retry_rate_limited=True, on_rate_limited=slowed)
    try:
        typer.echo(f"institution {client.whoami()} on {server}")
    except UrneError as exc:
        _fail(f"{exc} (a server on another database: register the key there, or pass --key)")
    start = time.monotonic()
    with typer.progressbar(length=3 * citizens, label="citizens taking part") as bar:
        try:
            outcome = run_demo(
                client,
                citizens=citizens,
                seed=seed,
                progress=bar.update,
                log_key=log_key,
                pabulib=budget,
            )
        except UrneError as exc:
            _fail(str(exc))
    for pid, tally in outcome.items():
        if tally is None:
            typer.echo(f"{pid}: closed; no result (this server has no open-data export)")
        else:
            typer.echo(f"{pid}: {json.dumps(tally, ensure_ascii=False, sort_keys=True)}")
    typer.echo(f"done in {time.monotonic() - start:.1f} s; see {server}/processes")


if __name__ == "__main__":
    app()
