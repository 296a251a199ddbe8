"""Bus consumers of the deal pipeline, and what it publishes (declared for the AsyncAPI
catalogue: the relay puts every stored event on the bus through `publish_event`)."""

from __future__ import annotations

import logging
import time
from asyncio import to_thread
from typing import Annotated

from faststream import Context
from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from pydantic import ValidationError

from crm_contracts import subjects
from crm_contracts.envelope import Event
from crm_contracts.events import (
    EVENT_TYPES,
    LeadReceived,
    NotificationFailed,
    NotificationSent,
)
from crm_contracts.runtime.consuming import declare_dead_letters, handle, work_queue
from crm_contracts.runtime.eager_batches import eager
from crm_contracts.runtime.metrics import EVENTS_CONSUMED, HANDLER_SECONDS
from deal_pipeline.application.open_deal import LeadToOpen, OpenDeal
from deal_pipeline.application.ports import StoreCall

log = logging.getLogger(__name__)
BatchMessage = Annotated[NatsBatchMessage, Context("message")]
SERVICE = "deal-pipeline"
LEAD_TYPE = LeadReceived.model_fields["event_type"].default
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


def to_open(lead: LeadReceived) -> LeadToOpen:
    return LeadToOpen(
        lead.lead_id,
        lead_title(lead),
        name=lead.contact.name,
        phone=lead.contact.phone,
        email=lead.contact.email,
        form_id=lead.form_id,
        source=lead.source,
        utm_source=lead.touch.utm_source,
    )


def build_router(
    opening: OpenDeal,
    broker: NatsBroker,
    batch_size: int = 50,
    run: StoreCall | None = None,
    linger: float = 0.05,
) -> NatsRouter:
    call = run or to_thread
    router = NatsRouter()

    @eager(  # each fetch handed over as it comes: a lone lead is not held for the batch
        router.subscriber(
            subjects.LEADS_RECEIVED,
            **work_queue(LEADS_CONSUMER, ack_wait=30, batch_size=batch_size, batch=True),
            title="deal_pipeline.open_deal_from_lead",
            description=(
                "Finds or registers the client and opens a deal in the first stage for each "
                "received lead, assigned by rule or round robin (idempotent; a fetched batch of "
                "leads is opened in one transaction)."
            ),
        ),
        linger,  # while leads keep coming, a batch gathers this long for more
    )
    async def on_leads(message: BatchMessage) -> None:
        raws: list[Msg] = message.raw_message
        started = time.perf_counter()
        batch: list[tuple[Msg, LeadReceived]] = []
        for raw in raws:
            try:
                batch.append((raw, LeadReceived.model_validate_json(raw.data)))
            except ValidationError:  # dead-lettered, with the reason, by `handle`
                await handle(LEADS_CONSUMER, raw, broker, LeadReceived, open_one)
        if not batch:
            return
        try:
            await call(opening.from_leads, [to_open(lead) for _, lead in batch])
        except Exception as exc:
            # One bad lead must not hold up the others: each on its own, retried or parked.
            log.warning("a batch of %d leads failed (%r): one by one", len(batch), exc)
            for raw, _ in batch:
                await handle(LEADS_CONSUMER, raw, broker, LeadReceived, open_one)
            return
        for raw, _ in batch:
            await raw.ack()
        EVENTS_CONSUMED.labels(LEADS_CONSUMER, LEAD_TYPE, "ok").inc(len(batch))
        each = (time.perf_counter() - started) / len(batch)
        timed = HANDLER_SECONDS.labels(LEADS_CONSUMER)
        for _ in batch:
            timed.observe(each)

    async def open_one(lead: LeadReceived) -> None:
        await call(opening.from_leads, [to_open(lead)])

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
