"""Submission keys already turned into a lead (NATS KV with a TTL of 24 h by default)."""

from __future__ import annotations

import asyncio
import hashlib
import logging

from faststream.nats import NatsBroker

from lead_intake.adapters.kv import KV_TIMEOUT, bucket
from lead_intake.application.ports import Seen

log = logging.getLogger(__name__)
IDEMPOTENCY_BUCKET = "intake_idempotency"


class IdempotencyStore:
    """Submission keys already turned into a lead, kept for `ttl` seconds."""

    def __init__(self, broker: NatsBroker, ttl: float, replicas: int) -> None:
        self.broker = broker
        self.ttl = ttl
        self.replicas = replicas

    @staticmethod
    def _key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()  # any text → a valid KV key

    async def seen(self, key: str) -> Seen | None:
        """None also when NATS is down: then the stream's dedup window is the guard."""
        try:
            kv = await bucket(self.broker, IDEMPOTENCY_BUCKET, self.ttl, self.replicas)
            entry = await asyncio.wait_for(kv.get(self._key(key)), KV_TIMEOUT)
        except Exception:
            return None
        return Seen(lead_id=(entry.value or b"").decode())

    async def remember(self, key: str, lead_id: str) -> None:
        try:
            kv = await bucket(self.broker, IDEMPOTENCY_BUCKET, self.ttl, self.replicas)
            await asyncio.wait_for(kv.put(self._key(key), lead_id.encode()), KV_TIMEOUT)
        except Exception as exc:
            log.warning("could not record idempotency key: %s", exc)
