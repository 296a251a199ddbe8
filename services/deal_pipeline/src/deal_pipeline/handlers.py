"""Bus consumers of the deal pipeline."""

from __future__ import annotations

import asyncio

from crm_contracts import subjects
from crm_contracts.events import LeadReceived
from crm_contracts.runtime.consuming import consumed
from crm_contracts.streams import CRM
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsRouter, PullSub
from nats.js.api import ConsumerConfig

from deal_pipeline.application import DealsApp

LEADS_CONSUMER = "deal_pipeline_leads"


def lead_title(lead: LeadReceived) -> str:
    who = lead.contact.name or lead.contact.email or lead.contact.phone or "lead"
    return f"{who} ({lead.form_id})"


def build_router(app: DealsApp) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        subjects.LEADS_RECEIVED,
        stream=JStream(CRM, declare=False),
        durable=LEADS_CONSUMER,
        pull_sub=PullSub(batch_size=50, timeout=1.0),
        config=ConsumerConfig(ack_wait=30, max_deliver=20),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="deal_pipeline.open_deal_from_lead",
        description="Opens a deal in the first stage for each received lead (idempotent).",
    )
    async def open_deal(lead: LeadReceived) -> None:
        with consumed(LEADS_CONSUMER, lead):
            await asyncio.to_thread(app.open_deal_from_lead, lead.lead_id, lead_title(lead))

    return router
