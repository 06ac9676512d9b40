"""The operator's commands: the log and the service on this machine (``init``,
``append``, ``checkpoint``, ``serve``, ``export``, ``demo``). They need the
``server`` extra."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from urne.api.cli.common import (
    DatabaseOpt,
    KeyDirOpt,
    LogKeyOpt,
    OriginOpt,
    ServerOpt,
    app,
    fail,
    office_app,
)
from urne.api.cli.institution import (
    open_process,
    publish_result,
)
from urne.api.cli.service import open_service_log, settings_from
from urne.api.client import InstitutionKey, ServiceError, UrneClient
from urne.api.signing import http_authority
from urne.ledger.db.settings import Settings
from urne.ledger.errors import InvalidRequest
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.errors import UrneError

if TYPE_CHECKING:
    from urne.verifier.civic.pabulib import PabulibInstance


@app.command()
def init(
    database_url: DatabaseOpt = None, key_dir: KeyDirOpt = None, origin: OriginOpt = None
) -> None:
    """Create the database and the log key (if new) and print the verifier key."""
    s = settings_from(database_url, key_dir, origin)
    with open_service_log(s) as log:
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
    with open_service_log(settings_from(database_url, key_dir, origin)) as log:
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
    with open_service_log(settings_from(database_url, key_dir, origin)) as log:
        typer.echo(log.checkpoint().text, nl=False)


@app.command()
def publish(
    bucket: Annotated[
        str,
        typer.Option(
            "--bucket",
            help="Where the tiles go: s3://<bucket>[/<prefix>]. Overrides URNE_TILES_BUCKET.",
            envvar="URNE_TILES_BUCKET",
        ),
    ],
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="The S3 API's address (any S3-compatible store); default: AWS's. "
            "Overrides URNE_TILES_ENDPOINT.",
            envvar="URNE_TILES_ENDPOINT",
        ),
    ] = None,
    follow_log: Annotated[
        bool,
        typer.Option("--follow", help="Keep publishing what the log sequences, every --interval."),
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between two rounds (--follow).")
    ] = 1.0,
    database_url: DatabaseOpt = None,
    key_dir: KeyDirOpt = None,
    origin: OriginOpt = None,
) -> None:
    """Publish the log's tiles, entry bundles and checkpoint to S3-compatible object
    storage, each tile written once and never overwritten (docs/spec/log.md §8);
    with URNE_WITNESSES, also the latest checkpoint a quorum of them cosigned."""
    from urne.ledger.log.bucket import BucketError, TileBucket, follow
    from urne.ledger.log.bucket import publish as publish_round

    try:
        target = TileBucket(bucket, endpoint=endpoint)
    except UrneError as exc:
        fail(f"{exc} ({exc.code})", 2)
    s = settings_from(database_url, key_dir, origin)
    with open_service_log(s) as log:
        witnessing = None
        if s.witnesses:  # readers who require the witnesses read the bucket too
            from urne.ledger.log.witnessing import Witnessing, parse_witnesses

            try:
                witnessing = Witnessing(log, parse_witnesses(s.witnesses), s.witness_quorum)
            except UrneError as exc:
                fail(f"URNE_WITNESSES: {exc} ({exc.code})", 2)
        try:
            if follow_log:
                typer.echo(f"publishing {log.origin} to {bucket} every {interval:g} s")
                follow(log, target, interval=interval, say=typer.echo, witnessing=witnessing)
                return
            r = publish_round(log, target, witnessing)
        except BucketError as exc:
            fail(f"{exc} ({exc.code})")
        except KeyboardInterrupt:
            return
        typer.echo(
            f"published {r.size} entries to {bucket}: {r.written} objects written, "
            f"{r.found} there already"
        )


def listening_authority(host: str, port: int) -> str | None:
    """The authority of ``http://host:port``, which a service listening there
    takes as its public one unless told otherwise (``URNE_PUBLIC_AUTHORITY``);
    ``None`` for a wildcard address (``0.0.0.0``, ``::``), which no client
    names: each request's own socket address is used then."""
    try:
        if ipaddress.ip_address(host).is_unspecified:
            return None
    except ValueError:
        pass  # a host name
    return http_authority("http", host, port)


