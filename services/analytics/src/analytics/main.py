"""The bootstrap (`python -m analytics` or the `analytics` script): builds the real adapters,
the use cases, the routers and the bus handlers, and wires them. The only module that knows
every concrete class."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import Depends, FastAPI
from faststream.nats import NatsBroker

from analytics.adapters.analyst_views import create_views
from analytics.adapters.clickhouse import ClickHouse, open_clickhouse
from analytics.adapters.data_version import DataVersion
from analytics.adapters.jetstream import JetStreamLag, JetStreamReplay
from analytics.adapters.ops_sources import (
    ClickHouseProjectionClock,
    HttpServiceProbe,
    InProcessRebuilds,
    JetStreamOps,
    NatsMonitor,
    NotificationDeliveries,
)
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.adapters.projection_switch import ProjectionSwitch
from analytics.adapters.rebuild_tables import ClickHouseDatabases
from analytics.adapters.replica_identity import store_id
from analytics.adapters.schema import fill_missing, migrate
from analytics.adapters.spend_store import ClickHouseSpendStore
from analytics.adapters.sql_readonly import LazyAnalyst, limits
from analytics.adapters.vitals_store import ClickHouseVitals
from analytics.adapters.writer_lease import NatsWriterLease
from analytics.api.ad_spend import build_ad_spend_router
from analytics.api.admin import build_admin_router
from analytics.api.auth import Auth, build_auth_router, install_sign_in, log_dashboard_config
from analytics.api.clickhouse_protocol import ClickHouseHttpServer, build_clickhouse_http_app
from analytics.api.dashboard.assets import load_assets
from analytics.api.dashboard.routes import build_dashboard_router
from analytics.api.dimensions import build_dimensions_router
from analytics.api.drill import build_drill_router
from analytics.api.live import build_live_router
from analytics.api.ops import ops_router
from analytics.api.reports import build_reports_router, report_query
from analytics.api.sql import build_sql_router
from analytics.application.gate import ProjectionGate
from analytics.application.ingest import Projector
from analytics.application.lag import LagMonitor
from analytics.application.live import Pulse
from analytics.application.ops_status import DeadLetterActions, OpsSources, OpsStatus
from analytics.application.ordered_batches import OrderedBatches
from analytics.application.periodic import Periodic
from analytics.application.rebuild import Rebuilder
from analytics.application.report_cache import ReportCache
from analytics.application.vitals import VitalsMonitor
from analytics.application.writer_election import ProjectionRole, WriterElection
from analytics.handlers import PROJECTION_CONSUMER, build_router, own_consumer
from analytics.settings import AnalyticsSettings
from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.service import reachable, serve, service_app

SERVICE = "analytics"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Service:
    """The wired service: its app, and the parts a test or an operator may need to reach."""

    app: FastAPI
    auth: Auth
    gate: ProjectionGate
    pulse: Pulse
    rebuilder: Rebuilder
    projection: ProjectionRole


def build_service(settings: AnalyticsSettings, ch: ClickHouse | None = None) -> Service:
    ch = ch or open_clickhouse(settings)
    migrate(ch)
    create_views(ch, settings.base_currency)  # the stable v_* views analysts query
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas
    config = settings.projection_config()
    gate = ProjectionGate()  # lets a rebuild hold the projection while it swaps tables
    pulse = Pulse()  # tells open dashboards that new events landed
    capacity = settings.projection_cache_keys
    projector = Projector(ClickHouseProjectionStore(ch), config, capacity)
    elected = settings.writer_mode() == "elected"
    own = None if elected else own_consumer(settings.replica or store_id(ch))
    # One batch written while the next is fetched; the waiting ones kept alive.
    batches = OrderedBatches(keep_alive_every=settings.projection_ack_wait / 3)
    router = build_router(
        projector,
        broker,
        settings.batch_size,
        settings.batch_timeout,
        gate,
        pulse,
        durable=own or PROJECTION_CONSUMER,
        ack_wait=settings.projection_ack_wait,
        inactive_threshold=settings.own_consumer_inactive_seconds if own else None,
        batches=batches,
    )
    role = ProjectionRole(own or PROJECTION_CONSUMER)
    rebuilder = Rebuilder(
        ClickHouseDatabases(ch),
        lambda: JetStreamReplay(broker),
        gate,
        config,
        settings.rebuild_batch_size,
        capacity=capacity,
        on_swapped=projector.forget,  # the live tables are new: what it remembers is not theirs
        is_writer=lambda: role.writing,
    )
    switch = ProjectionSwitch(broker, router, batches)
    if elected:
        role.election = writer_election(settings, broker, switch, projector, rebuilder, role, ch)
    else:
        broker.include_router(router)
    lag = Periodic(LagMonitor(JetStreamLag(broker)).refresh, settings.lag_refresh_seconds, "lag")
    vitals = Periodic(
        VitalsMonitor(ClickHouseVitals(ch), settings.tz).refresh,
        settings.vitals_refresh_seconds,
        "business vitals",
    )
    analyst_http = analysts_endpoint(settings, ch)
    # The operators' page reads the services and NATS monitoring over HTTP, like any client.
    ops_http = httpx.AsyncClient()
    jetstream = JetStreamOps(lambda: broker.connection.jetstream())
    services = settings.ops_services
    ops = OpsStatus(
        list(services),
        OpsSources(
            probe=HttpServiceProbe(ops_http, services),
            jetstream=NatsMonitor(ops_http, settings.nats_monitor_url),
            messages=jetstream,
            dead_letters=jetstream,
            deliveries=NotificationDeliveries(
                ops_http,
                services.get("notification", "http://127.0.0.1:8003"),
                settings.ops_notification_api_key,
            ),
            reminders=jetstream,
            projection=ClickHouseProjectionClock(ch),
            rebuilds=InProcessRebuilds(lambda: rebuilder.jobs),
        ),
        interval=settings.ops_refresh_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log_dashboard_config(settings)

        async def on_started() -> None:
            await lag.start()
            await role.start()

        async with running_broker(broker, on_started=on_started, replicas=replicas):
            if analyst_http is not None:
                await analyst_http.start()
            await ops.start()
            await vitals.start()
            try:
                yield
            finally:  # before the broker stops: these use its connection
                if analyst_http is not None:
                    await analyst_http.stop()
                await ops.stop()
                await vitals.stop()
                await role.stop()  # an elected writer stops and frees the lease at once
                await rebuilder.stop()  # first: it may hold the gate a batch waits at
                if not elected:  # no batch fetched and dropped while the broker stops
                    await switch.off()
                await lag.stop()
        await ops_http.aclose()

    async def readiness() -> dict[str, object]:
        store_ok = await reachable(lambda: ch.rows("SELECT 1 AS ok"))
        return {
            "nats": bus_connected(broker),
            "clickhouse": store_ok,
            "projection": {"ok": True} | role.view(),  # a follower serves reports: ready
        }

    app = service_app("CRM analytics", SERVICE, readiness, lifespan)
    auth = Auth(settings)
    operator = auth.operator
    query = report_query(settings.tz, settings.base_currency)
    version = DataVersion(ch)
    cache = ReportCache(
        lambda: asyncio.to_thread(version.read),
        settings.report_cache_seconds,
        settings.report_cache_megabytes * 1_000_000,
    )
    app.include_router(build_auth_router(auth))  # /login, /logout, /v1/me
    install_sign_in(app)  # sign-in redirects and the dashboard's 503
    # Reports and drill-down need a viewer, whatever their routers declare.
    viewer = [Depends(auth.viewer)]
    app.include_router(build_reports_router(ch, settings, query, cache), dependencies=viewer)
    app.include_router(build_drill_router(ch, settings, query), dependencies=viewer)
    app.include_router(build_dimensions_router(ch), dependencies=viewer)
    app.include_router(build_live_router(pulse), dependencies=viewer)
    page = {"tz": settings.tz, "currency": settings.base_currency}
    app.include_router(build_dashboard_router(load_assets(), page, auth.browser_viewer))
    app.include_router(
        build_ad_spend_router(
            ClickHouseSpendStore(ch), operator, settings.base_currency, settings.max_import_bytes
        )
    )
    app.include_router(build_sql_router(LazyAnalyst(ch, settings), operator))
    app.include_router(build_admin_router(rebuilder, lambda: bus_connected(broker), operator))
    app.include_router(
        ops_router(ops, DeadLetterActions(jetstream), auth.browser_viewer, auth.operator)
    )
    return Service(app, auth, gate, pulse, rebuilder, role)


def writer_election(
    settings: AnalyticsSettings,
    broker: NatsBroker,
    switch: ProjectionSwitch,
    projector: Projector,
    rebuilder: Rebuilder,
    role: ProjectionRole,
    ch: ClickHouse,
) -> WriterElection:
    """Elected mode: the projection's subscriber runs only while this replica holds the lease."""

    fills: set[asyncio.Task[None]] = set()

    async def elected() -> None:
        projector.forget()  # another writer may have written since: start cold
        await switch.on()
        # The writer before may have been an older release's, writing rows without what this
        # one adds (deals' summaries of stays, leads' touch sources, owners' paths, the
        # payments of known deals). Filled beside the projection: a row it writes anew wins.
        fill = asyncio.create_task(_fill_summaries(ch))
        fills.add(fill)
        fill.add_done_callback(fills.discard)

    async def deposed() -> None:
        await rebuilder.stop()  # first: it may hold the gate the batch in flight waits at
        await switch.off()

    ttl = settings.writer_lease_seconds
    holder = f"{settings.replica or socket.gethostname()}-{os.getpid()}"  # for the operators
    lease = NatsWriterLease(broker, holder, ttl, settings.stream_replicas)
    return WriterElection(lease, ttl, elected, deposed, signal=role.signal)


async def _fill_summaries(ch: ClickHouse) -> None:
    try:
        await asyncio.to_thread(fill_missing, ch)
    except Exception:  # the next election tries again; the reports read what is there
        log.exception("could not fill what an older release left unfilled")


def analysts_endpoint(settings: AnalyticsSettings, ch: ClickHouse) -> ClickHouseHttpServer | None:
    """ClickHouse's HTTP interface over the embedded engine, when accounts are configured."""
    if settings.clickhouse_mode != "chdb" or not settings.clickhouse_http_users:
        return None
    app = build_clickhouse_http_app(ch, settings.clickhouse_http_users, limits(settings))
    return ClickHouseHttpServer(app, settings.clickhouse_http_host, settings.clickhouse_http_port)


def create_app(settings: AnalyticsSettings | None = None, ch: ClickHouse | None = None) -> FastAPI:
    return build_service(settings or AnalyticsSettings(), ch).app


def run() -> None:
    serve(SERVICE, AnalyticsSettings(), create_app)


if __name__ == "__main__":
    run()
