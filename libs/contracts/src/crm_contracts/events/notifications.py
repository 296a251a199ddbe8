"""Events of the notification context: how each send ended."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from crm_contracts.envelope import Event

Channel = Literal["email", "telegram", "sms", "webhook"]


class NotificationEvent(Event):
    notification_id: str = Field(description="Key of event × rule × recipient")
    rule_id: str = Field(description="The rule that asked for it.")
    channel: Channel = Field(description="How it went.")
    recipient_hash: str = Field(description="Salted hash of the address, never the address")
    trigger_event_id: str = Field(
        description="The event that triggered the rule (or a digest's id)."
    )
    trigger_event_type: str = Field(description="Its type.")
    attempts: int = Field(default=1, ge=1, description="Tries made.")


class NotificationSent(NotificationEvent):
    SUBJECT: ClassVar[str] = "crm.notifications.sent"

    event_type: Literal["notification.sent"] = "notification.sent"
    latency_ms: int = Field(ge=0, description="From the trigger event to the send")


class NotificationFailed(NotificationEvent):
    SUBJECT: ClassVar[str] = "crm.notifications.failed"

    event_type: Literal["notification.failed"] = "notification.failed"
    reason: str
