"""``urne``: the operator's command line, and the institution's.

Settings come from ``URNE_*`` environment variables (see
``urne.ledger.db.settings``); the options override them for one run.

The commands live by role: ``operator`` (the log and the service on this
machine), ``admin`` (registering institutions), ``institution`` (an
institution's own machine, through the API). The first two need the
``server`` extra; without it they say, in one line, what to install.
"""

from __future__ import annotations

import importlib.util
import sys

import typer

from urne.api.cli import decidim, institution  # noqa: F401  (register their commands)
from urne.api.cli.common import app, institution_app, office_app

__all__ = ["SERVER_HINT", "app", "main", "server_extra_installed"]

#: What the service's commands need, and the one line that says so.
SERVER_MODULES = ("fastapi", "sqlalchemy", "sqlmodel", "uvicorn", "pydantic_settings", "psycopg")
SERVER_HINT = "this command needs the service's packages: pip install 'urne[server]'"


def server_extra_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in SERVER_MODULES)


def _needs_server(name: str, group: typer.Typer) -> None:
    @group.command(
        name,
        help="(needs the server extra: pip install 'urne[server]')",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    def placeholder() -> None:
        typer.echo(f"urne {name}: {SERVER_HINT}", err=True)
        raise typer.Exit(2)


if server_extra_installed():
    from urne.api.cli import admin, operator  # noqa: F401  (register their commands)
else:
    for _name in ("init", "append", "checkpoint", "serve", "export", "demo", "publish"):
        _needs_server(_name, app)
    for _name in ("add", "list"):
        _needs_server(_name, institution_app)
    for _name in ("install", "roll", "replace"):
        _needs_server(_name, office_app)


def main() -> None:
    """The ``urne`` console script."""
    app()


if __name__ == "__main__":
    main()
    sys.exit(0)
