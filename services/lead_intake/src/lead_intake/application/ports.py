"""What the use cases need from the outside world; `adapters` implements these, tests fake them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crm_contracts.events import LeadReceived
from lead_intake.domain.forms import Form


@dataclass(frozen=True)
class Seen:
    lead_id: str


@dataclass(frozen=True)
class Spooled:
    seq: int
    lead_id: str
    idempotency_key: str | None
    payload: str  # the LeadReceived as JSON


class Publisher(Protocol):
    """JetStream: publishing waits for the stream's ack."""

    def connected(self) -> bool: ...

    async def publish(self, event: LeadReceived, timeout: float) -> bool:
        """Raises when the stream does not ack in time; True when it already had the event."""
        ...


class SubmissionKeys(Protocol):
    """Submission keys already turned into a lead."""

    async def seen(self, key: str) -> Seen | None: ...

    async def remember(self, key: str, lead_id: str) -> None: ...


class RateLimit(Protocol):
    """Token buckets by key (a client address, a form id)."""

    async def take(self, key: str) -> float | None:
        """Spend a token: None if allowed, else the seconds until one is back."""
        ...


class LeadSpool(Protocol):
    """Leads kept on disk, in order, until JetStream acks them."""

    @property
    def depth(self) -> int: ...

    async def add(self, lead_id: str, key: str | None, payload: str) -> None: ...

    async def oldest(self, limit: int) -> list[Spooled]: ...

    async def remove(self, seq: int) -> None: ...


class FormsStore(Protocol):
    """Form definitions; writes and listings raise `Unavailable` when the store is down."""

    def cached(self, form_id: str) -> Form | None: ...

    async def get(self, form_id: str) -> Form | None: ...

    async def put(self, form: Form) -> None: ...

    async def delete(self, form_id: str) -> bool: ...

    async def all(self) -> list[Form]: ...
