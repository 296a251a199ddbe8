"""Every service's `/docs` (Swagger UI) and `/redoc` render their operations in a real Chromium
with no internet: the assets come from an installed package, and no request leaves the service
(ReDoc's CDN logo is refused by the page's policy before it reaches the network)."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx

from tests.support.browser import chromium


def operation_count(base: str) -> int:
    spec = httpx.get(f"{base}/openapi.json").json()
    methods = {"get", "post", "put", "patch", "delete", "head", "options"}
    return sum(1 for item in spec["paths"].values() for method in item if method in methods)


def test_docs_and_redoc_render_every_operation_offline(stack):
    with chromium() as browser:
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        blocked: set[str] = set()
        page.on(
            "requestfailed",
            lambda r: blocked.add(r.url) if "csp" in (r.failure or "").lower() else None,
        )
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        for name, service in stack.items():
            expected = operation_count(service.url)
            assert expected >= 3, name

            page.goto(f"{service.url}/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            assert page.locator(".opblock").count() == expected, name
            assert page.locator(".info .title").inner_text().startswith("CRM"), name

            page.goto(f"{service.url}/redoc")
            operations = page.locator("[data-section-id^='operation/']")
            operations.first.wait_for(timeout=20_000)
            assert operations.count() == expected, name

            sent = [url for url in requested if url.startswith("http") and url not in blocked]
            assert {urlparse(url).netloc for url in sent} == {urlparse(service.url).netloc}, name
            requested.clear()
        assert errors == []
