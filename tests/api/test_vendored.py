"""The vendored @noble/curves and @noble/hashes files are the published ones
their SOURCES.md names (each file's SHA-256), each keeps its licence, the
wallet page's import map points only at them, and the page admits that map
by its hash and no other inline script."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.civic import Institution, open_in
from tests.support.paths import ROOT
from urne.api import take_part
from urne.api.main import create_app
from urne.ledger.log import Log

VENDOR = ROOT / "api" / "static" / "vendor"
PACKAGES = ["noble-curves", "noble-hashes"]


def _manifest(directory: Path) -> dict[str, str]:
    text = (directory / "SOURCES.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", text, re.M))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_vendored_file_has_the_hash_its_sources_give(package: str) -> None:
    directory = VENDOR / package
    manifest = _manifest(directory)
    files = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - {
        "SOURCES.md"
    }
    assert set(manifest) == files
    assert "LICENSE" in files and "MIT License" in (directory / "LICENSE").read_text()
    version = json.loads((directory / "package.json").read_text())["version"]
    assert f"` {version} on the npm registry" in (directory / "SOURCES.md").read_text()
    for name, digest in manifest.items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest, name


def test_every_module_a_vendored_file_imports_is_vendored() -> None:
    mapped = json.loads(take_part.IMPORT_MAP)["imports"]
    assert set(mapped.values()) == {f"/static/vendor/{p}/" for p in PACKAGES}
    pattern = re.compile(r"""^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]""", re.M)
    for package in PACKAGES:
        for path in (VENDOR / package).rglob("*.js"):
            for spec in pattern.findall(path.read_text(encoding="utf-8")):
                if spec.startswith("@noble/"):
                    prefix = "/".join(spec.split("/")[:2]) + "/"
                    target = VENDOR / mapped[prefix].split("/")[-2] / spec[len(prefix) :]
                else:
                    target = (path.parent / spec).resolve()
                assert target.is_file(), f"{path.name} imports {spec}"


def test_the_wallet_page_admits_its_import_map_and_no_other_inline_script(
    tmp_path: Path,
) -> None:
    with Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="v/log") as log:
        app = create_app(log, rate_limit=None)
        with TestClient(app) as c:
            open_in(app.state.civic, Institution().process("pet", "petition"))
            r = c.get("/p/pet/take-part")
            assert r.status_code == 200
            csp = r.headers["content-security-policy"]
            hashes = re.findall(r"'sha256-([^']+)'", csp)
            inline = re.findall(r'<script type="importmap">(.*?)</script>', r.text, re.S)
            assert inline == [take_part.IMPORT_MAP]
            digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
            assert hashes == [digest]
            assert "default-src 'none'" in csp and "unsafe" not in csp
            # every other script is a file of the service's, or data that never runs
            for tag in re.findall(r"<script\b[^>]*>", r.text):
                assert (
                    'src="/static/' in tag
                    or 'type="application/json"' in tag
                    or (tag == '<script type="importmap">')
                ), tag
