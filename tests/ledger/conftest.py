"""Fixtures for the ledger: a fresh log on SQLite, and the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from urne.ledger.log import Log


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    with Log.open(
        f"sqlite:///{tmp_path / 'log.db'}", key_dir=tmp_path / "keys", origin="test.example/log"
    ) as lg:
        yield lg
