"""``urne-wallet``: take part in a process from the command line
(docs/guides/citizens.md).

    urne-wallet join https://vote.example.org consulta-2026 --code 7K3M-Q9XD-2HRT
    urne-wallet vote consulta-2026 yes
    urne-wallet challenge consulta-2026 yes --out challenge.json
    urne-wallet receipts

It needs nothing of the server side. Every refusal is one line naming what
happened and what to do, with the service's code; the exit status is 0 when
done, 1 when the service or the wallet refused, 2 when the service could not
be reached or the command was misused.
"""

from __future__ import annotations

import json
import os
import webbrowser
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from urne.verifier.citizen.identity import IdentityLogin
from urne.verifier.citizen.wallet import Joined, Wallet, describe
from urne.verifier.civic.entries import b64decode, b64encode
from urne.verifier.errors import FetchError, FormatError, UrneError
from urne.verifier.secret.challenge import encode_challenge

app = typer.Typer(
    help="A citizen's wallet: join a process with your one-time code, sign, vote, "
    "keep and re-check your receipts.",
    no_args_is_help=True,
    add_completion=False,
)

_NOT_AS_LOGGED = (
    "the service describes this vote otherwise than its log does: do not vote with it, and "
    "tell the organisers"
)

#: What to do next, after the service's refusals a citizen meets.
NEXT: dict[str, str] = {
    "unknown_code": "check the code on your letter (letters I and O are read as 1 and 0)",
    "bad_code": "check the code on your letter",
    "already_issued": "if you did not join with it yourself (from another wallet or "
    "device), ask the help desk for a new code",
    "duplicate_choice": "name each proposal once",
    "already_signed": "you have signed this petition already",
    "process_closed": "the process has closed; nothing more can be cast in it",
    "process_ended": "the process has ended; nothing more can be cast in it",
    "process_not_open": "the process is not open yet; try again once it opens",
    "unknown_process": "check the process id; the service's home page lists its processes",
    "bad_choice": "sign a petition with `urne-wallet sign`; vote or choose projects with "
    "`urne-wallet vote` or `budget` and the proposal ids",
    "bad_credential": "the service does not know this wallet's credential: was its log "
    "started afresh? join again with another --wallet",
    "another_log": "the log was started afresh: join again with another --wallet",
    "already_voted": "you have voted already, and this process allows no change",
    "rate_limited": "the service is busy; try again in a minute",
    "over_budget": "choose projects whose costs add up to at most the budget",
    "min_share": "choose projects that spend more of the budget",
    "min_projects": "choose more projects",
    "max_projects": "choose fewer projects",
    "no_election_key": "the process is secret and its key ceremony has not ended (the institution "
    "publishes the election key once the trustees are done); try again later",
    "not_secret": "this process is public: cast with `urne-wallet vote` or `budget`, there is "
    "nothing to challenge",
    "fingerprint_mismatch": _NOT_AS_LOGGED,
    "bad_manifest": _NOT_AS_LOGGED,
    "bad_election_key": _NOT_AS_LOGGED,
    "bad_process_answer": _NOT_AS_LOGGED,
    "bad_choice_count": "choose as many proposals as the vote's rule takes",
    "ineligible": "the process's rule, published with it, leaves you out; ask the organisers "
    "if you think this is wrong",
    "claim_missing": "your identity provider did not give what the rule needs (a full date of "
    "birth, a place); ask the organisers for a code instead",
    "acr_too_low": "log in again with a stronger means of identification",
    "code_refused": "join again to log in again (nothing was spent)",
    "not_an_identity_process": "this process takes the code from your letter: join with --code",
    "login_timeout": "join again when you are ready to log in",
}

#: Refusals after which the list of a process's proposals helps.
_CHOICES = ("unknown_proposal", "bad_choice_count")


def _wallet_dir() -> Path:
    return Path(os.environ.get("URNE_WALLET", Path.home() / ".urne-wallet"))


