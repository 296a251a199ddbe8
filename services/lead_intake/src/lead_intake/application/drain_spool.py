"""Publishes spooled leads, oldest first, once JetStream answers again."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from crm_contracts.events import LeadReceived
from lead_intake.application.ports import LeadSpool, Publisher, SubmissionKeys
from lead_intake.metrics import DRAINED

log = logging.getLogger(__name__)


@dataclass
class DrainSpool:
    spool: LeadSpool
    publisher: Publisher
    keys: SubmissionKeys
    timeout: float
    batch: int
    idle_seconds: float = 0.5

    async def once(self) -> int:
        """Publish up to `batch` rows in spool order; a failure stops the batch (order is kept).
        A row goes away only after its ack, so a crash here repeats at most one publish, which
        the stream drops by Nats-Msg-Id."""
        done = 0
        for row in await self.spool.oldest(self.batch):
            if row.idempotency_key and await self.keys.seen(row.idempotency_key):
                await self.spool.remove(row.seq)  # the same submission got through meanwhile
                continue
            event = LeadReceived.model_validate_json(row.payload)
            await self.publisher.publish(event, self.timeout)
            if row.idempotency_key:
                await self.keys.remember(row.idempotency_key, row.lead_id)
            await self.spool.remove(row.seq)
            DRAINED.inc()
            done += 1
        return done

    async def forever(self) -> None:
        while True:
            if self.spool.depth and self.publisher.connected():
                try:
                    drained = await self.once()
                    if drained:
                        log.info("drained %s spooled leads, %s left", drained, self.spool.depth)
                    continue
                except Exception as exc:
                    log.warning("draining the spool failed, will retry: %r", exc)
            await asyncio.sleep(self.idle_seconds)
