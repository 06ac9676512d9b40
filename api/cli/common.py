"""What the role modules of ``urne`` share: the command groups, the options,
one-line failures, an API client.

It imports nothing of the server side at import time, so the institution's
commands run where only ``pip install urne`` was done."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from urne.api.client import InstitutionKey, UrneClient

app = typer.Typer(
    help="Urne operator commands: run the service, manage the log.",
    no_args_is_help=True,
    add_completion=False,
)


institution_app = typer.Typer(
    help="Institutions: their keys, and registering them on this service.",
    no_args_is_help=True,
)


process_app = typer.Typer(
    help="An institution's processes, through the API: open, close, publish.",
    no_args_is_help=True,
)


roll_app = typer.Typer(help="Eligibility rolls, through the API.", no_args_is_help=True)
official_app = typer.Typer(
    help="Officials: their keys, and the paper batches they record.", no_args_is_help=True
)
paper_app = typer.Typer(help="Paper ballots, recorded by an official.", no_args_is_help=True)
office_app = typer.Typer(
    help="An office of a process's credential issuers, on the office's own machine: its "
    "share of the issuer key and its copy of the roll (docs/spec/issuer-ceremony.md).",
    no_args_is_help=True,
)
app.add_typer(institution_app, name="institution")
app.add_typer(process_app, name="process")
app.add_typer(roll_app, name="roll")
app.add_typer(official_app, name="official")
app.add_typer(paper_app, name="paper")
app.add_typer(office_app, name="office")


DatabaseOpt = Annotated[
    str | None, typer.Option("--database-url", help="Overrides URNE_DATABASE_URL.")
]


KeyDirOpt = Annotated[Path | None, typer.Option("--key-dir", help="Overrides URNE_KEY_DIR.")]


OriginOpt = Annotated[str | None, typer.Option("--origin", help="Overrides URNE_ORIGIN.")]


ServerOpt = Annotated[str, typer.Option("--server", help="The service, e.g. http://127.0.0.1:8000")]
LogKeyOpt = Annotated[
    str | None, typer.Option("--log-key", help="The log's verifier key, as published.")
]


KeyFileOpt = Annotated[
    Path, typer.Option("--key", help="The institution's key file (urne institution keygen).")
]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def client_for(server: str, key_file: Path | None = None) -> UrneClient:
    key = None
    if key_file is not None:
        try:
            key = InstitutionKey.load(key_file)
        except (OSError, ValueError) as exc:
            fail(f"cannot use the key file: {exc}", 2)
    try:
        return UrneClient(server, key)
    except ValueError as exc:
        fail(str(exc), 2)


def new_private_file(path: Path) -> int:
    """A new file, ``0600``, for secrets; an existing one is never overwritten."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} exists; it is never overwritten", 2)
    except OSError as exc:
        fail(f"cannot create {path}: {exc}", 2)
