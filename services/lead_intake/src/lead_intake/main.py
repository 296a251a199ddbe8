"""Entry point: `python -m lead_intake` or the `lead-intake` script."""

from __future__ import annotations

from contextlib import asynccontextmanager

import uvicorn
from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.errors import install_error_handlers
from crm_contracts.runtime.logs import setup_logging
from crm_contracts.runtime.ops import install_ops
from fastapi import FastAPI

from lead_intake.api import router
from lead_intake.settings import IntakeSettings

SERVICE = "lead-intake"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        async with running_broker(broker, replicas=replicas):
            yield

    app = FastAPI(title="CRM lead intake", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.broker = broker

    async def readiness() -> dict[str, object]:
        return {"nats": bus_connected(broker)}

    install_ops(app, SERVICE, readiness)
    install_error_handlers(app)
    app.include_router(router)
    return app


def run() -> None:
    settings = IntakeSettings()
    setup_logging(SERVICE, settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    run()
