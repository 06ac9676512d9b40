"""House gates, run as part of the test suite so one command checks everything:
ruff (lint and format), mypy --strict on verifier/, and the import-linter
contracts that keep verifier/ independent of the server side."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.support.paths import ROOT


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return exe


def test_ruff_lint() -> None:
    r = _run(_tool("ruff"), "check", "verifier", "ledger", "api", "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format() -> None:
    r = _run(_tool("ruff"), "format", "--check", "verifier", "ledger", "api", "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_on_verifier() -> None:
    r = _run(sys.executable, "-m", "mypy")  # files and strictness: pyproject.toml
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_contracts() -> None:
    r = _run(_tool("lint-imports"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 2 kept, 0 broken." in r.stdout


def test_verifier_imports_nothing_of_the_server_side() -> None:
    """Belt and braces for the contract: importing every verifier module in a
    fresh interpreter loads no ledger, api, database or web framework module."""
    code = (
        "import sys, pkgutil, importlib, verifier\n"
        "for m in pkgutil.walk_packages(verifier.__path__, 'verifier.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        "{'ledger', 'api', 'sqlmodel', 'sqlalchemy', 'fastapi', 'starlette', 'alembic'})\n"
        "print(bad)\n"
    )
    r = _run(sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
