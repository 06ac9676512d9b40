"""``/docs`` works offline: Swagger UI from the vendored files, under the
pages' Content-Security-Policy, in Chromium, and no request leaves the
service."""

from __future__ import annotations

from typing import Any

from tests.support.site import Site


def test_the_api_documentation_renders_from_the_service_alone(page: Any, site: Site) -> None:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(f"{site.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Urne" in page.inner_text(".swagger-ui .info .title")
    # every operation of the API is listed, POST /entries among them
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.strip().startswith("/entries") for p in paths), paths
    assert asked and all(url.startswith(site.url) for url in asked), asked
    # (a console error or a CSP violation fails the test through the page fixture)
