"""``urne-verify pb``: recount a participatory budget stored as a pabulib file.

Observers use it to recount a real election (or an export of Urne's own) with
the rules of :mod:`urne.verifier.civic.budget` and compare with what was funded. Output:
the funded project ids, one per line, sorted as text. Exit codes as the rest of
``urne-verify``: 0 counted, 2 unusable input (unreadable, malformed or
unsupported file).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from urne.verifier.civic.budget import RULES
from urne.verifier.civic.pabulib import parse_pabulib
from urne.verifier.errors import VerificationError

__all__ = ["Rule", "pb_command"]


class Rule(enum.StrEnum):
    """The outcome rules ``--rule`` accepts (see docs/spec/counting-budgets.md)."""

    greedy = "greedy"
    mes = "mes"
    mes_then_greedy = "mes-then-greedy"


def pb_command(
    file: Annotated[Path, typer.Argument(help="A participatory budget in the pabulib .pb format.")],
    rule: Annotated[
        Rule,
        typer.Option(
            "--rule",
            help="greedy: by approvals within the budget; mes: Method of Equal Shares with "
            "Add1; mes-then-greedy: MES completed by greedy.",
        ),
    ] = Rule.mes,
) -> None:
    """Print the projects RULE funds in FILE, one id per line, sorted as text."""
    try:
        election = parse_pabulib(file).election()
    except VerificationError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from exc
    for project in sorted(RULES[rule.value](election)):
        typer.echo(project)
