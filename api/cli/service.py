"""The service's settings and its log, for the commands run on the service's
own machine (``operator``, ``admin``): they need the ``server`` extra."""

from __future__ import annotations

from pathlib import Path

import typer

from urne.ledger.db.settings import Settings
from urne.ledger.errors import LedgerError
from urne.ledger.log import Log

__all__ = ["open_service_log", "settings_from"]


def settings_from(database_url: str | None, key_dir: Path | None, origin: str | None) -> Settings:
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


def open_service_log(settings: Settings) -> Log:
    from urne.api.main import open_log

    try:
        return open_log(settings)
    except LedgerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
