"""What every operator endpoint shares: a bounded request body."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from crm_contracts.runtime.errors import Refused


def _too_large(limit: int) -> Refused:
    return Refused(f"larger than {limit} bytes", "body", status=413, error="payload_too_large")


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


def declared_body_limit(limit: int) -> Callable[[Request], None]:
    """A dependency refusing, with 413, a request whose Content-Length passes `limit`."""

    def check(request: Request) -> None:
        _refuse_declared(request, limit)

    return check
