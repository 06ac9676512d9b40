"""Fixtures every test folder may use. Nothing here imports the server side at
import time: the verifier's tests run without the ``server`` extra."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import VECTORS


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    assert VECTORS.is_dir(), f"the test vectors are missing: {VECTORS}"
    return VECTORS


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty schema on the real PostgreSQL server; dropped afterwards
    (skipped when unreachable, failed under CI=true)."""
    from tests.support.postgres import postgres_schema

    with postgres_schema("urne_test") as url:
        yield url


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every Equal Shares run (``EqualShares.run``) made meanwhile, anywhere in
    this process, by its increment: how counting cost is measured in tests,
    never by the clock."""
    from urne.verifier.civic.budget import EqualShares

    seen: list[int] = []
    plain = EqualShares.run

    def counted(self: EqualShares, increment: int, *, stability: bool = False) -> list[int]:
        seen.append(increment)
        return plain(self, increment, stability=stability)

    monkeypatch.setattr(EqualShares, "run", counted)
    yield seen
