"""Bus consumers of the deal pipeline, and what it publishes (declared for the AsyncAPI
catalogue: the relay puts every stored event on the bus through `publish_event`)."""

from __future__ import annotations

import asyncio

from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.annotations import NatsMessage

from crm_contracts import subjects
from crm_contracts.envelope import Event
from crm_contracts.events import (
    EVENT_TYPES,
    LeadReceived,
    NotificationFailed,
    NotificationSent,
)
from crm_contracts.runtime.consuming import declare_dead_letters, handle, work_queue
from deal_pipeline.application.open_deal import OpenDeal

SERVICE = "deal-pipeline"
LEADS_CONSUMER = "deal_pipeline_leads"
# Every contract event the relay can publish (adapters/event_mapping.py maps stored events).
RELAYED: tuple[type[Event], ...] = tuple(
    event
    for event in EVENT_TYPES
    if event not in (LeadReceived, NotificationSent, NotificationFailed)  # intake's, notification's
)


def lead_title(lead: LeadReceived) -> str:
    """The name if the lead gave one; never a phone or e-mail (titles travel to analytics)."""
    return f"{lead.contact.name or 'Lead'} ({lead.form_id})"


def build_router(opening: OpenDeal, broker: NatsBroker) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(  # type: ignore[untyped-decorator]  # faststream's decorator is untyped
        subjects.LEADS_RECEIVED,
        **work_queue(LEADS_CONSUMER, ack_wait=10, batch_size=50),
        title="deal_pipeline.open_deal_from_lead",
        description=(
            "Finds or registers the client and opens a deal in the first stage for each "
            "received lead, assigned by rule or round robin (idempotent)."
        ),
    )
    async def on_lead(message: NatsMessage) -> None:
        await handle(LEADS_CONSUMER, message, broker, LeadReceived, open_deal)

    async def open_deal(lead: LeadReceived) -> None:
        await asyncio.to_thread(
            opening.from_lead,
            lead.lead_id,
            lead_title(lead),
            name=lead.contact.name,
            phone=lead.contact.phone,
            email=lead.contact.email,
            form_id=lead.form_id,
            source=lead.source,
            utm_source=lead.touch.utm_source,
        )

    for event in RELAYED:
        router.publisher(
            event.SUBJECT,
            schema=event,
            title=f"deal_pipeline.relay.{event.__name__}",
            description=(
                "The relay publishes each stored event in store order, once JetStream acks it "
                "(event id derived from aggregate and version: a re-publish is a duplicate)."
            ),
        )
    declare_dead_letters(router, SERVICE, [LEADS_CONSUMER])
    return router
