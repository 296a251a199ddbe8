"""The small ports the use cases depend on; the adapters implement them, the unit tests fake
them in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from crm_contracts.envelope import Event
from crm_contracts.events import TaskScheduled
from notification.domain.deliveries import Delivery
from notification.domain.due import Due
from notification.domain.rules import Rule

Card = dict[str, Any]
CardKind = Literal["managers", "clients", "leads", "deals", "tasks"]


class RuleSource(Protocol):
    async def all(self) -> list[Rule]: ...

    async def get(self, rule_id: str) -> Rule | None: ...


class RuleRepository(RuleSource, Protocol):
    async def put(self, rule: Rule) -> None: ...

    async def delete(self, rule_id: str) -> bool:
        """False when there was no such rule."""
        ...


class People(Protocol):
    """What the service knows of managers, clients, leads, deals and tasks."""

    async def card(self, kind: CardKind, key: str | None) -> Card:
        """The stored card, or {} when unknown (or `key` is empty)."""
        ...

    async def heads(self) -> list[Card]:
        """The active managers with the role `head`."""
        ...

    async def task_in_force(self, event: TaskScheduled) -> bool: ...


class DirectoryFeed(People, Protocol):
    async def apply(self, event: Event) -> bool:
        """Record what the event says; False for a stale task event."""
        ...


class Scheduler(Protocol):
    """Reminders: sends due now or at a moment, and repeating digest schedules."""

    async def due_now(self, key: str, body: bytes, msg_id: str) -> None: ...

    async def at(self, key: str, moment: datetime, body: bytes) -> None: ...

    async def cron(self, key: str, expression: str, timezone: str, body: bytes) -> None: ...

    async def cancel(self, key: str, including_children: bool = True) -> None: ...


class DeliveryRecords(Protocol):
    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def put(self, delivery: Delivery) -> None: ...

    async def claim(
        self, fresh: Delivery, lease: timedelta
    ) -> tuple[Delivery | None, Delivery | None]:
        """(the record, now ours, with this try counted, None), or (None, what is in the way:
        a final record, or a try someone else holds a lease on)."""
        ...

    async def end(self, final: Delivery) -> Delivery | None:
        """Writes `final` (a send ended untried) with the tries counted so far, unless the
        log holds a final record of the send already: that one is returned, left as it is."""
        ...


class DeliverySearch(Protocol):
    async def find(
        self,
        *,
        status: str | None = None,
        rule_id: str | None = None,
        channel: str | None = None,
        trigger_event_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Delivery]: ...


class OutcomeRecorder(Protocol):
    """How a send ends: the log record and, for sent and failed, the outcome event."""

    async def sent(self, d: Delivery, correlation_id: str | None) -> None: ...

    async def failed(self, d: Delivery, reason: str, due: Due) -> None: ...

    async def skipped(self, d: Delivery, reason: str) -> Delivery | None:
        """Ends the send skipped, or returns the final record already in the way."""
        ...

    async def announce(self, d: Delivery, correlation_id: str | None) -> None:
        """The outcome event of a final record again (in case it was lost)."""
        ...


class DigestReports(Protocol):
    async def digest(self, start: datetime, end: datetime, tz: str) -> dict[str, Any]:
        """The figures of a digest period; raises `SendError` when they cannot be read."""
        ...


@dataclass(frozen=True)
class Outgoing:
    to: str  # address on the channel: e-mail, chat id, E.164 phone, URL
    subject: str
    text: str
    delivery_id: str
    meta: dict[str, Any] = field(default_factory=dict)  # rule, event: for webhooks


class Channel(Protocol):
    name: str

    @property
    def configured(self) -> str | None:
        """None when usable, else why not (a rule on an unconfigured channel is skipped)."""
        ...

    async def send(self, message: Outgoing) -> None:
        """Raises `SendError` (transient or not) when the message was not accepted."""
        ...


class OffChannels(Protocol):
    """Sends that cannot go out because their rule's channel is off (settings only)."""

    def off(self, rule: Rule) -> bool: ...

    async def skip_now(self, rule: Rule, due: Due, event: Event, context: dict[str, Any]) -> None:
        """Ends each recipient's send of `due` as skipped, as its due message would have."""
        ...


class DigestSchedule(Protocol):
    async def sync(self, rule: Rule) -> None: ...

    async def drop(self, rule_id: str) -> None: ...
