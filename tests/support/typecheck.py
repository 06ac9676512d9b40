"""Run mypy (strict, as pyproject.toml sets it) on the three packages, named as
they install: ``urne.verifier``, ``urne.ledger``, ``urne.api``.

mypy does not run the editable install's import hook, so it is shown the
folders through a tree of links under ``build/typecheck/urne/``, made here::

    python -m tests.support.typecheck
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

PACKAGES = ("verifier", "ledger", "api")
TREE = ROOT / "build" / "typecheck"


def link_tree() -> Path:
    """``build/typecheck/urne/<package>`` -> ``<package>/``, for each package."""
    urne = TREE / "urne"
    urne.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        link = urne / name
        target = ROOT / name
        if link.is_symlink() and link.resolve() == target.resolve():
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
    return TREE


def run() -> subprocess.CompletedProcess[str]:
    link_tree()
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


if __name__ == "__main__":
    r = run()
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    sys.exit(r.returncode)
