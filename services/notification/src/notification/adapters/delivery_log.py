"""The delivery log (KV `notification_deliveries`): one record per event × rule × recipient.
Its final states double as the idempotency keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from faststream.nats import NatsBroker

from notification.adapters.buckets import JsonBucket
from notification.domain.deliveries import FINAL, Delivery


class DeliveryLog:
    def __init__(self, broker: NatsBroker, ttl_days: int, replicas: int = 1) -> None:
        self.bucket = JsonBucket(broker, "notification_deliveries", ttl_days, replicas)

    async def get(self, delivery_id: str) -> Delivery | None:
        value = await self.bucket.get(delivery_id)
        return Delivery.model_validate(value) if value else None

    async def put(self, delivery: Delivery) -> None:
        await self.bucket.put(delivery.id, delivery.model_dump(mode="json"))

    async def claim(
        self, fresh: Delivery, lease: timedelta
    ) -> tuple[Delivery | None, Delivery | None]:
        """Take the send for one try, atomically (two copies of a reminder may be handled at
        once): (the record, now ours, with this try counted, None), or (None, what is in the
        way: a final record, or a try someone holds a lease on)."""
        now = fresh.updated_at
        found: dict[str, Delivery] = {}

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            found.clear()  # a lost race runs this again
            known = Delivery.model_validate(current) if current else None
            if known is not None and (
                known.status in FINAL or (known.lease_until and known.lease_until > now)
            ):
                found["other"] = known
                return None
            found["mine"] = fresh.model_copy(
                update={
                    "status": "sending",
                    "attempts": (known.attempts if known else fresh.attempts) + 1,
                    "lease_until": now + lease,
                }
            )
            return found["mine"].model_dump(mode="json")

        # No read first: from what this process knows of the send, else from no record (most
        # sends are new); the write is a compare-and-set either way (a miss reads and retries).
        await self.bucket.modify(fresh.id, change, absent=True)
        return found.get("mine"), found.get("other")

    async def end(self, final: Delivery) -> Delivery | None:
        """`final` (a send ended untried: skipped) unless a final record is there (returned
        instead); a record still open keeps its count of tries. No read first, as `claim`."""
        found: list[Delivery] = []

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            found.clear()  # a lost race runs this again
            known = Delivery.model_validate(current) if current else None
            if known is not None and known.status in FINAL:
                found.append(known)
                return None
            tries = {"attempts": known.attempts} if known else {}
            return final.model_copy(update=tries).model_dump(mode="json")

        await self.bucket.modify(final.id, change, absent=True)
        return found[0] if found else None

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
