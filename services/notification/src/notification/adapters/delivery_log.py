"""The delivery log (KV `notification_deliveries`): one record per event × rule × recipient.
Its final states double as the idempotency keys."""

from __future__ import annotations

from datetime import datetime

from faststream.nats import NatsBroker

from notification.adapters.buckets import JsonBucket
from notification.domain.deliveries import Delivery


class DeliveryLog:
    def __init__(self, broker: NatsBroker, ttl_days: int) -> None:
        self.bucket = JsonBucket(broker, "notification_deliveries", ttl_days)

    async def get(self, delivery_id: str) -> Delivery | None:
        value = await self.bucket.get(delivery_id)
        return Delivery.model_validate(value) if value else None

    async def put(self, delivery: Delivery) -> None:
        await self.bucket.put(delivery.id, delivery.model_dump(mode="json"))

    async def find(
        self,
        *,
        status: str | None = None,
        rule_id: str | None = None,
        channel: str | None = None,
        trigger_event_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        wanted = {
            "status": status,
            "rule_id": rule_id,
            "channel": channel,
            "trigger_event_id": trigger_event_id,
        }
        found = []
        for value in (await self.bucket.items()).values():
            delivery = Delivery.model_validate(value)
            if any(v is not None and getattr(delivery, k) != v for k, v in wanted.items()):
                continue
            if since is not None and delivery.updated_at < since:
                continue
            found.append(delivery)
        found.sort(key=lambda d: d.updated_at, reverse=True)
        return found[:limit]
