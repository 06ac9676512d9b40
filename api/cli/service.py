"""The service's settings and its log, for the commands run on the service's
own machine (``operator``, ``admin``): they need the ``server`` extra."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import typer

from urne.ledger.db.settings import Settings
from urne.ledger.log import Log
from urne.verifier.errors import UrneError

__all__ = ["open_service_log", "settings_from"]


def settings_from(
    database_url: str | None,
    key_dir: Path | None,
    origin: str | None,
    *,
    issuance_database_url: str | None = None,
) -> Settings:
    overrides: dict[str, object] = {}
    if issuance_database_url:
        overrides["issuance_database_url"] = issuance_database_url
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
    """The service's log, or one line saying why not (never a traceback)."""
    from urne.api.main import open_log

    try:
        return open_log(settings)
    except UrneError as exc:
        typer.echo(f"error: {exc} ({exc.code})", err=True)
        raise typer.Exit(1) from exc
    except sa.exc.SQLAlchemyError as exc:
        where = sa.engine.make_url(settings.database_url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        typer.echo(f"error: cannot open the database {where}: {reason}", err=True)
        raise typer.Exit(1) from exc
