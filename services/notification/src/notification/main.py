"""Entry point: `python -m notification` or the `notification` script. The bootstrap: builds
the real adapters, the use cases on top of them, the routers and the bus handlers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.service import serve, service_app
from notification.adapters.analytics import AnalyticsReports
from notification.adapters.channels import build_channels, close_channels
from notification.adapters.delivery_log import DeliveryLog
from notification.adapters.directory import Directory
from notification.adapters.outcomes import Outcomes
from notification.adapters.own_plans import new_origin
from notification.adapters.reminders import Reminders
from notification.adapters.rule_store import RuleStore
from notification.api.deliveries import deliveries_router
from notification.api.rules import rules_router
from notification.application.manage_rules import RuleAdmin
from notification.application.plan_notifications import Planner
from notification.application.schedule_digests import DigestClock
from notification.application.send_due_notification import Deliverer
from notification.handlers import EventsBatch, build_router
from notification.settings import NotificationSettings

SERVICE = "notification"
log = logging.getLogger(__name__)


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    broker = make_broker(settings.nats_url, SERVICE)
    rules = RuleStore(broker, settings.stream_replicas)
    directory = Directory(broker, settings.stream_replicas)
    origin = new_origin()  # marks the sends this instance plans (adapters/own_plans.py)
    reminders = Reminders(broker, origin)
    deliveries = DeliveryLog(broker, settings.log_ttl_days, settings.stream_replicas)
    clock = DigestClock(reminders, rules, settings)
    channels = build_channels(settings)
    deliverer = Deliverer(
        rules,
        directory,
        reminders,
        channels,
        deliveries,
        Outcomes(broker, deliveries),
        AnalyticsReports(settings.analytics_url, settings.http_timeout, settings.analytics_api_key),
        settings,
    )
    planner = Planner(rules, directory, reminders, settings, off_channels=deliverer)
    broker.include_router(
        build_router(
            broker,
            planner,
            deliverer,
            settings.due_ack_wait_seconds,
            EventsBatch(
                settings.events_batch_size,
                settings.events_batch_wait_seconds,
                settings.events_ack_wait_seconds,
            ),
            origin,
        )
    )
    state = {"rules": False}

    async def on_started() -> None:
        if settings.seed_default_rules:
            await rules.seed_defaults()
        await clock.sync_all()
        state["rules"] = True
        # What start-up made (modules, schemas, the app) lives as long as the process: out of
        # the collector's way, whose full passes over it were a fifth of a busy service's CPU.
        gc.freeze()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with running_broker(broker, on_started, replicas=settings.stream_replicas):
                yield
        finally:
            await close_channels(channels)

    async def readiness() -> dict[str, object]:
        return {"nats": bus_connected(broker), "rules": state["rules"]}

    app = service_app("CRM notification", SERVICE, readiness, lifespan)
    app.include_router(rules_router(settings.api_key, RuleAdmin(rules, clock)))
    app.include_router(deliveries_router(settings.api_key, deliveries))
    return app


def run() -> None:
    serve(SERVICE, NotificationSettings(), create_app)


if __name__ == "__main__":
    run()
