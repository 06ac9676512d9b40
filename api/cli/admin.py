"""The service administrator's commands on this machine's log: registering
institutions (``urne institution add``, ``list``). A registration is an entry
of the log, signed by the log's key (docs/spec/entries.md §8). They need the
``server`` extra."""

from __future__ import annotations

from typing import Annotated

import typer

from urne.api.cli.common import DatabaseOpt, KeyDirOpt, OriginOpt, fail, institution_app
from urne.api.cli.service import open_service_log, settings_from
from urne.verifier.civic.entries import ROLES, b64encode

RolesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--role",
        help=f"A role of the institution ({', '.join(ROLES)}); repeat for several. Default: open.",
    ),
]


@institution_app.command("add")
def institution_add(
    name: Annotated[str, typer.Argument(help="The institution's name (its key id).")],
    public_key: Annotated[str, typer.Argument(help="Its Ed25519 public key, base64.")],
    role: RolesOpt = None,
    database_url: DatabaseOpt = None,
    key_dir: KeyDirOpt = None,
    origin: OriginOpt = None,
) -> None:
    """Register an institution on this service's log, signed by the log's key."""
    from urne.ledger.civic.authority import register_institution
    from urne.ledger.civic.record import CivicRecord
    from urne.verifier.civic.entries import b64decode
    from urne.verifier.errors import FormatError, VerificationError

    roles = sorted(set(role or ["open"]))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        fail(f"unknown role(s) {unknown}; the roles are {', '.join(ROLES)}", 2)
    try:
        raw = b64decode(public_key, "public key", size=32)
    except FormatError as exc:
        fail(f"{exc} (expected base64 of a 32-byte Ed25519 public key)", 2)
    log = open_service_log(settings_from(database_url, key_dir, origin))
    try:
        civic = CivicRecord(log)
        index = register_institution(civic, name, raw, roles)
    except VerificationError as exc:
        fail(f"{exc} ({exc.code})")
    finally:
        log.close()
    typer.echo(f"registered {name} ({public_key}) with role(s) {', '.join(roles)}: index {index}")


@institution_app.command("list")
def institution_list(
    database_url: DatabaseOpt = None, key_dir: KeyDirOpt = None, origin: OriginOpt = None
) -> None:
    """The institutions registered on this service's log."""
    from urne.ledger.civic.record import CivicRecord

    log = open_service_log(settings_from(database_url, key_dir, origin))
    try:
        found = CivicRecord(log).institutions()
    finally:
        log.close()
    for i in found:
        typer.echo(f"{i.name}\t{b64encode(i.key)}\t{','.join(i.roles)}\tindex {i.index}")
    if not found:
        typer.echo("no institution is registered (urne institution add NAME PUBLIC_KEY)", err=True)
