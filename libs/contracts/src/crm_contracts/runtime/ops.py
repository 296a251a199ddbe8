"""`/healthz`, `/readyz`, `/metrics` and request metrics for a FastAPI service."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crm_contracts.runtime.metrics import HTTP_REQUESTS, HTTP_SECONDS

ReadinessCheck = Callable[[], Awaitable[dict[str, object]]]


def ops_router(service: str, readiness: ReadinessCheck) -> APIRouter:
    """`readiness` returns named checks; each value is True/False or a details dict with `ok`."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ok = all(v.get("ok", False) if isinstance(v, dict) else bool(v) for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "service": service, "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def install_ops(app: FastAPI, service: str, readiness: ReadinessCheck) -> None:
    app.include_router(ops_router(service, readiness))

    @app.middleware("http")
    async def count_requests(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        HTTP_SECONDS.labels(request.method, path).observe(time.perf_counter() - started)
        return response
