"""A rule says who is told what, over which channel and when, after which event. Rules are data
(KV, operator API); this module is their shape, validation and matching — no I/O."""

from __future__ import annotations

from datetime import time as clock
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm_contracts.events import BY_TYPE

ChannelName = Literal["email", "telegram", "sms", "webhook"]
AudienceKind = Literal["manager", "client", "heads", "fixed"]
DIGEST = "digest"  # trigger of rules fired by the clock, not by an event
RULE_ID = r"^[A-Za-z0-9_-]{1,64}$"


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(description="e.g. deal.opened, task.scheduled, or `digest`")
    pipeline: str | None = None
    stage: str | None = None
    source: str | None = None
    amount_gte: Decimal | None = None
    task_kind: str | None = Field(default=None, description="call, meeting, email, other")

    @field_validator("event_type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != DIGEST and value not in BY_TYPE:
            raise ValueError(f"unknown event type; one of: {', '.join(sorted(BY_TYPE))}, digest")
        if value.startswith("notification."):
            raise ValueError("rules cannot trigger on notification outcomes (a loop)")
        return value


class Timing(BaseModel):
    """`immediately`; `after` the event by `offset`; `before` a task's due time by `offset`;
    `daily`/`weekly` at `at` o'clock in `timezone` (digests; `weekday` 1 = Monday)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["immediately", "after", "before", "daily", "weekly"] = "immediately"
    offset: timedelta | None = Field(default=None, description="ISO 8601 duration: P1D, PT1H")
    at: clock | None = None
    weekday: int | None = Field(default=None, ge=1, le=7)
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> Timing:
        if self.mode in ("after", "before") and (
            self.offset is None or self.offset.total_seconds() < 0
        ):
            raise ValueError(f"`{self.mode}` needs a non-negative `offset` (e.g. PT1H)")
        if self.mode in ("daily", "weekly") and self.at is None:
            raise ValueError(f"`{self.mode}` needs `at` (HH:MM)")
        if self.mode == "weekly" and self.weekday is None:
            raise ValueError("`weekly` needs `weekday` (1 = Monday … 7 = Sunday)")
        return self


class QuietHours(BaseModel):
    """No sends from `start` to `end` in the recipient's time zone (may span midnight)."""

    model_config = ConfigDict(extra="forbid")

    start: clock
    end: clock


class Template(BaseModel):
    """Jinja2 (sandboxed) per language: `{"en": "...", "ru": "..."}`. `subject` is for e-mail."""

    model_config = ConfigDict(extra="forbid")

    subject: dict[str, str] = Field(default_factory=dict)
    body: dict[str, str] = Field(min_length=1)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID)
    description: str = ""
    enabled: bool = True
    trigger: Trigger
    audience: list[AudienceKind] = Field(min_length=1)
    recipients: list[str] = Field(default_factory=list, description="addresses for `fixed`")
    channel: ChannelName
    template: Template
    timing: Timing = Field(default_factory=Timing)
    quiet_hours: QuietHours | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        digest = self.trigger.event_type == DIGEST
        if digest != (self.timing.mode in ("daily", "weekly")):
            raise ValueError("`digest` rules and only they use timing `daily`/`weekly`")
        if self.timing.mode == "before" and self.trigger.event_type != "task.scheduled":
            raise ValueError("`before` needs a due time: trigger on task.scheduled")
        if "fixed" in self.audience and not self.recipients:
            raise ValueError("audience `fixed` needs `recipients`")
        if digest and set(self.audience) - {"heads", "fixed"}:
            raise ValueError("a digest goes to `heads` or `fixed` recipients")
        return self

    @property
    def is_digest(self) -> bool:
        return self.trigger.event_type == DIGEST


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def matches(rule: Rule, event_type: str, facts: dict[str, Any]) -> bool:
    """`facts` are the event's fields merged over what is known of its deal (pipeline, stage,
    source, amount), so a filter works for events that do not carry the field themselves."""
    t = rule.trigger
    if not rule.enabled or t.event_type != event_type:
        return False
    for name, wanted in (
        ("pipeline_id", t.pipeline),
        ("stage", t.stage),
        ("source", t.source),
        ("kind", t.task_kind),
    ):
        if wanted is not None and facts.get(name) != wanted:
            return False
    if t.amount_gte is not None:
        amount = facts.get("amount")
        if amount is None or Decimal(str(amount)) < t.amount_gte:
            return False
    return True
