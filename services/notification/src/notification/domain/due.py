"""The message a reminder carries to `crmrem.due.<key>`: which rule, about which event. An
internal message (not a contract), shaped as an Event so the shared consumer code handles it.
Also the reminder keys: which subject a planned send lives on."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from crm_contracts.envelope import Event
from crm_contracts.events import TaskEvent
from notification.domain.deliveries import token


class Due(Event):
    event_type: Literal["notification.due"] = "notification.due"
    producer: str = "notification"
    rule_id: str
    key: str = ""  # the reminder's subject suffix (crmrem.schedule.<key>)
    trigger_subject: str | None = None  # None for a digest: the clock is the trigger
    trigger: dict[str, Any] | None = None
    planned_for: datetime | None = None
    only_recipient: str | None = None  # set when quiet hours deferred one recipient
    fired_at: datetime | None = None  # a deferred digest: when its schedule fired

    def body(self) -> bytes:
        return self.model_dump_json().encode()


def task_key(task_id: str) -> str:
    """The prefix of every reminder about one task (cancelled together)."""
    return f"task.{token(task_id)}"


def reminder_key(event: Event, rule_id: str) -> str:
    """One subject per reminder: per task (so a reschedule replaces it and completion
    removes it) or per event."""
    if isinstance(event, TaskEvent):
        return f"{task_key(event.task_id)}.{rule_id}"
    return f"event.{event.event_id}.{rule_id}"


def digest_key(rule_id: str) -> str:
    return f"digest.{rule_id}"
