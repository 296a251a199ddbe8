"""One JSON shape for every rejection: `{"error": ..., "errors": [{"field", "reason"}]}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


class FieldError(ValueError):
    """Raised by domain code for input it refuses; becomes a 422 naming the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def rejection(status: int, error: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "errors": errors or []}, status_code=status)


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _json_error(error: dict, doc: object) -> dict[str, str]:
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
    return {"field": "body", "reason": f"invalid JSON at {where}: {why}"}


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [
        _json_error(e, exc.body)
        if e.get("type") == "json_invalid"
        else {"field": _field_name(tuple(e["loc"])), "reason": e["msg"]}
        for e in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return rejection(422, "validation_failed", _validation_errors(exc))

    @app.exception_handler(HTTPException)
    async def on_http_error(_: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict):
            return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        reason = [{"field": "", "reason": str(exc.detail)}]
        return JSONResponse({"error": "http_error", "errors": reason}, exc.status_code, exc.headers)

    @app.exception_handler(FieldError)
    async def on_field_error(_: Request, exc: FieldError) -> JSONResponse:
        return rejection(422, "validation_failed", [{"field": exc.field, "reason": exc.reason}])
