"""``urne-verify``: what citizens and observers run to check the log.

Exit codes: 0 valid, 1 invalid (the reason is printed), 2 unusable input
(missing file, malformed verifier key).
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from verifier.canonical import fingerprint as canonical_fingerprint
from verifier.checkpoint import open_checkpoint
from verifier.errors import FormatError, VerificationError
from verifier.note import Ed25519Verifier

app = typer.Typer(
    help="Check Urne's log on your own machine, trusting nothing but its public key.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Check Urne's log on your own machine, trusting nothing but its public key."""


LogKey = Annotated[
    str,
    typer.Option(
        "--log-key", help="The log's verifier key: name+hex8+base64, as the operator publishes it."
    ),
]


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
) -> None:
    """Check that FILE is a checkpoint signed by the log's key."""
    verifier = _verifier(log_key)
    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    try:
        signed = open_checkpoint(data, verifier)
    except VerificationError as exc:
        typer.echo(f"INVALID ({exc.code}): {exc}")
        raise typer.Exit(1) from exc
    cp = signed.checkpoint
    typer.echo("VALID checkpoint")
    typer.echo(f"  origin: {cp.origin}")
    typer.echo(f"  size:   {cp.size}")
    typer.echo(f"  root:   {base64.b64encode(cp.root).decode()}")


@app.command()
def fingerprint(
    file: Annotated[
        Path,
        typer.Argument(help='JSON object of the fingerprinted fields, e.g. {"title", "body"}.'),
    ],
) -> None:
    """Print a proposal's fingerprint (equal to Decidim's): SHA-256 of its RFC 8785 JSON."""
    try:
        obj = json.loads(file.read_bytes(), parse_float=Decimal)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    except ValueError as exc:
        typer.echo(f"error: {file} is not JSON: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        typer.echo(canonical_fingerprint(obj))
    except VerificationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


if __name__ == "__main__":
    app()
