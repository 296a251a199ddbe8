"""Every refusal of intake: the shared JSON shape, counted by reason."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from crm_contracts.runtime.errors import FieldError, rejection
from lead_intake.metrics import REJECTED


def refuse(
    status: int, error: str, field: str, reason: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    REJECTED.labels(error).inc()
    response = rejection(status, error, [{"field": field, "reason": reason}])
    response.headers.update(headers or {})
    return response


def invalid(errors: list[FieldError], headers: dict[str, str] | None = None) -> JSONResponse:
    REJECTED.labels("validation_failed").inc()
    response = rejection(
        422, "validation_failed", [{"field": e.field, "reason": e.reason} for e in errors]
    )
    response.headers.update(headers or {})
    return response
