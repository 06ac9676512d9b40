"""A fresh virtual environment, as a citizen or an observer installs Urne:
``pip install urne`` gives ``urne-verify`` and its few dependencies, never the
service's; the generic names ``api``, ``ledger`` and ``verifier`` are not
installed; the operator's ``urne`` says in one line what it needs; and the
verifier's own test suite passes there, without the ``server`` extra.

It installs from the package index, as a user would: under ``CI=true`` a
failed install fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from tests.support.paths import ROOT, SERVER_ONLY

pytestmark = pytest.mark.slow


def _run(*cmd: str | Path, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def observer_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with ``pip install <this repository>`` (no extra)
    and the two test libraries the verifier's tests use."""
    home = tmp_path_factory.mktemp("observer")
    venv.EnvBuilder(with_pip=True, clear=True).create(home / "venv")
    bin_dir = home / "venv" / "bin"
    # From a copy of what a source distribution holds, so that building leaves
    # nothing in the repository, and shows that nothing else is needed.
    source = home / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("verifier", "ledger", "api"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    pip = (bin_dir / "python", "-m", "pip", "install", "--quiet")
    r = _run(*pip, source, "pytest", "hypothesis", cwd=home)
    if r.returncode != 0:
        msg = f"pip install failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return bin_dir


def test_a_plain_install_has_no_server_package(observer_env: Path) -> None:
    r = _run(observer_env / "python", "-m", "pip", "list", "--format=freeze", cwd=observer_env)
    assert r.returncode == 0, r.stderr
    installed = {line.split("==")[0].lower() for line in r.stdout.split()}
    assert "urne" in installed
    assert not installed & SERVER_ONLY, sorted(installed & SERVER_ONLY)


def test_the_verifier_imports_and_its_command_runs(observer_env: Path, tmp_path: Path) -> None:
    r = _run(observer_env / "python", "-c", "import urne.verifier.check.audit", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _run(observer_env / "urne-verify", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "audit" in r.stdout and "receipt" in r.stdout


def test_the_citizens_wallet_runs_without_the_server_side(
    observer_env: Path, tmp_path: Path
) -> None:
    r = _run(observer_env / "urne-wallet", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for command in ("join", "sign", "vote", "budget", "receipts"):
        assert command in r.stdout
    # no service there: could not be reached (2), one line, nothing changed
    r = _run(
        observer_env / "urne-wallet", "join", "http://127.0.0.1:9", "p", "--code", "X",
        "--wallet", tmp_path / "w", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("name", ["api", "ledger", "verifier"])
def test_no_generic_top_level_module_is_installed(
    observer_env: Path, tmp_path: Path, name: str
) -> None:
    r = _run(observer_env / "python", "-c", f"import {name}", cwd=tmp_path)
    assert r.returncode != 0
    assert f"No module named '{name}'" in r.stderr


def test_urne_without_the_server_extra_says_what_to_install(
    observer_env: Path, tmp_path: Path
) -> None:
    r = _run(observer_env / "urne", "serve", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "urne serve: this command needs the service's packages: pip install 'urne[server]'"
    ]
    # An institution's own commands need no server package.
    r = _run(
        observer_env / "urne", "institution", "keygen", "city-hall", "--out", "k.json", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "k.json").stat().st_mode & 0o777 == 0o600


def test_the_verifiers_tests_pass_without_the_server_extra(observer_env: Path) -> None:
    """The verifier's tests, from this repository, against the installed package."""
    r = _run(
        observer_env / "python",
        "-m",
        "pytest",
        "tests/verifier",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
    assert " passed" in r.stdout and " failed" not in r.stdout
