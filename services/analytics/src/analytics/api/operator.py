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


def _too_large(limit: int) -> Rejected:
    reason = f"larger than {limit} bytes"
    return Rejected(413, "payload_too_large", [{"field": "body", "reason": reason}])


def _refuse_declared(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)


async def bounded_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it passes `limit` bytes (declared or actually sent)."""
    _refuse_declared(request, limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def declared_body_limit(limit: int):  # type: ignore[no-untyped-def]
    """A dependency refusing, with 413, a request whose Content-Length passes `limit`."""

    def check(request: Request) -> None:
        _refuse_declared(request, limit)

    return check


def install_rejections(app: FastAPI) -> None:
    @app.exception_handler(Rejected)
    async def on_rejected(_: Request, exc: Rejected) -> JSONResponse:
        return rejection(exc.status, exc.error, exc.errors)
