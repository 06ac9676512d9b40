"""``urne-trustee``: a trustee's part in a secret vote or budget (docs/guides/trustees.md).

    urne-trustee keygen --process vote-2027 --name "Ada Lovelace" --out ada.trustee
    urne-trustee ceremony --service https://vote.example.org --secret ada.trustee
    urne-trustee decrypt --service https://vote.example.org --secret ada.trustee
    urne-trustee status --service https://vote.example.org --secret ada.trustee

It needs nothing of the server side. Every refusal is one line; the exit
status is 0 when done, 1 when the trustee, the service or the log's own rules
refused (nothing is done on a log that breaks them), 2 when the service could
not be reached or the command was misused: nothing is lost, run it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from urne.verifier.citizen.keyfile import write_new
from urne.verifier.citizen.service import ServiceRefused
from urne.verifier.errors import FetchError, UrneError
from urne.verifier.trustee import ceremony as steps
from urne.verifier.trustee import keyfile

app = typer.Typer(
    help="A trustee of a secret vote or budget: make your keys, take part in the key ceremony, "
    "decrypt the totals after the close.",
    no_args_is_help=True,
    add_completion=False,
)

#: What to do next, after refusals a trustee meets.
NEXT: dict[str, str] = {
    "unknown_process": "check the process id and the service's address",
    "not_a_trustee": "give the institution the public object of this very file "
    "(urne-trustee public --secret FILE)",
    "process_not_closed": "run urne-trustee decrypt again after the close",
    "file_in_use": "wait for the other command to finish",
    "unsafe_key_file": "nobody but you should be able to read your secret file",
    "rate_limited": "the service is busy; try again in a minute",
}


def _fail(message: str, status: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


def _refused(exc: UrneError) -> NoReturn:
    if isinstance(exc, FetchError):
        _fail(
            f"{exc} -- the service could not be reached; nothing is lost: run the command again",
            2,
        )
    if isinstance(exc, ServiceRefused):
        _fail(f"the service refused: {exc} ({exc.code}){_hint(exc.code)}", 1)
    _fail(f"{exc} ({exc.code}){_hint(exc.code)}", 1)


def _hint(code: str) -> str:
    hint = NEXT.get(code)
    return f": {hint}" if hint else ""


Service = Annotated[
    str, typer.Option("--service", help="The service, e.g. https://vote.example.org")
]
Secret = Annotated[Path, typer.Option("--secret", help="Your secret file (urne-trustee keygen).")]
LogKey = Annotated[
    str | None,
    typer.Option(
        "--log-key",
        help="The log's verifier key as the organisers publish it; default: the one "
        "your file trusts, else the service's own (then kept in your file).",
    ),
]


def _run(
    service: str,
    secret: Path,
    log_key: str | None,
    action: Callable[[steps.Session], None],
) -> None:
    try:
        with steps.open_session(
            service, secret, log_key, say=typer.echo, note=lambda m: typer.echo(m, err=True)
        ) as session:
            action(session)
    except ValueError as exc:  # not a service's address
        _fail(str(exc), 2)
    except UrneError as exc:
        _refused(exc)


def _public_text(public: dict[str, str]) -> str:
    """The public object, its fields in the manifest's order."""
    order = ("name", "key", "share_key", "proof")
    ordered = {k: public[k] for k in order if k in public} | public
    return json.dumps(ordered, indent=1, ensure_ascii=False) + "\n"


@app.command()
def keygen(
    process: Annotated[str, typer.Option("--process", help="The process id.")],
    name: Annotated[str, typer.Option("--name", help="Your name, as the manifest shows it.")],
    out: Annotated[Path, typer.Option("--out", help="The secret file to create (0600).")],
    public: Annotated[
        Path | None,
        typer.Option("--public", help="Also write the public object to this file."),
    ] = None,
    office: Annotated[
        bool,
        typer.Option(
            "--office",
            help="For an office of the credential issuers, whose ceremony makes the issuer "
            "key (BLS12-381 G2), not a trustee of a secret vote.",
        ),
    ] = False,
) -> None:
    """Make your keys: the secret file, and the public object for the institution."""
    if public is not None and public.exists():
        _fail(f"{public} exists; choose another --public", 2)
    try:
        tf = steps.keygen(process, name, office=office)
        keyfile.create(out, tf)
    except FileExistsError:
        _fail(f"{out} exists: a trustee keeps its secret file; choose another --out", 1)
    except UrneError as exc:
        _refused(exc)
    except OSError as exc:
        _fail(f"{out}: {exc.strerror or exc}", 2)
    text = _public_text(tf.public)
    if public is not None:
        try:
            write_new(public, text, mode=0o644)
        except OSError as exc:
            _fail(f"{public}: {exc.strerror or exc}", 2)
        typer.echo(f"secret file: {out} (keep it private, and a copy of it safe)", err=True)
        typer.echo(f"public object: {public} (give it to the institution)", err=True)
        return
    typer.echo(f"secret file: {out} (keep it private, and a copy of it safe)", err=True)
    typer.echo("public object, for the institution:", err=True)
    typer.echo(text, nl=False)


@app.command("public")
def public_cmd(secret: Secret) -> None:
    """Print again the public object of your secret file."""
    try:
        tf = keyfile.load(secret)
    except UrneError as exc:
        _refused(exc)
    typer.echo(_public_text(tf.public), nl=False)


@app.command("ceremony")
def ceremony_cmd(
    service: Service,
    secret: Secret,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, help="Seconds to wait at most for the other trustees' deals."
        ),
    ] = 3600.0,
    poll: Annotated[
        float, typer.Option("--poll", min=0.05, help="Seconds between two reads of the log.")
    ] = 5.0,
    log_key: LogKey = None,
) -> None:
    """Deal, check the shares dealt to you, complain about wrong ones, post your check."""
    _run(service, secret, log_key, lambda s: steps.ceremony(s, wait=wait, poll=poll))


@app.command("decrypt")
def decrypt_cmd(service: Service, secret: Secret, log_key: LogKey = None) -> None:
    """After the close: decrypt your share of the totals, computed from the log's ballots."""
    _run(service, secret, log_key, steps.decrypt)


@app.command("status")
def status_cmd(service: Service, secret: Secret, log_key: LogKey = None) -> None:
    """The ceremony and the decryptions as the log shows them to you."""
    _run(service, secret, log_key, steps.status)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