def serve_options(settings: Settings, host: str, port: int, *, access_log: bool) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` (and ``uvicorn.Config``) for
    ``urne serve``.

    Proxy headers: uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 unless
    told otherwise, and the rate limit is per client address, so anyone on the
    service's host (or a proxy that passes the header on unchanged) would have
    a fresh bucket per request. Only the proxies ``URNE_FORWARDED_ALLOW_IPS``
    names are believed; by default none, and the address is the connection's.
    """
    trusted = [ip for ip in settings.forwarded_allow_ips.split(",") if ip]
    return {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": access_log,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
    }


def _overridden(settings: Settings, **values: str | None) -> Settings:
    """``settings`` with the options given on the command line, checked as
    the environment's are."""
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        return settings
    try:
        return Settings(**{**settings.model_dump(), **given})
    except ValueError as exc:
        fail(str(exc), 2)


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
            help="Limit POST /entries and /issuance per client address (docs/spec/api.md §5). "
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
    public_authority: Annotated[
        str | None,
        typer.Option(
            "--public-authority",
            help="host[:port] of the URL clients use, which institutions sign "
            "(docs/spec/api.md §6). Overrides URNE_PUBLIC_AUTHORITY; default: "
            "where the service listens.",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Reverse proxies (comma-separated addresses or networks, or *) whose "
            "X-Forwarded-For gives the client's address. Overrides "
            "URNE_FORWARDED_ALLOW_IPS; default: none, the connection's address counts.",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A witness to submit every checkpoint to, as VKEY@URL (its verifier key, "
            "then its address); repeat for each. Overrides URNE_WITNESSES.",
        ),
    ] = None,
    witness_quorum: Annotated[
        int | None,
        typer.Option(
            "--witness-quorum",
            min=0,
            help="How many witnesses make a checkpoint cosigned (receipts prefer those). "
            "Overrides URNE_WITNESS_QUORUM; default: all of them.",
        ),
    ] = None,
    tiles_bucket: Annotated[
        str | None,
        typer.Option(
            "--tiles-bucket",
            help="Also publish the log's tiles and checkpoint to this S3-compatible bucket, "
            "s3://bucket[/prefix], as they are sequenced (docs/spec/log.md §8). Overrides "
            "URNE_TILES_BUCKET; the endpoint is URNE_TILES_ENDPOINT.",
        ),
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="all: the whole service; casting: the log, the pages, /entries and the "
            "institutions' routes; issuance: /issuance alone, on another host than casting "
            "(docs/spec/issuance.md §5), without the log.",
        ),
    ] = "all",
    database_url: DatabaseOpt = None,
    key_dir: KeyDirOpt = None,
    origin: OriginOpt = None,
) -> None:
    """Run the HTTP service (OpenAPI documentation at /docs)."""
    import uvicorn

    from urne.api.main import DEFAULT_RATE_LIMIT, create_app

    if role not in ROLES:
        fail(f"--role is one of {', '.join(ROLES)}, not {role!r}", 2)
    s = _overridden(
        settings_from(database_url, key_dir, origin),
        public_authority=public_authority,
        forwarded_allow_ips=forwarded_allow_ips,
        witnesses=",".join(witness) if witness else None,
        witness_quorum=None if witness_quorum is None else str(witness_quorum),
        tiles_bucket=tiles_bucket,
    )
    if role == "issuance":
        if demo:
            fail("--demo writes to the log, which an issuance host does not open", 2)
        _serve_issuance(s, host or s.host, port or s.port, rate_limit, access_log)
        return
    if s.witnesses:
        from urne.ledger.log.witnessing import parse_witnesses

        try:
            parse_witnesses(s.witnesses)
        except UrneError as exc:
            fail(f"--witness: {exc} ({exc.code})", 2)
    log = open_service_log(s)
    spare_codes: dict[str, list[tuple[str, str]]] = {}
    codes_file = s.key_dir / DEMO_CODES
    if demo and log.size:
        typer.echo(
            f"the log holds {log.size} entries: no demo added (for a new one, stop the "
            "service and remove its data directory)"
            + (f"; the demo's unused codes are in {codes_file}" if codes_file.exists() else "")
        )
    if demo and log.size == 0:
        from urne.ledger.civic.record import CivicRecord
        from urne.ledger.demo import populate_demo

        with typer.progressbar(length=1, label="demo citizens taking part") as bar:
            done = [0]

            def progress(n: int, total: int) -> None:
                bar.length = total
                bar.update(n - done[0])
                done[0] = n

            populate_demo(
                CivicRecord(log),
                s.key_dir,
                s.issuance_database_url,
                progress=progress,
                spare=DEMO_SPARE,
                spare_codes=spare_codes,
            )
        keep_demo_codes(codes_file, spare_codes)
    h, p = host or s.host, port or s.port
    authority = s.public_authority or listening_authority(h, p)
    typer.echo(f"Urne log {log.origin}, {log.size} entries, verifier key {log.verifier.vkey}")
    typer.echo(f"serving on http://{h}:{p}/  (pages for people; API documentation: /docs)")
    typer.echo(f"check a receipt in your browser: http://{h}:{p}/receipt")
    if spare_codes:
        typer.echo(f"unused one-time codes, to take part yourself (also in {codes_file}):")
    for pid, codes in spare_codes.items():
        typer.echo(f"  {pid}:")
        for person, code in codes:
            typer.echo(f"    {person}  {code}")
    if spare_codes:
        vote = spare_codes.get("demo-vote", [("", "<code>")])[0][1]
        typer.echo(
            f"  e.g.: urne-wallet join http://{h}:{p} demo-vote --code {vote} "
            "&& urne-wallet vote demo-vote river"
        )
    typer.echo(
        f"institution requests are signed for {authority}"
        if authority
        else "institution requests are signed for the address they reach; "
        "set URNE_PUBLIC_AUTHORITY to the service's public host name"
    )
    proxies = s.forwarded_allow_ips
    typer.echo(
        f"client addresses: X-Forwarded-For from {proxies}"
        if proxies
        else "client addresses: the connection's (no proxy's X-Forwarded-For is believed)"
    )
    try:
        service = create_app(
            log,
            s,
            issuance=role == "all",
            rate_limit=DEFAULT_RATE_LIMIT if rate_limit else None,
            public_authority=authority,
        )
        if role == "casting":
            typer.echo("casting only: /issuance is served by the issuance host")
        witnessing = service.state.witnessing
        if witnessing is not None:
            typer.echo(
                f"witnesses: {len(witnessing.witnesses)}, a checkpoint is cosigned with "
                f"{witnessing.policy.quorum} of them"
            )
        uvicorn.run(service, **serve_options(s, h, p, access_log=access_log))
    finally:
        log.close()


#: Where ``urne serve --demo`` keeps the codes it left unused, beside the keys.
DEMO_CODES = "demo-codes.txt"


def keep_demo_codes(path: Path, spare_codes: dict[str, list[tuple[str, str]]]) -> None:
    """The demo's unused codes, in a private file: printed once at start, they
    are still there after a restart."""
    lines = [
        f"{pid}\t{person}\t{code}" for pid, codes in spare_codes.items() for person, code in codes
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("process\tperson\tone-time code\n" + "\n".join(lines) + "\n")


#: What ``urne serve --role`` may run.
ROLES = ("all", "casting", "issuance")


def _serve_issuance(s: Settings, h: str, p: int, rate_limit: bool, access_log: bool) -> None:
    """``/issuance`` alone: the roll and the issuer keys, never the log, so
    that the host that sees who asks for a credential sees nothing of when
    ballots arrive (docs/spec/issuance.md §5)."""
    import uvicorn

    from urne.api.main import DEFAULT_RATE_LIMIT, create_app

    service = create_app(
        None, s, casting=False, rate_limit=DEFAULT_RATE_LIMIT if rate_limit else None
    )
    typer.echo(f"issuance only: serving /issuance on http://{h}:{p}/ (no log on this host)")
    uvicorn.run(service, **serve_options(s, h, p, access_log=access_log))


@office_app.command("install")
def office_install(
    server: ServerOpt,
    secret: Annotated[
        Path,
        typer.Option("--secret", help="The office's secret file (urne-trustee keygen --office)."),
    ],
    log_key: LogKeyOpt = None,
    key_dir: KeyDirOpt = None,
) -> None:
    """Install this office's share of the issuer key, from the offices' ceremony on
    the log (checked whole), in this office's key directory for urne serve --role issuance."""
    from urne.ledger.issuance.errors import IssuerKeyExists
    from urne.ledger.issuance.keyring import IssuerKeyring
    from urne.verifier.trustee import ceremony as steps

    s = settings_from(None, key_dir, None)
    keyring = IssuerKeyring(s.key_dir)
    try:
        with steps.open_session(
            server, secret, log_key, say=typer.echo, note=lambda m: typer.echo(m, err=True)
        ) as session:
            index, x, c = steps.share(session)
            assert c.key is not None
            keyring.install_share(
                session.file.process,
                index,
                x,
                public_key=c.key,
                threshold=c.spec.threshold,
                shares=len(c.spec.trustees),
                share_public_keys=dict(c.verification_keys),
            )
    except ValueError as exc:  # not a service's address
        fail(str(exc), 2)
    except IssuerKeyExists as exc:
        fail(f"{exc} ({exc.code})")
    except UrneError as exc:
        fail(f"{exc} ({exc.code})")
    typer.echo(
        f"share {index} of the issuer key of {session.file.process} installed in "
        f"{keyring.issuers_dir}; it matches its public key on the log"
    )
    typer.echo("Next: load the roll (urne office roll), then urne serve --role issuance.")


IssuanceDbOpt = Annotated[
    str | None,
    typer.Option("--issuance-database-url", help="Overrides URNE_ISSUANCE_DATABASE_URL."),
]


def _office_roll(key_dir: Path | None, url: str | None) -> tuple[Any, Any]:
    """An office's roll database and key directory, from its settings."""
    from urne.ledger.issuance.keyring import IssuerKeyring
    from urne.ledger.issuance.roll import open_roll

    s = settings_from(None, key_dir, None, issuance_database_url=url)
    return open_roll(s.issuance_database_url), IssuerKeyring(s.key_dir)


@office_app.command("roll")
def office_roll(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    codes: Annotated[Path, typer.Argument(help="The person,code CSV that urne roll import wrote.")],
    skip_existing: Annotated[
        bool, typer.Option(help="Keep people already on this roll, not refuse.")
    ] = False,
    key_dir: KeyDirOpt = None,
    issuance_database_url: IssuanceDbOpt = None,
) -> None:
    """Load this office's copy of the roll: the people with the codes they were sent,
    each code kept as an HMAC under this office's own roll key."""
    from urne.ledger.issuance.roll import copy_roll_csv

    roll, keyring = _office_roll(key_dir, issuance_database_url)
    try:
        result = copy_roll_csv(roll, keyring, process_id, codes, skip_existing=skip_existing)
    except UrneError as exc:
        fail(f"{exc} ({exc.code})")
    typer.echo(f"{len(result.codes)} people added to this office's roll of {process_id}")
    if result.skipped:
        typer.echo(f"{len(result.skipped)} already on it, skipped")


@office_app.command("replace")
def office_replace(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    person: Annotated[str, typer.Argument(help="The person whose letter was lost.")],
    code: Annotated[
        str | None,
        typer.Option("--code", help="The new code another office drew (omit on the first office)."),
    ] = None,
    key_dir: KeyDirOpt = None,
    issuance_database_url: IssuanceDbOpt = None,
) -> None:
    """The help desk, on an office's copy of the roll: a new code for someone not yet
    answered; the first office draws it, each other office is given it with --code."""
    from urne.ledger.issuance.roll import replace_code

    roll, keyring = _office_roll(key_dir, issuance_database_url)
    try:
        new = replace_code(roll, keyring, process_id, person, code=code)
    except UrneError as exc:
        fail(f"{exc} ({exc.code})")
    typer.echo(f"{person} has a new code on this office's roll of {process_id}: {new}")
    if code is None:
        typer.echo(f"On each other office: urne office replace {process_id} {person} --code {new}")


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

    with open_service_log(settings_from(database_url, key_dir, origin)) as log:
        try:
            files = export_process(CivicRecord(log), process_id, directory)
        except EntryRefused as exc:
            fail(f"{exc} ({exc.code})")
    typer.echo(f"{files.entries_path}\t{files.entries} entries, checkpoint size {files.size}")
    typer.echo(f"{files.results_path}\t{files.status}")


DEMO_INSTITUTION = "demo-institution"
#: People put on each demo process's roll who do not take part: their codes
#: are printed at start, for whoever tries the service to use.
DEMO_SPARE = 3


def demo_key(key_file: Path | None, settings: Settings) -> InstitutionKey:
    """The given key, or the demo institution's key in the key directory,
    made and registered on the settings' log on first use."""
    from urne.ledger.civic.authority import register_institution
    from urne.ledger.civic.record import CivicRecord
    from urne.verifier.errors import VerificationError

    if key_file is not None:
        try:
            return InstitutionKey.load(key_file)
        except (OSError, ValueError) as exc:
            fail(f"cannot use the key file: {exc}", 2)
    path = settings.key_dir / f"{DEMO_INSTITUTION}.json"
    if not path.exists():
        settings.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        InstitutionKey.generate(DEMO_INSTITUTION).save(path)
    try:
        key = InstitutionKey.load(path)
    except (OSError, ValueError) as exc:
        fail(f"cannot use the demo key: {exc}", 2)
    log = open_service_log(settings)
    try:
        civic = CivicRecord(log)
        known = civic.institution(key.name)
        if known is None:
            register_institution(civic, key.name, key.public_key)
        elif known.key != key.public_key:
            fail(f"{key.name} is registered with another key than {path}", 2)
    except VerificationError as exc:
        fail(f"cannot register the demo institution: {exc} ({exc.code})")
    finally:
        log.close()
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
    from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
    from urne.verifier.civic.entries import b64decode
    from urne.verifier.credentials.credential import ISSUER_PUBLIC_KEY_SIZE, credential_message

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
            client.get_json(f"/issuance/{pid}")["issuer"]["public_key"],
            "issuer",
            size=ISSUER_PUBLIC_KEY_SIZE,
        )
        # The crowd takes part at once, as a crowd does: the log commits at a
        # fixed cadence, and one receipt at a time would wait for every tick.
        choices = [
            demo_choice(desc["type"], rnd, desc if desc["type"] == "budget" else None)
            for _ in people
        ]

        def take_part(
            person: str,
            choice: list[str] | None,
            pid: str = pid,
            codes: dict[str, str] = codes,
            issuer: bytes = issuer,
        ) -> None:
            pseudonym = Pseudonym.generate()
            state, blinded = blind(credential_message(pid, pseudonym.public_key))
            credential = unblind(
                state, client.request_credential(pid, codes[person], blinded), issuer
            )
            if choice is None:
                leaf = authoring.signature(pid, pseudonym, credential)
            else:
                leaf = authoring.ballot(pid, pseudonym, credential, choice)
            client.post_entry(leaf)

        with ThreadPoolExecutor(max_workers=16) as pool:
            for _ in pool.map(take_part, people, choices):
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
        except ServiceError as exc:
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
            fail(f"{pabulib}: {exc}")
    s = settings_from(database_url, key_dir, None)
    institution = demo_key(key, s)

    def slowed(wait: float) -> None:
        typer.echo(
            f"\nrate-limited: waiting {wait:.0f} s (start the server with --no-rate-limit "
            "for a fast demo)",
            err=True,
        )

    client = UrneClient(server, institution, retry_rate_limited=True, on_rate_limited=slowed)
    try:
        typer.echo(f"institution {client.whoami()} on {server}")
    except ServiceError as exc:
        fail(f"{exc} (a server on another database: register the key there, or pass --key)")
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
        except ServiceError as exc:
            fail(str(exc))
    for pid, tally in outcome.items():
        if tally is None:
            typer.echo(f"{pid}: closed; no result (this server has no open-data export)")
        else:
            typer.echo(f"{pid}: {json.dumps(tally, ensure_ascii=False, sort_keys=True)}")
    typer.echo(f"done in {time.monotonic() - start:.1f} s; see {server}/processes")
