"""The notification service's bus as the AsyncAPI catalogue sees it (entry point
`crm.asyncapi`)."""

from __future__ import annotations

from typing import cast

from faststream.nats import NatsBroker

from crm_contracts.catalogue import docs_broker
from notification.application.plan_notifications import Planner
from notification.application.send_due_notification import Deliverer
from notification.handlers import SERVICE, build_router


def broker_for_docs() -> NatsBroker:
    """The real subscribers and publishers on a broker that never connects; the use cases
    are never called, so none is built."""
    broker = docs_broker(SERVICE)
    broker.include_router(build_router(broker, cast(Planner, None), cast(Deliverer, None)))
    return broker