WalletOpt = Annotated[
    Path | None,
    typer.Option(
        "--wallet", help="The wallet directory (default: $URNE_WALLET or ~/.urne-wallet)."
    ),
]


@app.callback()
def main(wallet: WalletOpt = None) -> None:
    """A citizen's wallet: join a process with your one-time code, sign, vote, keep and
    re-check your receipts. --wallet goes before or after the command."""
    if wallet is not None:  # before the command: the default of every command
        os.environ["URNE_WALLET"] = str(wallet)


def _fail(message: str, status: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


def _refused(exc: UrneError) -> NoReturn:
    if isinstance(exc, FetchError):
        _fail(f"{exc} -- the service could not be reached; nothing was changed, try again", 2)
    hint = NEXT.get(exc.code)
    _fail(f"{exc} ({exc.code}){': ' + hint if hint else ''}", 1)


def _open(wallet: Path | None) -> Wallet:
    return Wallet(wallet if wallet is not None else _wallet_dir())


@app.command()
def join(
    server: Annotated[str, typer.Argument(help="The service, e.g. https://vote.example.org")],
    process: Annotated[str, typer.Argument(help="The process id, as on your letter.")],
    code: Annotated[
        str | None, typer.Option("--code", help="Your one-time code (or --provider).")
    ] = None,
    provider: Annotated[
        bool,
        typer.Option(
            "--provider",
            help="Log in at the process's identity provider (FranceConnect, ...) instead of "
            "a code: your browser opens its page and comes back to this command.",
        ),
    ] = False,
    port: Annotated[
        int,
        typer.Option(
            "--port", min=0, max=65535, help="The loopback port of the login's callback; 0: any."
        ),
    ] = 0,
    no_browser: Annotated[
        bool,
        typer.Option("--no-browser", help="Print the login address instead of opening it."),
    ] = False,
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="The log's verifier key as published by the organisers; default: the "
            "service's own, which checks the service against itself only.",
        ),
    ] = None,
    issuer: Annotated[
        str | None,
        typer.Option(
            "--issuer",
            help="The issuance host, where the organisers run it apart from the service.",
        ),
    ] = None,
    wallet: WalletOpt = None,
) -> None:
    """Obtain your credential for a process, with the code from your letter or
    by logging in at its identity provider."""
    if (code is None) == (not provider):
        _fail("give either --code (the code from your letter) or --provider", 2)

    def show(url: str) -> None:
        typer.echo("Log in at the identity provider; this command waits for you:")
        typer.echo(f"  {url}")
        if not no_browser:
            webbrowser.open(url)

    login = IdentityLogin(open=show, port=port) if provider else None
    w = _open(wallet)
    try:
        state, new = w.join(server, process, code, log_key=log_key, issuer=issuer, login=login)
    except ValueError as exc:  # not a service's address
        _fail(str(exc), 2)
    except UrneError as exc:
        _refused(exc)
    if not new:
        typer.echo(f"already joined {process}: your credential is in {w.path(process)}")
        return
    typer.echo(f"joined {process}: your credential is in {w.path(process)} (keep it private)")
    if login is not None and login.logout:
        typer.echo(f"You may now log out at the identity provider: {login.logout}")
    if not state.log_key_given:
        typer.echo(
            "note: receipts are checked against the log key the service gave "
            f"({state.log_key}); compare it with the one the organisers publish"
        )
    typer.echo(
        "You may cast now or later: casting later, at a moment of your choosing, keeps "
        "anyone who saw you obtain the credential from guessing which ballot is yours."
    )


def _choices_hint(w: Wallet, process: str, exc: UrneError) -> NoReturn:
    """A refusal of the choice, with the proposals to choose from."""
    if exc.code not in _CHOICES or isinstance(exc, FetchError):
        _refused(exc)
    try:
        hint = f"; the choices are: {', '.join(w.proposals(process))}"
    except UrneError:
        hint = ""
    _fail(f"{exc} ({exc.code}){hint}", 1)


