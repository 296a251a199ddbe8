"""Entry point: `python -m lead_intake` or the `lead-intake` script."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.service import serve, service_app
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

    async def readiness() -> dict[str, object]:
        return {"nats": bus_connected(broker)}

    app = service_app("CRM lead intake", SERVICE, readiness, lifespan)
    app.state.settings = settings
    app.state.broker = broker

    app.include_router(router)
    return app


def run() -> None:
    serve(SERVICE, IntakeSettings(), create_app)


if __name__ == "__main__":
    run()
