"""Bus consumers of the deal pipeline."""

from __future__ import annotations

import asyncio

from crm_contracts import subjects
from crm_contracts.events import LeadReceived
from crm_contracts.runtime.consuming import consumer_max_deliver, handle
from crm_contracts.streams import CRM
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js.api import ConsumerConfig

from deal_pipeline.application import DealsApp

LEADS_CONSUMER = "deal_pipeline_leads"


def lead_title(lead: LeadReceived) -> str:
    who = lead.contact.name or lead.contact.email or lead.contact.phone or "lead"
    return f"{who} ({lead.form_id})"


def build_router(app: DealsApp, broker: NatsBroker) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        subjects.LEADS_RECEIVED,
        stream=JStream(CRM, declare=False),
        durable=LEADS_CONSUMER,
        pull_sub=PullSub(batch_size=50, timeout=1.0),
        config=ConsumerConfig(ack_wait=10, max_deliver=consumer_max_deliver()),
        ack_policy=AckPolicy.MANUAL,
        title="deal_pipeline.open_deal_from_lead",
        description="Opens a deal in the first stage for each received lead (idempotent).",
    )
    async def on_lead(message: NatsMessage) -> None:
        await handle(LEADS_CONSUMER, message, broker, LeadReceived, open_deal)

    async def open_deal(lead: LeadReceived) -> None:
        await asyncio.to_thread(app.open_deal_from_lead, lead.lead_id, lead_title(lead))

    return router
