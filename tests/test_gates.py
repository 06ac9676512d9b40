"""House gates, run as part of the test suite so one command checks everything:
ruff (lint and format), mypy --strict on the three packages, the import-linter
contracts (layers, and the rooms inside them), no private name used across
modules, one namespace with every package installed, and a verifier that
installs without the server side."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support import typecheck
from tests.support.paths import ROOT, SERVER_ONLY

PACKAGES = ("verifier", "ledger", "api")


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint() -> None:
    r = _run(sys.executable, "-m", "ruff", "check", *PACKAGES, "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format() -> None:
    r = _run(sys.executable, "-m", "ruff", "format", "--check", *PACKAGES, "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_on_every_package() -> None:
    r = typecheck.run()  # strictness and packages: pyproject.toml
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues found" in r.stdout


def test_import_contracts() -> None:
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    r = _run(sys.executable, "-c", code)
    assert r.returncode == 0, r.stdout + r.stderr
    declared = len(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    )
    assert f"Contracts: {declared} kept, 0 broken." in r.stdout


# -- no private name across modules ----------------------------------------------------


def _defined_names(tree: ast.Module) -> set[str]:
    """Every name a module defines itself: functions, classes, methods,
    assignments at any level, attributes it assigns (``self._x = ...``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return names


#: Underscored names that their libraries document as public: SQLAlchemy's
#: ``Row._mapping`` and the namedtuple methods (underscored to stay clear of
#: field names).
LIBRARY_PUBLIC = frozenset({"_mapping", "_asdict", "_replace", "_fields", "_make"})


def private_uses(path: Path) -> list[str]:
    """``obj._name`` where ``_name`` is not defined in the module itself: a
    private name of another module (or of a library) used as a contract."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    own = _defined_names(tree)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not (node.attr.startswith("__") and node.attr.endswith("__"))
            and node.attr not in own
            and node.attr not in LIBRARY_PUBLIC
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: import {alias.name}")
    return found


def _python_files() -> list[Path]:
    """The project's own Python files: not ``bench/results/`` (a benchmark's
    cached data and the virtualenvs of its peers, ignored by git)."""
    folders = [*PACKAGES, "tests", "bench"]
    results = ROOT / "bench" / "results"
    return sorted(
        p
        for folder in folders
        for p in (ROOT / folder).rglob("*.py")
        if "vectors" not in p.parts and "versions" not in p.parts and results not in p.parents
    )


def test_no_module_uses_another_modules_private_names() -> None:
    found = [use for path in _python_files() for use in private_uses(path)]
    assert found == [], "private names used across modules:\n" + "\n".join(found)


def test_the_private_name_rule_can_fail(tmp_path: Path) -> None:
    sample = ROOT / "tests" / "_sample_private_use.py"
    sample.write_text("from x import _hidden\n\n\ndef f(log):\n    return log._commit_batch()\n")
    try:
        assert private_uses(sample) == [
            "tests/_sample_private_use.py:1: import _hidden",
            "tests/_sample_private_use.py:5: ._commit_batch",
        ]
    finally:
        sample.unlink()


# -- one namespace, every package installed ------------------------------------------------


def test_pyproject_installs_every_package_under_urne() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = sorted(
        "urne." + ".".join(p.parent.relative_to(ROOT).parts)
        for top in PACKAGES
        for p in (ROOT / top).rglob("__init__.py")
    )
    assert sorted(config["packages"]) == on_disk
    assert config["package-dir"] == {f"urne.{p}": p for p in PACKAGES}


def test_no_generic_top_level_module_is_importable() -> None:
    code = (
        "import importlib.util, sys\n"
        "sys.path = [p for p in sys.path if p not in ('', '.')]\n"
        "print([n for n in ('verifier', 'ledger', 'api') if importlib.util.find_spec(n)])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_a_plain_install_needs_no_server_package() -> None:
    """`pip install urne` installs what citizens and observers run; the service
    is the `server` extra."""
    plain, server = [], []
    for req in importlib.metadata.requires("urne") or []:
        name = re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower()
        (server if 'extra == "server"' in req else plain).append(name)
    assert plain and not SERVER_ONLY & set(plain), plain
    assert {"fastapi", "sqlalchemy", "sqlmodel", "psycopg", "uvicorn"} <= set(server)


def test_verifier_imports_nothing_of_the_server_side() -> None:
    """Belt and braces for the contract: importing every verifier module in a
    fresh interpreter loads no ledger, api, database or web framework module."""
    code = (
        "import sys, pkgutil, importlib, urne.verifier\n"
        "for m in pkgutil.walk_packages(urne.verifier.__path__, 'urne.verifier.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.startswith(('urne.ledger', 'urne.api')) or "
        "n.split('.')[0] in {'sqlmodel', 'sqlalchemy', 'fastapi', 'starlette', 'alembic', "
        "'psycopg', 'uvicorn'})\n"
        "print(bad)\n"
    )
    r = _run(sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_institution_client_loads_no_server_module() -> None:
    code = (
        "import sys, urne.api.client, urne.api.signing\n"
        "print(sorted(n for n in sys.modules if n.startswith('urne.ledger') or "
        "n.split('.')[0] in {'sqlmodel', 'sqlalchemy', 'fastapi', 'starlette', 'uvicorn'}))\n"
    )
    r = _run(sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["urne.verifier.check.audit", "urne.verifier.check.receipt"])
def test_the_observers_trust_root_holds_no_secret_key_code(module: str) -> None:
    """What `urne-verify audit` and `receipt` import: no issuer secret key, no
    blinding, no signing of entries."""
    code = f"import sys, {module}\nprint(sorted(n for n in sys.modules if n.startswith('urne.')))\n"
    r = _run(sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    loaded = eval(r.stdout)  # a list of module names printed by the child
    assert not [m for m in loaded if m.startswith(("urne.verifier.citizen", "urne.ledger"))]


# -- nothing points outside the repository ----------------------------------------------


def _markdown_files() -> list[Path]:
    return sorted(
        [ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").rglob("*.md")]
    )


def test_every_relative_link_in_the_docs_resolves_inside_the_repository() -> None:
    link = re.compile(r"\]\((?!https?:|#|mailto:)([^)#\s]+)(#[^)\s]*)?\)")
    broken = []
    for page in _markdown_files():
        for m in link.finditer(page.read_text(encoding="utf-8")):
            target = (page.parent / m.group(1)).resolve()
            if not target.exists() or ROOT.resolve() not in target.parents:
                broken.append(f"{page.relative_to(ROOT)}: {m.group(1)}")
    assert broken == []


def test_nothing_cites_a_file_outside_the_repository() -> None:
    # spelled in pieces, so that this line does not match itself
    outside = re.compile(
        "|".join(["DESIGN" + " §", "DESIGN" + r"\.md", r"\.\./" + "shared", "URNE_" + "VECTORS"])
    )
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in [*_python_files(), *_markdown_files(), ROOT / ".ci" / "run"]
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert found == []


def test_no_test_module_imports_another() -> None:
    """What tests share lives in tests/support; a test module or a conftest is
    never imported by another module."""
    found = []
    for path in (ROOT / "tests").rglob("*.py"):
        if "vectors" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                own_test = parts[-1].startswith("test_") or parts[-1] == "conftest"
                if parts[0] == "tests" and parts[1:2] != ["support"] and own_test:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert found == []
