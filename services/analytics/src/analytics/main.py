"""Entry point: `python -m analytics` or the `analytics` script."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import uvicorn
from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.errors import install_error_handlers
from crm_contracts.runtime.logs import setup_logging
from crm_contracts.runtime.ops import install_ops
from fastapi import FastAPI

from analytics.adapters.clickhouse import ClickHouse, connect
from analytics.api import router
from analytics.handlers import build_router
from analytics.schema import migrate
from analytics.settings import AnalyticsSettings

SERVICE = "analytics"


def create_app(settings: AnalyticsSettings | None = None, ch: ClickHouse | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    ch = ch or ClickHouse(connect(settings), settings.database)
    migrate(ch)
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas
    broker.include_router(build_router(ch, broker, settings.batch_size, settings.batch_timeout))

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        async with running_broker(broker, replicas=replicas):
            yield

    app = FastAPI(title="CRM analytics", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.clickhouse = ch
    app.state.broker = broker

    async def readiness() -> dict[str, object]:
        try:
            await asyncio.to_thread(ch.rows, "SELECT 1 AS ok")
            store_ok = True
        except Exception:  # noqa: BLE001 - any failure means not ready
            store_ok = False
        return {"nats": bus_connected(broker), "clickhouse": store_ok}

    install_ops(app, SERVICE, readiness)
    install_error_handlers(app)
    app.include_router(router)
    return app


def run() -> None:
    settings = AnalyticsSettings()
    setup_logging(SERVICE, settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    run()
