"""One exception handler set, installed by every service: the `ServiceError` family, FastAPI's
validation errors and Starlette's HTTP errors all answer with the same body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from crm_contracts.runtime.errors import Invalid, Problem, ServiceError

Observer = Callable[[ServiceError], None]


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _json_error(error: dict[str, Any], doc: object) -> tuple[str, str]:
    """FastAPI puts the character offset of a JSON syntax error where a field name goes; a
    client needs the body named and a line and column it can find in its editor."""
    pos, why = error["loc"][-1], error.get("ctx", {}).get("error", error["msg"])
    if isinstance(doc, bytes):
        doc = doc.decode("utf-8", "replace")
    if isinstance(pos, int) and isinstance(doc, str):
        line = doc.count("\n", 0, pos) + 1
        column = pos - doc.rfind("\n", 0, pos)
        where = f"line {line}, column {column}"
    else:
        where = f"position {pos}"
    return "body", f"invalid JSON at {where}: {why}"


def validation_error(exc: RequestValidationError) -> Invalid:
    return Invalid.of(
        _json_error(e, exc.body)
        if e.get("type") == "json_invalid"
        else (_field_name(tuple(e["loc"])), str(e["msg"]))
        for e in exc.errors()
    )


def _from_http(exc: HTTPException) -> ServiceError:
    error = ServiceError(str(exc.detail), status=exc.status_code, error="http_error")
    error.headers = dict(exc.headers or {})
    return error


def response(error: ServiceError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.http_status, headers=error.headers or None)


def install_error_handlers(app: FastAPI, observe: Observer | None = None) -> None:
    """`observe` sees every refusal before it is answered (intake counts them by code)."""

    def answer(error: ServiceError) -> JSONResponse:
        if observe is not None:
            observe(error)
        return response(error)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return answer(validation_error(exc))

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return answer(_from_http(exc))

    async def on_service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return answer(exc)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(ServiceError, on_service_error)


__all__ = ["Problem", "install_error_handlers", "response", "validation_error"]
