"""Shared fixtures: where the third-party vectors live, and the PostgreSQL server."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

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
