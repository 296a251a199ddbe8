"""Entry point: `python -m notification` or the `notification` script."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.service import serve, service_app
from notification.handlers import build_router
from notification.settings import NotificationSettings

SERVICE = "notification"


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas
    broker.include_router(build_router(settings, broker))

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        async with running_broker(broker, replicas=replicas):
            yield

    async def readiness() -> dict[str, object]:
        return {"nats": bus_connected(broker)}

    app = service_app("CRM notification", SERVICE, readiness, lifespan)
    app.state.settings = settings

    return app


def run() -> None:
    serve(SERVICE, NotificationSettings(), create_app)


if __name__ == "__main__":
    run()
