"""HTTP routes of the dashboard: the page at `/` for a signed-in viewer and its static files.
The page gets its settings (zone, currency, user) inline; everything else it reads from the
public report and drill APIs like any other client."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from analytics.api.dashboard.assets import Asset
from crm_contracts.runtime.errors import NotFound

# Nothing but this origin: scripts, styles, charts (inline SVG) and the live stream.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def _serve(asset: Asset, request: Request) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.content_type, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_dashboard_router(
    assets: dict[str, Asset], page_config: dict[str, Any], signed_in: Callable[..., Any]
) -> APIRouter:
    """`signed_in` is the dependency that yields the browser's session (or redirects to the
    login page); `page_config` is what the page needs to know before its first request."""
    router = APIRouter(include_in_schema=False)
    # Every module up front: the browser fetches them in parallel, not import by import.
    modules = sorted(n for n in assets if n.endswith(".js") and not n.startswith("vendor/"))
    preload = "\n  ".join(f'<link rel="modulepreload" href="/static/{n}">' for n in modules)
    index = assets["index.html"].body.decode().replace("__PRELOAD__", preload)

    @router.get("/", response_class=HTMLResponse)
    async def dashboard(session: Any = Depends(signed_in)) -> HTMLResponse:
        user = str(getattr(session, "user", "") or "")
        config = json.dumps({**page_config, "user": user}).replace("<", "\\u003c")
        page = index.replace("__CONFIG__", config).replace("__USER__", _escape(user))
        headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
        return HTMLResponse(page, headers=headers)

    @router.get("/static/{name:path}")
    async def static(name: str, request: Request) -> Response:
        asset = assets.get(name)
        if asset is None or name == "index.html":
            raise NotFound("no such file", "name")
        return _serve(asset, request)

    return router
