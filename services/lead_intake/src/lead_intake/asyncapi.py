"""What lead-intake puts on the bus, declared for the AsyncAPI catalogue (entry point
`crm.asyncapi`). It consumes nothing; it publishes each accepted lead as `publish_event`
would (adapters/bus.py), so the publisher object here only describes."""

from __future__ import annotations

from faststream.nats import NatsBroker, NatsRouter

from crm_contracts.catalogue import docs_broker
from crm_contracts.events import LeadReceived

SERVICE = "lead-intake"


def build_router() -> NatsRouter:
    router = NatsRouter()
    router.publisher(
        LeadReceived.SUBJECT,
        schema=LeadReceived,
        title="lead_intake.submit_lead",
        description=(
            "Each accepted lead (a form or POST /v1/leads), validated, normalised and "
            "deduplicated; the HTTP answer is 202 once JetStream acked it (or it was spooled, "
            "then published when NATS is back). Nats-Msg-Id = the lead id."
        ),
    )
    return router


def broker_for_docs() -> NatsBroker:
    broker = docs_broker(SERVICE)
    broker.include_router(build_router())
    return broker
