"""The end-to-end deployments: the real ``urne serve`` on SQLite and on
PostgreSQL (the harness is tests/support/deployment.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.deployment import Deployment
from tests.support.postgres import postgres_schema


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """A fresh installation on each engine. Afterwards its servers are
    stopped, and only then is the PostgreSQL schema dropped."""
    with ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema("urne_e2e"))
            roll = stack.enter_context(postgres_schema("urne_e2e_roll"))
        else:
            url = f"sqlite:///{tmp_path / 'urne.db'}"
            roll = f"sqlite:///{tmp_path / 'issuance.db'}"
        dep = Deployment(request.param, url, tmp_path, roll)
        stack.callback(dep.close)
        yield dep
