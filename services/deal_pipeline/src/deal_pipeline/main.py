"""Entry point: `python -m deal_pipeline` or the `deal-pipeline` script."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager

from eventsourcing.persistence import DataError, RecordConflictError
from fastapi import FastAPI, Request

from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.errors import rejection
from crm_contracts.runtime.service import reachable, serve, service_app
from deal_pipeline.adapters.read_model import ReadModel
from deal_pipeline.adapters.read_model.follower import Follower
from deal_pipeline.adapters.relay import Relay
from deal_pipeline.api import build_router, domain_error_response
from deal_pipeline.application import DealsApp
from deal_pipeline.application.listings import Listings
from deal_pipeline.domain.assignment import AssignmentRule
from deal_pipeline.domain.errors import DomainError
from deal_pipeline.handlers import build_router as build_bus_router
from deal_pipeline.settings import PipelineSettings

SERVICE = "deal-pipeline"


def store_env(settings: PipelineSettings) -> dict[str, str]:
    """The eventsourcing library's own variables win; otherwise a SQLite file in data_dir."""
    if os.environ.get("PERSISTENCE_MODULE"):
        return {}
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(settings.data_dir / "deals.sqlite"),
    }


def create_deals_app(settings: PipelineSettings) -> DealsApp:
    return DealsApp(
        env=store_env(settings),
        managers=settings.managers,
        lost_reasons=settings.lost_reasons,
        assignment_rules=[AssignmentRule(**r.model_dump()) for r in settings.assignment_rules],
        snapshot_interval=settings.snapshot_interval,
    )


def create_app(settings: PipelineSettings | None = None) -> FastAPI:
    settings = settings or PipelineSettings()
    deals = create_deals_app(settings)
    read_model = ReadModel(deals)
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas
    broker.include_router(build_bus_router(deals, broker))

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        # The lists follow the event store whether or not the bus is up.
        follower = Follower(read_model, settings.read_model_idle_poll)
        following = asyncio.create_task(follower.run())
        relay = Relay(
            deals,
            broker,
            settings.relay_batch,
            idle_poll=settings.relay_idle_poll,
            publish_timeout=settings.publish_timeout,
            hold_before_tracking=settings.relay_hold_before_tracking,
        )

        async def start_relay() -> None:
            app.state.relay_task = asyncio.create_task(relay.run())

        async def stop_relay() -> None:
            if task := getattr(app.state, "relay_task", None):
                await relay.stop(task)

        try:
            async with running_broker(broker, start_relay, replicas=replicas):
                yield
                await stop_relay()  # while the bus is up: a batch in flight completes
        finally:
            # Again: a connect that swallowed its cancellation may start the relay late.
            await stop_relay()
            await follower.stop(following)  # both end between reads: no store read is left
        deals.close()  # running in a worker thread when the store closes (that crashed)

    async def readiness() -> dict[str, object]:
        store_ok = await reachable(deals.recorder.max_notification_id)
        return {"nats": bus_connected(broker), "event_store": store_ok}

    app = service_app("CRM deal pipeline", SERVICE, readiness, lifespan)
    app.state.settings = settings
    app.state.deals = deals
    app.state.broker = broker
    app.state.listings = Listings(read_model, deals, settings.default_phone_region)

    @app.exception_handler(DomainError)
    async def on_domain_error(_: Request, exc: DomainError):  # type: ignore[no-untyped-def]
        return domain_error_response(exc)

    @app.exception_handler(DataError)
    async def on_data_error(_: Request, exc: DataError):  # type: ignore[no-untyped-def]
        # PostgreSQL refuses NUL in text: the save is rolled back, nothing is half-written.
        return rejection(422, "validation_failed", [{"field": "body", "reason": str(exc)}])

    @app.exception_handler(RecordConflictError)
    async def on_conflict(_: Request, exc: RecordConflictError):  # type: ignore[no-untyped-def]
        reason = "too many concurrent writers on this deal; try again"
        return rejection(409, "Conflict", [{"field": "", "reason": reason}])

    app.include_router(build_router(settings.api_key))
    return app


def run() -> None:
    serve(SERVICE, PipelineSettings(), create_app)


if __name__ == "__main__":
    run()
