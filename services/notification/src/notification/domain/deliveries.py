"""One send to one recipient and how it ended: its id (the idempotency key), the log record,
and the retry policy. No I/O."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

Status = Literal["scheduled", "sending", "sent", "failed", "skipped"]
FINAL: frozenset[str] = frozenset({"sent", "failed", "skipped"})
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Recipient:
    """Who (`identity`, e.g. `manager:m1`, stable across address changes) and where
    (`address` on the rule's channel, or None when unknown)."""

    identity: str
    address: str | None
    name: str | None = None
    timezone: str | None = None
    language: str | None = None
    problem: str | None = None  # why there is no address


class Delivery(BaseModel):
    """A line of the delivery log (KV, key = `id`)."""

    id: str
    rule_id: str
    channel: str
    recipient: str  # the identity, never the address
    recipient_hash: str
    trigger_event_id: str
    trigger_event_type: str
    status: Status
    attempts: int = 0
    reason: str | None = None
    scheduled_for: datetime | None = None
    sent_at: datetime | None = None
    latency_ms: int | None = None
    lease_until: datetime | None = None  # a try in flight: nobody else starts one until then
    updated_at: datetime


def token(value: str) -> str:
    """A NATS subject token / KV key part: the value if already safe, else its digest."""
    if _TOKEN.match(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def recipient_hash(value: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{value.strip().lower()}".encode()).hexdigest()[:32]


def delivery_id(event_id: str, rule_id: str, identity: str) -> str:
    """The idempotency key: event × rule × recipient."""
    digest = hashlib.sha256(identity.lower().encode()).hexdigest()[:32]
    return f"{token(event_id)}.{rule_id}.{digest}"


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before try `attempt + 1`: base, 2·base, 4·base … up to `cap`."""
    return min(cap, base * 2.0 ** max(attempt - 1, 0))


class SendError(Exception):
    """A channel could not send. `transient` ones (5xx, timeouts, refused connections) are
    retried; the rest (4xx, bad address) fail at once."""

    def __init__(self, reason: str, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
