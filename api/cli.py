"""``urne``: the operator's command line.

Settings come from ``URNE_*`` environment variables (see ``ledger.settings``);
the options below override them for one run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger import InvalidRequest, LedgerError, Log
from ledger.settings import Settings

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
    from api.main import open_log

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
    database_url: DatabaseOpt = None,
    key_dir: KeyDirOpt = None,
    origin: OriginOpt = None,
) -> None:
    """Run the HTTP service (OpenAPI documentation at /docs)."""
    import uvicorn

    from api.main import create_app

    s = _settings(database_url, key_dir, origin)
    log = _open(s)
    if demo and log.size == 0:
        from ledger.civic import CivicRecord
        from ledger.demo import populate_demo

        with typer.progressbar(length=1, label="demo citizens taking part") as bar:
            done = [0]

            def progress(n: int, total: int) -> None:
                bar.length = total
                bar.update(n - done[0])
                done[0] = n

            populate_demo(CivicRecord(log), s.key_dir, s.database_url, progress=progress)
    h, p = host or s.host, port or s.port
    typer.echo(f"Urne log {log.origin}, {log.size} entries, verifier key {log.verifier.vkey}")
    typer.echo(f"serving on http://{h}:{p}  (API documentation: http://{h}:{p}/docs)")
    try:
        uvicorn.run(create_app(log), host=h, port=p, log_level="info")
    finally:
        log.close()


if __name__ == "__main__":
    app()
