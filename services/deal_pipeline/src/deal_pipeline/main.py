"""The bootstrap: builds the event store, the use-case objects over it, the read model, the
relay, the HTTP routers and the bus handlers, and wires them. `python -m deal_pipeline` or
the `deal-pipeline` script."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.service import reachable, serve, service_app
from deal_pipeline.adapters.event_store import SNAPSHOT_INTERVAL, EventStore
from deal_pipeline.adapters.read_model import ReadModel
from deal_pipeline.adapters.read_model.follower import Follower
from deal_pipeline.adapters.relay import Relay
from deal_pipeline.api import build_router
from deal_pipeline.api.fast_moves import FastMoves
from deal_pipeline.application.client_cards import ClientCards
from deal_pipeline.application.deal_commands import DealCommands
from deal_pipeline.application.listings import Listings
from deal_pipeline.application.open_deal import OpenDeal
from deal_pipeline.application.reference_data import ReferenceData
from deal_pipeline.domain.assignment import AssignmentRule
from deal_pipeline.domain.pipeline import DEFAULT_LOST_REASONS
from deal_pipeline.handlers import build_router as build_bus_router
from deal_pipeline.settings import PipelineSettings

SERVICE = "deal-pipeline"


@dataclass(frozen=True)
class UseCases:
    """The use-case objects of the service over its one event store."""

    store: EventStore
    reference: ReferenceData
    clients: ClientCards
    opening: OpenDeal
    deals: DealCommands

    def close(self) -> None:
        self.store.close()


def use_cases(
    env: Mapping[str, str] | None = None,
    *,
    managers: Sequence[str] = (),
    lost_reasons: Sequence[str] = DEFAULT_LOST_REASONS,
    assignment_rules: Sequence[AssignmentRule] = (),
    snapshot_interval: int = SNAPSHOT_INTERVAL,
) -> UseCases:
    """`env`: the `eventsourcing` variables of the store (else the process environment)."""
    store = EventStore(env, snapshot_interval)
    reference = ReferenceData(store, managers, lost_reasons, assignment_rules)
    clients = ClientCards(store)
    return UseCases(
        store=store,
        reference=reference,
        clients=clients,
        opening=OpenDeal(store, clients, reference),
        deals=DealCommands(store, clients, reference),
    )


def store_env(settings: PipelineSettings) -> dict[str, str]:
    """The eventsourcing library's own variables win; otherwise a SQLite file in data_dir."""
    if os.environ.get("PERSISTENCE_MODULE"):
        return {}
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(settings.data_dir / "deals.sqlite"),
    }


def use_cases_for(settings: PipelineSettings) -> UseCases:
    return use_cases(
        store_env(settings),
        managers=settings.managers,
        lost_reasons=settings.lost_reasons,
        assignment_rules=[AssignmentRule(**r.model_dump()) for r in settings.assignment_rules],
        snapshot_interval=settings.snapshot_interval,
    )


def create_app(settings: PipelineSettings | None = None, core: UseCases | None = None) -> FastAPI:
    """`core`: use cases built beforehand (tests seed through them); the app closes their
    store when it stops."""
    settings = settings or PipelineSettings()
    core = core or use_cases_for(settings)
    store = core.store
    read_model = ReadModel(store)
    listings = Listings(read_model, core.reference, settings.default_phone_region)
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas
    broker.include_router(
        build_bus_router(
            core.opening, broker, settings.lead_batch, store.call, settings.lead_linger_seconds
        )
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The lists follow the event store whether or not the bus is up.
        follower = Follower(
            read_model, settings.read_model_idle_poll, settings.read_model_min_interval
        )
        following = asyncio.create_task(follower.run())
        relay = Relay(
            store,
            broker,
            settings.relay_batch,
            idle_poll=settings.relay_idle_poll,
            publish_timeout=settings.publish_timeout,
            hold_before_tracking=settings.relay_hold_before_tracking,
            min_interval=settings.relay_min_interval,
            tracking_interval=settings.relay_tracking_interval,
        )
        relay_task: asyncio.Task[None] | None = None  # started once the bus is connected

        async def start_relay() -> None:
            nonlocal relay_task
            relay_task = asyncio.create_task(relay.run())

        async def stop_relay() -> None:
            if relay_task is not None:
                await relay.stop(relay_task)

        try:
            async with running_broker(broker, start_relay, replicas=replicas):
                yield
                await stop_relay()  # while the bus is up: a batch in flight completes
        finally:
            # Again: a connect that swallowed its cancellation may start the relay late.
            await stop_relay()
            await follower.stop(following)  # both end between reads: no store read is left
        store.close()  # running in a worker thread when the store closes (that crashed)

    async def readiness() -> dict[str, object]:
        store_ok = await reachable(store.recorder.max_notification_id)
        return {"nats": bus_connected(broker), "event_store": store_ok}

    app = service_app("CRM deal pipeline", SERVICE, readiness, lifespan)
    app.include_router(
        build_router(
            settings.api_key,
            deals=core.deals,
            opening=core.opening,
            clients=core.clients,
            reference=core.reference,
            listings=listings,
            run=store.call,
        )
    )
    # Around the whole stack, the request metrics included: it skips every layer for the
    # stage moves it takes (see fast_moves).
    stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: FastMoves(  # type: ignore[method-assign]
        stack(), core.deals, store.call, settings.api_key
    )
    return app


def run() -> None:
    serve(SERVICE, PipelineSettings(), create_app)


if __name__ == "__main__":
    run()
