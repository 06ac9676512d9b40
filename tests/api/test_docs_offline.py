"""The vendored Swagger UI files are the ones SOURCES.md names (their
SHA-256), and ``/docs`` refers to nothing outside the service."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support.paths import ROOT
from urne.api.main import create_app
from urne.ledger.log import Log

VENDOR = ROOT / "api" / "static" / "vendor" / "swagger-ui"


def _manifest() -> dict[str, str]:
    rows = re.findall(
        r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", (VENDOR / "SOURCES.md").read_text(), re.M
    )
    return dict(rows)


def test_every_vendored_file_has_the_hash_its_sources_give() -> None:
    manifest = _manifest()
    files = {p.name for p in VENDOR.iterdir()} - {"SOURCES.md"}
    assert set(manifest) == files and "LICENSE" in files
    for name, digest in manifest.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_the_docs_page_names_only_the_service_s_own_files(tmp_path: Path) -> None:
    with Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="d/log") as log:
        for casting in (True, False):
            app = create_app(log if casting else None, casting=casting, rate_limit=None,
                             roll=log.engine)  # fmt: skip
            with TestClient(app) as c:
                r = c.get("/docs")
                assert r.status_code == 200
                assert "default-src 'none'" in r.headers["content-security-policy"]
                refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
                # this site's paths, and the skip link to the page's own content
                assert refs and all(ref.startswith("/") or ref == "#main" for ref in refs), refs
                assert 'id="main"' in r.text
                for ref in refs:
                    if ref.startswith("/"):  # the language switch leads back here
                        assert c.get(ref).status_code == 200, ref
                assert c.get("/redoc").status_code == 404
