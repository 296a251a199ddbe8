"""What every operator endpoint shares: the API key, a bounded request body, and the one
rejection shape for refused imports and queries."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from analytics.api.auth import operator
from analytics.tabular import Rejected
from crm_contracts.runtime.errors import rejection

# `X-API-Key` equal to settings.api_key (missing 401, wrong 403), or an operator's session.
operator_key = operator


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
