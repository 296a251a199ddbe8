"""The envelope every domain event carries (docs/events.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from hashlib import sha1
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

# Namespace for ids derived from other ids (deal id from lead id, event id from stored position).
CRM_NAMESPACE = uuid.UUID("6f1c3c2e-8d9a-4a8e-9d7e-2f3c1b0a5e77")
_NAMESPACE_BYTES = CRM_NAMESPACE.bytes


def derived_id(*parts: object) -> uuid.UUID:
    """A stable UUID computed from its parts: the same input always gives the same id.
    `uuid.uuid5(CRM_NAMESPACE, "/".join(parts))`, done as `uuid5` does it but with the
    namespace's bytes kept (Python 3.11's `uuid5` rebuilds them, and imports `sha1`, at every
    call: half the time, on several ids a lead); a test holds the two equal."""
    name = "/".join(map(str, parts)).encode()
    return uuid.UUID(bytes=sha1(_NAMESPACE_BYTES + name).digest()[:16], version=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every wire model: unknown fields are ignored so producers may add optional ones."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Event(Contract):
    """Envelope fields; subclasses add the payload and pin `event_type` with a Literal."""

    SUBJECT: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Also the Nats-Msg-Id")
    event_type: str
    schema_version: int = Field(default=1, description="Version of this event type's schema.")
    occurred_at: AwareDatetime = Field(
        default_factory=utcnow, description="When the fact happened at the producer (UTC)."
    )
    aggregate_id: str = Field(
        description="What the event is about: a lead, deal, client, manager or delivery."
    )
    aggregate_version: int = Field(
        default=1,
        ge=1,
        description="Position in its aggregate's history; analytics keeps the highest.",
    )
    correlation_id: str | None = Field(default=None, description="The lead id that began the story")
    causation_id: str | None = Field(
        default=None, description="The id of what directly caused it (deal.opened names its lead)."
    )
    producer: str = Field(
        description="The service that published it: lead-intake, deal-pipeline or notification."
    )

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)
