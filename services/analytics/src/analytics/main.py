"""Entry point: `python -m analytics` or the `analytics` script."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from analytics.adapters.clickhouse import ClickHouse, connect
from analytics.api.ad_spend import router as ad_spend_router
from analytics.api.admin import router as admin_router
from analytics.api.auth import browser_viewer, install_auth, log_dashboard_config, viewer
from analytics.api.dimensions import build_dimensions_router
from analytics.api.drill import router as drill_router
from analytics.api.live import build_live_router
from analytics.api.operator import install_rejections
from analytics.api.reports import router as reports_router
from analytics.api.sql import router as sql_router
from analytics.dashboard.assets import load_assets
from analytics.dashboard.routes import build_dashboard_router
from analytics.gate import ProjectionGate
from analytics.handlers import build_router
from analytics.lag import LagMonitor
from analytics.live import Pulse
from analytics.rebuild import Rebuilder
from analytics.schema import migrate
from analytics.settings import AnalyticsSettings
from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.service import reachable, serve, service_app

SERVICE = "analytics"


def create_app(settings: AnalyticsSettings | None = None, ch: ClickHouse | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    ch = ch or ClickHouse(connect(settings), settings.database)
    migrate(ch)
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas
    config = settings.projection_config()
    gate = ProjectionGate()  # lets a rebuild hold the projection while it swaps tables
    pulse = Pulse()  # tells open dashboards that new events landed
    broker.include_router(
        build_router(ch, broker, config, settings.batch_size, settings.batch_timeout, gate, pulse)
    )
    rebuilder = Rebuilder(ch, broker, gate, config, settings.rebuild_batch_size)
    lag = LagMonitor(broker, settings.lag_refresh_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        log_dashboard_config(settings)
        async with running_broker(broker, on_started=lag.start, replicas=replicas):
            try:
                yield
            finally:  # before the broker stops: both use its connection
                await rebuilder.stop()
                await lag.stop()

    async def readiness() -> dict[str, object]:
        store_ok = await reachable(lambda: ch.rows("SELECT 1 AS ok"))
        return {"nats": bus_connected(broker), "clickhouse": store_ok}

    app = service_app("CRM analytics", SERVICE, readiness, lifespan)
    app.state.settings = settings
    app.state.clickhouse = ch
    app.state.broker = broker
    app.state.gate = gate
    app.state.rebuilder = rebuilder

    install_auth(app, settings)  # /login, /logout, /v1/me; sign-in redirects and 503s
    # Reports and drill-down need a viewer (DESIGN §7), whatever their routers declare.
    app.include_router(reports_router, dependencies=[Depends(viewer)])
    app.include_router(drill_router, dependencies=[Depends(viewer)])
    app.include_router(build_dimensions_router(), dependencies=[Depends(viewer)])
    app.include_router(build_live_router(pulse), dependencies=[Depends(viewer)])
    page = {"tz": settings.tz, "currency": settings.base_currency}
    app.include_router(build_dashboard_router(load_assets(), page, browser_viewer))
    app.include_router(ad_spend_router)
    app.include_router(sql_router)
    app.include_router(admin_router)
    install_rejections(app)
    return app


def run() -> None:
    serve(SERVICE, AnalyticsSettings(), create_app)


if __name__ == "__main__":
    run()
