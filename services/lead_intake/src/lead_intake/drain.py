"""Publishes spooled leads, oldest first, once JetStream answers again."""

from __future__ import annotations

import asyncio
import logging

from faststream.nats import NatsBroker

from crm_contracts.events import LeadReceived
from crm_contracts.runtime.bus import bus_connected, publish_event
from lead_intake.adapters.idempotency import IdempotencyStore
from lead_intake.adapters.spool import Spool
from lead_intake.metrics import DRAINED

log = logging.getLogger(__name__)


async def drain_once(
    spool: Spool, broker: NatsBroker, idempotency: IdempotencyStore, timeout: float, batch: int
) -> int:
    """Publish up to `batch` rows in spool order; a failure stops the batch (order is kept).
    A row goes away only after its ack, so a crash here repeats at most one publish, which
    the stream drops by Nats-Msg-Id."""
    done = 0
    for row in await spool.oldest(batch):
        if row.idempotency_key and await idempotency.seen(row.idempotency_key):
            await spool.remove(row.seq)  # the same submission got through directly meanwhile
            continue
        await publish_event(broker, LeadReceived.model_validate_json(row.payload), timeout=timeout)
        if row.idempotency_key:
            await idempotency.remember(row.idempotency_key, row.lead_id)
        await spool.remove(row.seq)
        DRAINED.inc()
        done += 1
    return done


async def drain_forever(
    spool: Spool,
    broker: NatsBroker,
    idempotency: IdempotencyStore,
    timeout: float,
    batch: int,
    idle_seconds: float = 0.5,
) -> None:
    while True:
        if spool.depth and bus_connected(broker):
            try:
                drained = await drain_once(spool, broker, idempotency, timeout, batch)
                if drained:
                    log.info("drained %s spooled leads, %s left", drained, spool.depth)
                continue
            except Exception as exc:
                log.warning("draining the spool failed, will retry: %r", exc)
        await asyncio.sleep(idle_seconds)
