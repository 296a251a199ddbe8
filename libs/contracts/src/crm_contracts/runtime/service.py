"""The frame of every service: a FastAPI app with ops endpoints, one error shape, offline API
docs and the event catalogue (`/asyncapi`), and a uvicorn runner with JSON logs."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_contracts.runtime.catalogue_routes import install_catalogue
from crm_contracts.runtime.http_errors import Observer, install_error_handlers
from crm_contracts.runtime.logs import setup_logging
from crm_contracts.runtime.one_write import OneWriteHttpTools
from crm_contracts.runtime.ops import ReadinessCheck, install_ops
from crm_contracts.runtime.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)
VERSION = "0.1.0"
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def service_app(
    title: str,
    service: str,
    readiness: ReadinessCheck,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    informational_checks: Collection[str] = (),
    observe_refusals: Observer | None = None,
) -> FastAPI:
    """`informational_checks`: readiness checks shown in `/readyz` that do not fail it;
    `observe_refusals` sees every 4xx the service answers (to count them)."""
    # /docs and /redoc from assets of an installed package: they work with no internet.
    # FastAPI's built-in OpenTelemetry bridge asks OpenTelemetry's global providers on every
    # request whether any was configured (three environment reads): these services export
    # Prometheus metrics and JSON logs, and configure none.
    app = FastAPIOffline(
        title=title, version=VERSION, lifespan=lifespan, telemetry=NO_OPENTELEMETRY
    )
    app.add_middleware(OfflineDocs)
    install_ops(app, service, readiness, informational_checks)
    install_error_handlers(app, observe_refusals)
    install_catalogue(app)  # the bus's AsyncAPI document and its page, outside the OpenAPI
    return app


class OfflineDocs:
    """ReDoc's sidebar shows a logo from its CDN: the docs pages may load images only from the
    service itself (the logo hides itself when refused), so nothing leaves the network."""

    PAGES = frozenset({"/docs", "/redoc"})
    CSP = (b"content-security-policy", b"img-src 'self' data:")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.PAGES:
            await self.app(scope, receive, send)
            return

        async def with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.CSP]
            await send(message)

        await self.app(scope, receive, with_csp)


async def reachable(probe: Callable[[], Any]) -> bool:
    """Runs a blocking probe (a store query) in a thread; any failure means unreachable."""
    try:
        await asyncio.to_thread(probe)
    except Exception:
        return False
    return True


GC_THRESHOLDS = (50_000, 20, 100)  # young, middle, old generation passes


def serve(
    service: str, settings: S, create_app: Callable[[S], FastAPI], access_log: bool = True
) -> None:
    """`access_log=False`: the app writes its own access lines (uvicorn writes none)."""
    setup_logging(service, settings.log_level)
    app = create_app(settings)
    # What imports and the app's construction made (modules, schemas, routes) lives as long
    # as the process: out of the collector's way, whose full passes over it cost a busy
    # service a fifth of its CPU (measured in notification).
    gc.freeze()
    # The default young-generation threshold (700 allocations) runs the collector every few
    # dozen events of a batch, each pass also walking what survived earlier ones (an
    # analytics projection keeps 100 000s of latest rows alive): a quarter of its CPU,
    # measured. Cycles are rare here; reference counting frees nearly everything.
    gc.set_threshold(*GC_THRESHOLDS)
    # A bounded drain: long-lived streams (the dashboard's live events) must not hold a stop.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=access_log,
        timeout_graceful_shutdown=5,
        http=OneWriteHttpTools,  # an answer's headers and body in one write
    )