def _cast(
    process: str,
    choice: list[str] | None,
    wallet: Path | None,
    *,
    grades: dict[str, str] | None = None,
) -> None:
    w = _open(wallet)
    try:
        receipt, own = w.cast(process, choice, grades=grades)
    except UrneError as exc:  # the service's, the wallet's, or no answer
        _choices_hint(w, process, exc)
    kept = w.joined(process).choice_of(receipt.entry)  # a secret ballot's choice
    what = describe(receipt.entry, kept)
    if not own:
        typer.echo(
            f"your earlier entry, not acknowledged then, is recorded: {what}, at index "
            f"{receipt.index}; run the command again to cast a new one"
        )
        return
    typer.echo(f"recorded: {what}, at log index {receipt.index} (receipt checked)")
    if kept is not None:
        typer.echo(
            "The log shows your ballot encrypted: only the totals are ever decrypted. The "
            f"choice is kept in {w.path(process)}, for you alone."
        )


@app.command()
def sign(
    process: Annotated[str, typer.Argument(help="The petition.")], wallet: WalletOpt = None
) -> None:
    """Sign a petition."""
    _cast(process, None, wallet)


@app.command()
def grade(
    process: Annotated[str, typer.Argument(help="The majority judgment.")],
    grades: Annotated[
        list[str],
        typer.Argument(help="PROPOSAL=GRADE for every proposal, e.g. park=good bikes=reject."),
    ],
    wallet: WalletOpt = None,
) -> None:
    """Grade every proposal of a majority judgment (docs/spec/counting-ranked.md)."""
    given: dict[str, str] = {}
    for pair in grades:
        pid, sep, g = pair.partition("=")
        if not sep or not pid or not g or pid in given:
            _fail(f"{pair!r}: give PROPOSAL=GRADE, each proposal once (bad_grades)", 2)
        given[pid] = g
    _cast(process, None, wallet, grades=given)


@app.command()
def stand(
    process: Annotated[str, typer.Argument(help="The vote.")],
    name: Annotated[str, typer.Option("--name", help="The public name you stand under.")],
    wallet: WalletOpt = None,
) -> None:
    """Stand as a delegate in a vote that takes delegation: others may then
    delegate their vote to your pseudonym (docs/spec/delegation.md)."""
    w = _open(wallet)
    try:
        receipt = w.delegate(process, name=name)
    except UrneError as exc:
        _refused(exc)
    key = b64encode(w.joined(process).pseudonym.public_key)
    typer.echo(
        f"recorded: {describe(receipt.entry)}, at log index {receipt.index} (receipt checked)"
    )
    typer.echo(f"others delegate to you with: urne-wallet delegate {process} {key}")


@app.command()
def delegate(
    process: Annotated[str, typer.Argument(help="The vote.")],
    to: Annotated[
        str | None,
        typer.Argument(help="The delegate's key (base64), as the process page lists it."),
    ] = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke your delegation.")] = False,
    wallet: WalletOpt = None,
) -> None:
    """Delegate your vote to a delegate, or revoke it; a vote you cast yourself
    always counts instead (docs/spec/delegation.md)."""
    if (to is None) == (not revoke):
        _fail("give the delegate's key, or --revoke (not both)", 2)
    key = None
    if to is not None:
        try:
            key = b64decode(to, "delegate", size=32)
        except FormatError:
            _fail(f"{to!r} is not a delegate's key (32 bytes of base64)", 2)
    w = _open(wallet)
    try:
        receipt = w.delegate(process, key)
    except UrneError as exc:
        _refused(exc)
    typer.echo(
        f"recorded: {describe(receipt.entry)}, at log index {receipt.index} (receipt checked)"
    )


@app.command()
def vote(
    process: Annotated[str, typer.Argument(help="The vote.")],
    choice: Annotated[list[str], typer.Argument(help="The proposal id(s) you choose.")],
    wallet: WalletOpt = None,
) -> None:
    """Vote (again, where the process allows it: the last ballot counts)."""
    _cast(process, choice, wallet)


