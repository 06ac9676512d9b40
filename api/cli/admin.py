"""The service administrator's commands on this machine's database: registering
institutions (``urne institution add``, ``list``). They need the ``server`` extra."""

from __future__ import annotations

from typing import Annotated

import typer

from urne.api.cli.common import IssuanceDatabaseOpt, fail, institution_app
from urne.api.cli.service import settings_from
from urne.ledger.errors import InvalidRequest
from urne.verifier.civic.entries import b64encode


@institution_app.command("add")
def institution_add(
    name: Annotated[str, typer.Argument(help="The institution's name (its key id).")],
    public_key: Annotated[str, typer.Argument(help="Its Ed25519 public key, base64.")],
    issuance_database_url: IssuanceDatabaseOpt = None,
) -> None:
    """Register an institution in this service's database."""
    from urne.ledger.institutions.registry import add_institution
    from urne.ledger.issuance.roll import open_roll
    from urne.verifier.civic.entries import b64decode
    from urne.verifier.errors import FormatError

    s = settings_from(None, None, None, issuance_database_url=issuance_database_url)
    try:
        raw = b64decode(public_key, "public key", size=32)
    except FormatError as exc:
        fail(f"{exc} (expected base64 of a 32-byte Ed25519 public key)", 2)
    engine = open_roll(s.issuance_database_url)
    try:
        added = add_institution(engine, name, raw)
    except InvalidRequest as exc:
        fail(f"{exc} ({exc.code})")
    finally:
        engine.dispose()
    typer.echo(f"registered {added.name} ({public_key}) at {added.added_at.isoformat()}")


@institution_app.command("list")
def institution_list(issuance_database_url: IssuanceDatabaseOpt = None) -> None:
    """The institutions registered in this service's database."""
    from urne.ledger.institutions.registry import institutions
    from urne.ledger.issuance.roll import open_roll

    s = settings_from(None, None, None, issuance_database_url=issuance_database_url)
    engine = open_roll(s.issuance_database_url)
    try:
        found = institutions(engine)
    finally:
        engine.dispose()
    for i in found:
        typer.echo(f"{i.name}\t{b64encode(i.public_key)}\t{i.added_at.isoformat()}")
    if not found:
        typer.echo("no institution is registered (urne institution add NAME PUBLIC_KEY)", err=True)
