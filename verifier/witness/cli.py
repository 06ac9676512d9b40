"""``urne-witness``: run a witness of Urne logs, or of any C2SP log
(docs/guides/witnesses.md).

    urne-witness keygen witness.example.org/w1 --out witness.key
    urne-witness serve --key witness.key --config logs.toml --state witness.db

``logs.toml`` lists the logs it follows, each by origin and verifier key::

    [[log]]
    origin = "vote.example.org/log"
    key = "vote.example.org/log+1a2b3c4d+AX..."

It needs nothing of the server side. Errors are one line; the exit status is 0
when done, 1 for a refused file or key, 2 for a misuse.
"""

from __future__ import annotations

import signal
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from urne.verifier.citizen.keyfile import read_private, write_new
from urne.verifier.errors import UrneError
from urne.verifier.tlog.cosignature import CosignatureSigner
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.witness.core import Witness, origin_hash
from urne.verifier.witness.server import WitnessServer
from urne.verifier.witness.state import SqliteStore

app = typer.Typer(
    help="A witness: cosigns a log's checkpoints, each only if it extends the last one "
    "it cosigned (C2SP tlog-witness).",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str, status: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


def load_config(path: Path) -> dict[str, list[Ed25519Verifier]]:
    """``{origin: [log keys]}`` from a ``logs.toml``."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        _fail(f"{path}: {exc}")
    logs: dict[str, list[Ed25519Verifier]] = {}
    entries = data.get("log")
    if not isinstance(entries, list) or not entries:
        _fail(f"{path}: expected [[log]] tables, each with an origin and a key")
    for i, entry in enumerate(entries):
        origin, key = entry.get("origin"), entry.get("key")
        keys = entry.get("keys", [key] if key is not None else [])
        if not isinstance(origin, str) or not origin or not keys:
            _fail(f"{path}: log {i + 1}: expected an origin and a key")
        if origin in logs:
            _fail(f"{path}: log {origin!r} is listed twice")
        try:
            logs[origin] = [Ed25519Verifier.from_vkey(str(k)) for k in keys]
        except UrneError as exc:
            _fail(f"{path}: log {origin!r}: {exc}")
    return logs


def load_key(path: Path) -> CosignatureSigner:
    try:
        return CosignatureSigner.from_skey(read_private(path))
    except (OSError, UrneError) as exc:
        _fail(f"{path}: {exc}")


@app.command()
def keygen(
    name: Annotated[str, typer.Argument(help="The witness's name, e.g. witness.example.org/w1.")],
    out: Annotated[Path, typer.Option("--out", help="The key file to create (0600).")],
) -> None:
    """Make the witness's signing key; prints its verifier key, to publish."""
    try:
        signer = CosignatureSigner.generate(name)
        write_new(out, signer.skey)
    except FileExistsError:
        _fail(f"{out} exists: a witness keeps its key")
    except UrneError as exc:
        _fail(str(exc))
    typer.echo(f"witness key: {signer.witness.vkey}")


@app.command()
def serve(
    key: Annotated[Path, typer.Option("--key", help="The witness's key file.")],
    config: Annotated[Path, typer.Option("--config", help="logs.toml: the logs it follows.")],
    state: Annotated[Path, typer.Option("--state", help="The state file (SQLite, 0600).")],
    listen: Annotated[str, typer.Option("--listen", help="host:port")] = "127.0.0.1:7380",
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every request.")] = False,
) -> None:
    """Answer add-checkpoint (POST /add-checkpoint) and the monitoring endpoint."""
    signer = load_key(key)
    logs = load_config(config)
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        _fail(f"--listen {listen!r}: expected host:port", 2)
    try:
        store = SqliteStore(state, logs)
    except UrneError as exc:
        _fail(str(exc))
    server = WitnessServer((host or "127.0.0.1", int(port)), Witness(signer, logs, store),
                           verbose=verbose)  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    typer.echo(f"witness {signer.witness.vkey}")
    typer.echo(f"listening on {server.url}, following {len(logs)} log(s)", err=False)
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()


@app.command()
def status(
    config: Annotated[Path, typer.Option("--config", help="logs.toml")],
    state: Annotated[Path, typer.Option("--state", help="The state file.")],
) -> None:
    """The last checkpoint cosigned for each log."""
    logs = load_config(config)
    try:
        store = SqliteStore(state, logs)
    except UrneError as exc:
        _fail(str(exc))
    for origin in logs:
        s = store.get(origin)
        when = (
            datetime.fromtimestamp(s.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            if s.timestamp
            else "never cosigned"
        )
        path = f"/{origin_hash(origin)}/checkpoint"
        typer.echo(f"{origin}  size {s.size}  last cosigned {when}  {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