@app.command()
def challenge(
    process: Annotated[str, typer.Argument(help="The secret vote or budget.")],
    choice: Annotated[list[str], typer.Argument(help="The proposal id(s) to make it for.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The file to write (default: <process>-challenge.json)."),
    ] = None,
    wallet: WalletOpt = None,
) -> None:
    """Make a ballot of a secret vote or budget as `vote` or `budget` would, and open it
    instead of casting it:
    a challenge file, to check on another device with `urne-verify challenge`."""
    w = _open(wallet)
    try:
        ch = w.challenge(process, choice)
        server = w.joined(process).server
    except UrneError as exc:
        _choices_hint(w, process, exc)
    path = out if out is not None else Path(f"{process}-challenge.json")
    try:
        path.write_bytes(encode_challenge(ch))
    except OSError as exc:
        _fail(f"cannot write {path}: {exc.strerror}", 2)
    shown = ", ".join(ch.choice) or "no proposal"
    typer.echo(
        f"challenge file written to {path}: a ballot for {shown}, made as a cast one would "
        "be, with the randomness that shows what it encrypts. It was not cast, and must not be."
    )
    typer.echo(f"Check it on another device: urne-verify challenge {path} --service {server}")
    typer.echo(
        "Whoever reads the file learns the choice it shows, not your vote: vote with "
        "`urne-wallet vote` (or `budget`), with a ballot made anew."
    )


@app.command()
def budget(
    process: Annotated[str, typer.Argument(help="The participatory budget.")],
    projects: Annotated[list[str], typer.Argument(help="The project ids you choose.")],
    wallet: WalletOpt = None,
) -> None:
    """Choose projects of a participatory budget."""
    _cast(process, projects, wallet)


@app.command("list")
def list_processes(wallet: WalletOpt = None) -> None:
    """The processes this wallet joined."""
    w = _open(wallet)
    try:
        joined = w.processes()
    except UrneError as exc:
        _refused(exc)
    for state in joined:
        status = "credential" if state.credential is not None else "waiting for the issuer"
        typer.echo(
            f"{state.process}\t{state.server}\t{status}\t{len(state.receipts)} receipt(s)"
            + ("\tone entry not yet acknowledged" if state.pending is not None else "")
        )
    if not joined:
        typer.echo("this wallet has joined no process (urne-wallet join ...)", err=True)


@app.command()
def receipts(
    process: Annotated[str | None, typer.Argument(help="One process; default: all.")] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save",
            help="Write each receipt to this directory, one JSON file each "
            "(<process>-<index>.json), for urne-verify receipt.",
        ),
    ] = None,
    wallet: WalletOpt = None,
) -> None:
    """List your receipts and check each against today's log."""
    w = _open(wallet)
    try:
        states: list[Joined] = [w.joined(process)] if process else w.processes()
    except UrneError as exc:
        _refused(exc)
    failed = unreachable = 0
    kept = []
    for state in states:
        checked = w.recheck(state)
        for k, (receipt, problem) in enumerate(checked):
            shown = describe(receipt.entry, state.choice_of(receipt.entry))
            what = f"{state.process} #{receipt.index}: {shown}"
            if len(checked) > 1:  # the last ballot of a pseudonym is the one counted
                what += " (counts)" if k == len(checked) - 1 else " (replaced by a later one)"
            kept.append({**receipt.to_json(), "_process": state.process})
            if problem is None:
                typer.echo(f"ok       {what} (still in the log)")
            elif isinstance(problem, FetchError):
                unreachable += 1
                typer.echo(f"unknown  {what}: {problem}")
            else:
                failed += 1
                typer.echo(f"INVALID  {what}: {problem} ({problem.code})")
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        for obj in kept:
            name = f"{obj['_process']}-{obj['index']}.json"
            body = {k: v for k, v in obj.items() if k != "_process"}
            (save / name).write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
        typer.echo(f"{len(kept)} receipt(s) written to {save}")
    if failed:
        raise typer.Exit(1)
    if unreachable:
        raise typer.Exit(2)
