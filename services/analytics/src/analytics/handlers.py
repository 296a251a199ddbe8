"""The projection consumer: every event on `crm.>` into ClickHouse, in batches."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from crm_contracts import subjects
from crm_contracts.runtime.metrics import EVENTS_CONSUMED
from crm_contracts.streams import CRM
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsRouter, PullSub
from nats.js.api import ConsumerConfig
from prometheus_client import Counter, Histogram

from analytics.adapters.clickhouse import ClickHouse
from analytics.ingest import ingest, parse_batch

log = logging.getLogger(__name__)
PROJECTION_CONSUMER = "analytics_projection"
BATCH_SIZE = Histogram("crm_projection_batch_size", "Events per projection batch",
                       buckets=(1, 10, 100, 500, 1000, 5000))
REJECTED = Counter("crm_projection_rejected_total", "Messages that are not valid events")


def build_router(ch: ClickHouse, batch_size: int, batch_timeout: float) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        subjects.ALL,
        stream=JStream(CRM, declare=False),
        durable=PROJECTION_CONSUMER,
        pull_sub=PullSub(batch_size=batch_size, timeout=batch_timeout, batch=True),
        config=ConsumerConfig(ack_wait=60, max_deliver=50, max_ack_pending=20000),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="analytics.project",
        description="Projects every CRM event into ClickHouse (batched, idempotent).",
    )
    async def project(messages: list[dict[str, Any]]) -> None:
        parsed = parse_batch(messages)
        for message, reason in parsed.rejected:
            REJECTED.inc()
            log.error("dropping a message that is not an event: %s (%r)", reason, message)
        if parsed.events:
            await asyncio.to_thread(ingest, ch, parsed.events, parsed.payloads)
        BATCH_SIZE.observe(len(messages))
        for event in parsed.events:
            EVENTS_CONSUMED.labels(PROJECTION_CONSUMER, event.event_type, "ok").inc()

    return router
