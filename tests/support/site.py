"""A served demo site for the pages' tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.support.civic import Citizen, Institution
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log

#: Inside every process's opening hours (tests/support/civic.py: all of 2026).
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Site:
    """The running service and what the tests put on its log."""

    url: str
    log: Log
    civic: CivicRecord
    institution: Institution
    #: log index of every accepted ballot, by process
    ballots: dict[str, list[int]] = field(default_factory=dict)
    citizens: dict[str, list[Citizen]] = field(default_factory=dict)

    def receipt(self, index: int) -> dict[str, Any]:
        return self.log.receipt(index).to_json()

    def cast(self, pid: str, choice: list[str] | None = None) -> int:
        citizen = Citizen.enrol(self.institution, pid)
        self.citizens.setdefault(pid, []).append(citizen)
        i = self.civic.append(citizen.ballot(choice))
        self.ballots.setdefault(pid, []).append(i)
        return i
