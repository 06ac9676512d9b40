"""Shared fixtures: where the third-party vectors live, and the PostgreSQL server."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
#: Third-party test vectors, read-only, beside the project (see their README).
VECTORS = Path(os.environ.get("URNE_VECTORS", ROOT.parent / "shared" / "vectors"))


def load_vector(relpath: str) -> Any:
    with open(VECTORS / relpath, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"test vectors not found at {VECTORS}")
        pytest.skip(f"test vectors not found at {VECTORS} (set URNE_VECTORS)")
    return VECTORS


#: The PostgreSQL server the tests marked ``postgres`` use.
PG_URL = os.environ.get(
    "URNE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_schema(prefix: str = "urne_test") -> Iterator[str]:
    """The URL of a fresh, empty schema on the real PostgreSQL server, dropped
    afterwards.

    Skips when the server is unreachable, except under CI=true, where it fails:
    a production-engine test must never pass by not running.
    """
    admin = sa.create_engine(PG_URL)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        msg = f"PostgreSQL not reachable at {PG_URL}: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
