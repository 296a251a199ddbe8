"""The projection consumer: every event on `crm.>` into ClickHouse, in batches."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from crm_contracts import subjects
from crm_contracts.runtime.consuming import backoff_for, dead_letter
from crm_contracts.runtime.metrics import EVENTS_CONSUMED
from crm_contracts.streams import CRM
from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.js.api import ConsumerConfig
from prometheus_client import Histogram

from analytics.adapters.clickhouse import ClickHouse
from analytics.ingest import ingest, parse_batch

log = logging.getLogger(__name__)
PROJECTION_CONSUMER = "analytics_projection"
BATCH_SIZE = Histogram("crm_projection_batch_size", "Events per projection batch",
                       buckets=(1, 10, 100, 500, 1000, 5000))
BatchMessage = Annotated[NatsBatchMessage, Context("message")]


def build_router(
    ch: ClickHouse, broker: NatsBroker, batch_size: int, batch_timeout: float
) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        subjects.ALL,
        stream=JStream(CRM, declare=False),
        durable=PROJECTION_CONSUMER,
        pull_sub=PullSub(batch_size=batch_size, timeout=batch_timeout, batch=True),
        # Unlimited redelivery: a ClickHouse outage must never drop events (invalid messages
        # are dead-lettered below, so nothing loops forever on bad input).
        config=ConsumerConfig(ack_wait=20, max_deliver=-1,
                              max_ack_pending=max(20000, 4 * batch_size)),
        ack_policy=AckPolicy.MANUAL,
        title="analytics.project",
        description="Projects every CRM event into ClickHouse (batched, idempotent).",
    )
    async def project(message: BatchMessage) -> None:
        raws = message.raw_message
        parsed = parse_batch([m.data for m in raws])
        for index, reason in parsed.rejected:
            log.error("not an event, dead-lettered: %s", reason)
            await dead_letter(broker, raws[index], PROJECTION_CONSUMER, f"invalid: {reason}")
        try:
            if parsed.events:
                await asyncio.to_thread(ingest, ch, parsed.events, parsed.payloads)
        except Exception:  # noqa: BLE001 - store trouble: the whole batch comes again later
            attempt = max(m.metadata.num_delivered for m in raws)
            log.exception("projection batch failed (delivery %s); will retry", attempt)
            await message.nack(delay=backoff_for(attempt))
            return
        await message.ack()  # only after ClickHouse has the rows
        BATCH_SIZE.observe(len(raws))
        for event in parsed.events:
            EVENTS_CONSUMED.labels(PROJECTION_CONSUMER, event.event_type, "ok").inc()

    return router
