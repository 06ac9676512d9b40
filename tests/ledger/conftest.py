"""Fixtures for the ledger: a fresh log on SQLite, and the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Log
from tests.conftest import postgres_schema


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    with Log.open(
        f"sqlite:///{tmp_path / 'log.db'}", key_dir=tmp_path / "keys", origin="test.example/log"
    ) as lg:
        yield lg


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty schema on the real PostgreSQL server; dropped afterwards
    (skipped when unreachable, failed under CI=true)."""
    with postgres_schema("urne_test") as url:
        yield url
