"""What every operator endpoint shares: the API key, a bounded request body, and the one
rejection shape for refused imports and queries."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from analytics.tabular import Rejected
from crm_contracts.runtime.errors import rejection
from crm_contracts.runtime.security import api_key_required


def operator_key(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """`X-API-Key` must match settings.api_key (read per request: settings live on the app)."""
    api_key_required(request.app.state.settings.api_key)(x_api_key)


async def bounded_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it passes `limit` bytes (declared or actually sent)."""
    too_large = Rejected(
        413, "payload_too_large", [{"field": "body", "reason": f"larger than {limit} bytes"}]
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large
    return bytes(body)


def install_rejections(app: FastAPI) -> None:
    @app.exception_handler(Rejected)
    async def on_rejected(_: Request, exc: Rejected) -> JSONResponse:
        return rejection(exc.status, exc.error, exc.errors)
