"""Entry point: `python -m lead_intake` or the `lead-intake` script. Wires the parts."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from crm_contracts.runtime.security import api_key_required
from crm_contracts.runtime.service import serve, service_app
from lead_intake.adapters.forms_store import FormStore
from lead_intake.adapters.idempotency import IdempotencyStore
from lead_intake.adapters.spool import Spool
from lead_intake.api import forms, leads, public
from lead_intake.api.guard import BodyGuard
from lead_intake.domain.abuse import RateLimiter
from lead_intake.drain import drain_forever
from lead_intake.intake import Intake
from lead_intake.metrics import REJECTED, SPOOL_DEPTH
from lead_intake.settings import IntakeSettings

SERVICE = "lead-intake"
NATS = ("nats",)  # shown in /readyz, not required: see create_app


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    broker = make_broker(settings.nats_url, SERVICE)
    replicas = settings.stream_replicas
    spool = Spool(settings.data_dir / "spool.sqlite3")
    SPOOL_DEPTH.set_function(lambda: spool.depth)
    form_store = FormStore(broker, replicas, settings.data_dir / "forms.json")
    idempotency = IdempotencyStore(broker, settings.idempotency_hours * 3600, replicas)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        async with running_broker(broker, replicas=replicas):
            tasks = [
                asyncio.create_task(
                    drain_forever(
                        spool, broker, idempotency, settings.publish_timeout, settings.drain_batch
                    )
                ),
                asyncio.create_task(form_store.refresh_forever(settings.forms_refresh_seconds)),
            ]
            try:
                yield
            finally:
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
        "CRM lead intake", SERVICE, readiness, lifespan, informational_checks=NATS,
        observe_refusals=lambda refusal: REJECTED.labels(refusal.error).inc(),
    )
    app.state.settings = settings
    app.state.broker = broker
    app.state.forms = form_store
    app.state.intake = Intake(
        broker, spool, idempotency, settings.default_phone_region, settings.publish_timeout
    )
    app.state.per_ip = RateLimiter(settings.rate_per_ip_per_minute, settings.rate_burst_per_ip)
    app.state.per_form = RateLimiter(
        settings.rate_per_form_per_minute, settings.rate_burst_per_form
    )
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    app.include_router(leads.router)
    app.include_router(public.router)
    app.include_router(forms.operator_router(api_key_required(settings.api_key)))
    return app


def run() -> None:
    serve(SERVICE, IntakeSettings(), create_app)


if __name__ == "__main__":
    run()
