"""The bootstrap (`python -m lead_intake` or the `lead-intake` script): builds the adapters, the
use cases, the routers, and wires them. The only module that knows every concrete class."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from fastapi import FastAPI
from faststream.nats import NatsBroker

from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.service import serve, service_app
from lead_intake.adapters.bus import JetStreamPublisher
from lead_intake.adapters.forms_store import FormStore
from lead_intake.adapters.idempotency import IdempotencyStore
from lead_intake.adapters.rate_limits import LocalRateLimit, SharedRateLimit
from lead_intake.adapters.spool import Spool
from lead_intake.api import forms, leads, public
from lead_intake.api.access_log import AccessLog
from lead_intake.api.form_fast_path import FormFastPath
from lead_intake.api.guard import BodyGuard
from lead_intake.api.lead_fast_path import LeadFastPath
from lead_intake.application.drain_spool import DrainSpool
from lead_intake.application.submit_lead import SubmitLead
from lead_intake.domain.abuse import RateLimiter
from lead_intake.metrics import SPOOL_DEPTH, count_refusal
from lead_intake.settings import IntakeSettings

SERVICE = "lead-intake"
NATS = ("nats",)  # shown in /readyz, not required: see app_for


@dataclass
class Components:
    """What one intake process runs on; tests reach the parts here."""

    settings: IntakeSettings
    broker: NatsBroker
    spool: Spool
    forms: FormStore
    keys: IdempotencyStore
    submit_lead: SubmitLead
    drain_spool: DrainSpool
    per_ip: LocalRateLimit | SharedRateLimit
    per_form: LocalRateLimit | SharedRateLimit


def build(settings: IntakeSettings) -> Components:
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas
    spool = Spool(settings.data_dir / "spool.sqlite3")
    SPOOL_DEPTH.set_function(lambda: spool.depth)
    publisher = JetStreamPublisher(broker)
    keys = IdempotencyStore(
        broker, settings.idempotency_hours * 3600, replicas, settings.idempotency_cached_keys
    )
    return Components(
        settings=settings,
        broker=broker,
        spool=spool,
        forms=FormStore(broker, replicas, settings.data_dir / "forms.json"),
        keys=keys,
        submit_lead=SubmitLead(
            publisher,
            spool,
            keys,
            settings.default_phone_region,
            settings.publish_timeout,
            settings.test_crash_after_publish,
        ),
        drain_spool=DrainSpool(
            spool, publisher, keys, settings.publish_timeout, settings.drain_batch
        ),
        per_ip=rate_limit(
            settings, broker, "ip", settings.rate_per_ip_per_minute, settings.rate_burst_per_ip
        ),
        per_form=rate_limit(
            settings,
            broker,
            "form",
            settings.rate_per_form_per_minute,
            settings.rate_burst_per_form,
        ),
    )


def rate_limit(
    settings: IntakeSettings, broker: NatsBroker, name: str, per_minute: float, burst: int
) -> LocalRateLimit | SharedRateLimit:
    rule = RateLimiter(per_minute, burst)
    if settings.rate_limits == "local":
        return LocalRateLimit(rule)
    return SharedRateLimit(broker, name, rule, settings.stream_replicas)


def app_for(parts: Components) -> FastAPI:
    settings, broker, spool = parts.settings, parts.broker, parts.spool

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_broker(broker, replicas=settings.stream_replicas):
            tasks = [
                asyncio.create_task(parts.drain_spool.forever()),
                asyncio.create_task(parts.forms.refresh_forever(settings.forms_refresh_seconds)),
                asyncio.create_task(parts.keys.follow_forever()),
                asyncio.create_task(parts.keys.write_forever()),
            ]
            try:
                yield
            finally:
                await parts.keys.flush(settings.publish_timeout)
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with suppress(asyncio.CancelledError):
                        await task
        spool.close()

    async def readiness() -> dict[str, object]:
        return {
            "nats": bus_connected(broker),
            "spool": {"ok": spool.writable(), "depth": spool.depth},
        }

    # The spool takes leads while NATS is down: draining intake then would lose them for nothing.
    app = service_app(
        "CRM lead intake",
        SERVICE,
        readiness,
        lifespan,
        informational_checks=NATS,
        observe_refusals=count_refusal,
    )
    app.include_router(leads.build_router(parts.submit_lead, settings.integration_api_key))
    submission = public.FormSubmission(
        parts.forms,
        parts.submit_lead,
        (parts.per_ip, parts.per_form),
        settings.min_fill_seconds,
        settings.default_phone_region,
    )
    app.include_router(public.build_router(submission))
    app.include_router(forms.build_router(parts.forms, settings.api_key))
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes, observe=count_refusal)
    # Around the whole stack, the request metrics included: they skip every layer for the
    # leads and form posts they take (see lead_fast_path, form_fast_path). Around that, the
    # access log of every request (`run` turns uvicorn's off).
    stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: AccessLog(  # type: ignore[method-assign]
        LeadFastPath(
            FormFastPath(stack(), submission, settings.max_body_bytes, count_refusal),
            submit=parts.submit_lead,
            integration_api_key=settings.integration_api_key,
            max_body_bytes=settings.max_body_bytes,
            observe=count_refusal,
        ),
        SERVICE,
    )
    return app


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    return app_for(build(settings or IntakeSettings()))


def run() -> None:
    serve(SERVICE, IntakeSettings(), create_app, access_log=False)


if __name__ == "__main__":
    run()
