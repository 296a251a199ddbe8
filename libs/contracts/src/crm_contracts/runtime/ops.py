"""`/healthz`, `/readyz`, `/metrics` and request metrics for a FastAPI service."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_contracts.runtime.metrics import HTTP_REQUESTS, HTTP_SECONDS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ReadinessCheck = Callable[[], Awaitable[dict[str, object]]]


def passed(check: object) -> bool:
    return check.get("ok", False) if isinstance(check, dict) else bool(check)


def ops_router(
    service: str, readiness: ReadinessCheck, informational: Collection[str] = ()
) -> APIRouter:
    """`readiness` returns named checks; each value is True/False or a details dict with `ok`.
    Checks named in `informational` are shown but do not make the service unready (a
    dependency the service can work without)."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ok = all(passed(v) for k, v in checks.items() if k not in informational)
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "service": service, "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def install_ops(
    app: FastAPI, service: str, readiness: ReadinessCheck, informational: Collection[str] = ()
) -> None:
    app.include_router(ops_router(service, readiness, informational))
    # Outermost, around Starlette's own error layer, whatever middleware a service adds later:
    # so refusals of other middleware and the 500 of an unhandled exception are counted too.
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: RequestMetrics(build())  # type: ignore[method-assign]  # wraps the stack


def route_label(scope: Scope) -> str:
    """The matched route's template (`/v1/forms/{form_id}`), never the raw path: an unknown
    path must not create a new series."""
    return getattr(scope.get("route"), "path", None) or "unmatched"


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


class RequestMetrics:
    """Counts every HTTP response by method, route template and status, and times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500  # an exception before any response is what the client sees as a 500

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            method, route = method_label(scope["method"]), route_label(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)
