"""The analytics service's bus as the AsyncAPI catalogue sees it (entry point `crm.asyncapi`):
the projection subscriber of handlers.py, and the DLQ where it parks what is not an event.
It publishes no event."""

from __future__ import annotations

from typing import cast

from faststream.nats import NatsBroker

from analytics.application.ingest import Projector
from analytics.handlers import PROJECTION_CONSUMER, build_router
from analytics.settings import AnalyticsSettings
from crm_contracts.catalogue import docs_broker
from crm_contracts.runtime.consuming import declare_dead_letters

SERVICE = "analytics"


def broker_for_docs() -> NatsBroker:
    """The real subscriber on a broker that never connects; the projector is never called,
    so no store is opened. Batch options are the settings' defaults (the environment is not
    read)."""
    fields = AnalyticsSettings.model_fields
    broker = docs_broker(SERVICE)
    broker.include_router(
        build_router(
            cast(Projector, None),
            broker,
            fields["batch_size"].default,
            fields["batch_timeout"].default,
        )
    )
    declare_dead_letters(broker, SERVICE, [PROJECTION_CONSUMER])
    return broker
