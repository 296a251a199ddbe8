"""The message a reminder carries to `crmrem.due.<key>`: which rule, about which event. An
internal message (not a contract), shaped as an Event so the shared consumer code handles it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from crm_contracts.envelope import Event


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
