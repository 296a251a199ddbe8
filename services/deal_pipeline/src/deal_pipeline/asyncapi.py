"""The deal pipeline's bus as the AsyncAPI catalogue sees it (entry point `crm.asyncapi`)."""

from __future__ import annotations

from typing import cast

from faststream.nats import NatsBroker

from crm_contracts.catalogue import docs_broker
from deal_pipeline.application.open_deal import OpenDeal
from deal_pipeline.handlers import SERVICE, build_router


def broker_for_docs() -> NatsBroker:
    """The real subscribers and publishers on a broker that never connects; the use case is
    never called, so none is built."""
    broker = docs_broker(SERVICE)
    broker.include_router(build_router(cast(OpenDeal, None), broker))
    return broker
