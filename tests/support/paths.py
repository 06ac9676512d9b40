"""Where the tests find the repository and its third-party vectors.

The vectors live in the repository (``tests/vectors``, origins in
``tests/vectors/SOURCES.md``), so a standalone clone runs every test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"


def load_vector(relpath: str) -> Any:
    """A JSON vector file; a missing file is an error, never an empty case list."""
    with open(VECTORS / relpath, encoding="utf-8") as fh:
        return json.load(fh)


#: What only the service needs (distribution names): never a dependency of a
#: plain ``pip install urne``, never installed with it.
SERVER_ONLY = frozenset(
    {
        "fastapi",
        "sqlalchemy",
        "sqlmodel",
        "psycopg",
        "uvicorn",
        "alembic",
        "starlette",
        "jinja2",
        "babel",
        "pydantic-settings",
        "httptools",
        "uvloop",
        "redis",
        "authlib",
        "joserfc",
    }
)
