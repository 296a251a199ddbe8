"""In-memory fakes of the application's ports (`notification.application.ports`), for fast
unit tests of the planner and the deliverer without a nats-server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crm_contracts.envelope import Event
from crm_contracts.events import TaskScheduled
from notification.application.ports import Card, CardKind, Outgoing
from notification.domain.deliveries import FINAL, Delivery, SendError
from notification.domain.due import Due
from notification.domain.rules import Rule


class FakeRules:
    def __init__(self, *rules: Rule) -> None:
        self.rules = {r.id: r for r in rules}

    async def all(self) -> list[Rule]:
        return [self.rules[k] for k in sorted(self.rules)]

    async def get(self, rule_id: str) -> Rule | None:
        return self.rules.get(rule_id)

    async def put(self, rule: Rule) -> None:
        self.rules[rule.id] = rule

    async def delete(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None


@dataclass
class FakeDirectory:
    cards: dict[str, dict[str, Card]] = field(default_factory=dict)
    head_cards: list[Card] = field(default_factory=list)
    in_force: bool = True  # what `apply` answers (False: a stale task event)
    task_current: bool = True
    applied: list[Event] = field(default_factory=list)

    def add(self, kind: CardKind, key: str, **card: Any) -> None:
        self.cards.setdefault(kind, {})[key] = card

    async def apply(self, event: Event) -> bool:
        self.applied.append(event)
        return self.in_force

    async def card(self, kind: CardKind, key: str | None) -> Card:
        return dict(self.cards.get(kind, {}).get(key or "", {}))

    async def heads(self) -> list[Card]:
        return list(self.head_cards)

    async def task_in_force(self, event: TaskScheduled) -> bool:
        return self.task_current


@dataclass
class FakeScheduler:
    now: list[tuple[str, Due, str]] = field(default_factory=list)  # key, message, msg id
    later: list[tuple[str, datetime, Due]] = field(default_factory=list)
    crons: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    cancelled: list[tuple[str, bool]] = field(default_factory=list)

    async def due_now(self, key: str, body: bytes, msg_id: str) -> None:
        self.now.append((key, Due.model_validate_json(body), msg_id))

    async def at(self, key: str, moment: datetime, body: bytes) -> None:
        self.later.append((key, moment, Due.model_validate_json(body)))

    async def cron(self, key: str, expression: str, timezone: str, body: bytes) -> None:
        self.crons.append((key, expression, timezone, body))

    async def cancel(self, key: str, including_children: bool = True) -> None:
        self.cancelled.append((key, including_children))


class FakeDeliveryLog:
    """Same claim rules as the KV log: a final record or a live lease is in the way."""

    def __init__(self) -> None:
        self.records: dict[str, Delivery] = {}
        self.failing_puts = 0  # the next puts that fail, as in a bus outage

    async def get(self, delivery_id: str) -> Delivery | None:
        return self.records.get(delivery_id)

    async def put(self, delivery: Delivery) -> None:
        if self.failing_puts:
            self.failing_puts -= 1
            raise TimeoutError("nats: timeout")
        self.records[delivery.id] = delivery

    async def end(self, final: Delivery) -> Delivery | None:
        known = self.records.get(final.id)
        if known is not None and known.status in FINAL:
            return known
        await self.put(final.model_copy(update={"attempts": known.attempts if known else 0}))
        return None

    async def claim(
        self, fresh: Delivery, lease: timedelta
    ) -> tuple[Delivery | None, Delivery | None]:
        known = self.records.get(fresh.id)
        now = fresh.updated_at
        if known is not None and (
            known.status in FINAL or (known.lease_until and known.lease_until > now)
        ):
            return None, known
        mine = fresh.model_copy(
            update={
                "status": "sending",
                "attempts": (known.attempts if known else fresh.attempts) + 1,
                "lease_until": now + lease,
            }
        )
        self.records[mine.id] = mine
        return mine, None


@dataclass
class FakeOutcomes:
    """Records how sends ended, and writes the final record to the log as the real one does."""

    log: FakeDeliveryLog
    ended: list[tuple[str, Delivery, str | None]] = field(default_factory=list)
    announced: list[Delivery] = field(default_factory=list)

    async def _end(self, d: Delivery, status: str, reason: str | None) -> None:
        final = d.model_copy(update={"status": status, "reason": reason})
        await self.log.put(final)
        self.ended.append((status, final, reason))

    async def sent(self, d: Delivery, correlation_id: str | None) -> None:
        await self._end(d, "sent", None)

    async def failed(self, d: Delivery, reason: str, due: Due) -> None:
        await self._end(d, "failed", reason)

    async def skipped(self, d: Delivery, reason: str) -> Delivery | None:
        final = d.model_copy(update={"status": "skipped", "reason": reason})
        done = await self.log.end(final)
        if done is None:
            self.ended.append(("skipped", final, reason))
        return done

    async def announce(self, d: Delivery, correlation_id: str | None) -> None:
        self.announced.append(d)

    def statuses(self) -> list[tuple[str, str | None]]:
        return [(status, reason) for status, _, reason in self.ended]


class FakeChannel:
    """Accepts every message, or raises the queued errors first (one per try)."""

    def __init__(self, name: str, off: str | None = None) -> None:
        self.name = name
        self.off = off  # why the channel is not configured
        self.sent: list[Outgoing] = []
        self.errors: list[SendError] = []
        self.seconds = 0.0  # how long a send takes

    @property
    def configured(self) -> str | None:
        return self.off

    async def send(self, message: Outgoing) -> None:
        if self.errors:
            raise self.errors.pop(0)
        await asyncio.sleep(self.seconds)
        self.sent.append(message)


@dataclass
class FakeReports:
    figures: dict[str, Any] = field(default_factory=dict)
    asked: list[tuple[datetime, datetime, str]] = field(default_factory=list)

    async def digest(self, start: datetime, end: datetime, tz: str) -> dict[str, Any]:
        self.asked.append((start, end, tz))
        return self.figures
