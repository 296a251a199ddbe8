"""The events consumer's batch against in-memory ports: every directory update of the batch
before any plan, and a failed update plans nothing of its batch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from crm_contracts.envelope import Event
from crm_contracts.events import ClientRegistered
from notification.application.plan_notifications import Planner
from notification.handlers import REPLAN_DELAY, handle_events

from .fakes import FakeDirectory, FakeRules, FakeScheduler
from .test_planner_unit import SETTINGS, opened, rule


@dataclass
class FakeMsg:
    """What `handle_events` uses of a nats-py JetStream message."""

    subject: str
    data: bytes
    metadata: Any = field(default_factory=lambda: SimpleNamespace(num_delivered=1))
    _ackd: bool = False
    settled: list[tuple[str, float | None]] = field(default_factory=list)

    async def ack(self) -> None:
        self._ackd = True
        self.settled.append(("ack", None))

    async def nak(self, delay: float | None = None) -> None:
        self._ackd = True
        self.settled.append(("nak", delay))


def msg(event: Event) -> FakeMsg:
    return FakeMsg(event.SUBJECT, event.model_dump_json().encode())


@dataclass
class Timeline(FakeDirectory):
    """Says what happened in which order; a client card takes a while to write."""

    steps: list[str] = field(default_factory=list)
    failing: str | None = None  # the event type whose update fails

    async def apply(self, event: Event) -> bool:
        if isinstance(event, ClientRegistered):
            await asyncio.sleep(0.05)
        if event.event_type == self.failing:
            raise TimeoutError("nats: timeout")
        self.steps.append(f"card {event.aggregate_id}")
        return await super().apply(event)


class PlanSteps(FakeScheduler):
    def __init__(self, steps: list[str]) -> None:
        super().__init__()
        self.steps = steps

    async def due_now(self, key: str, body: bytes, msg_id: str) -> None:
        self.steps.append("plan")
        await super().due_now(key, body, msg_id)


def batch() -> list[Event]:
    client = ClientRegistered(aggregate_id="c1", producer="t", client_id="c1", name="Olga")
    return [opened("d1", client_id="c1"), client, opened("d2", client_id="c1")]


def run(directory: Timeline, events: list[Event]) -> tuple[list[FakeMsg], PlanSteps]:
    scheduler = PlanSteps(directory.steps)
    planner = Planner(FakeRules(rule("new-deal")), directory, scheduler, SETTINGS)
    messages = [msg(e) for e in events]
    asyncio.run(handle_events("test_events", messages, None, planner))  # type: ignore[arg-type]
    return messages, scheduler


def test_every_card_of_the_batch_is_on_file_before_anything_is_planned():
    directory = Timeline()
    messages, scheduler = run(directory, batch())
    assert directory.steps == ["card d1", "card d2", "card c1", "plan", "plan"]
    assert len(scheduler.now) == 2
    assert [m.settled for m in messages] == [[("ack", None)]] * 3


def test_a_failed_directory_update_plans_nothing_of_its_batch():
    directory = Timeline(failing="client.registered")
    messages, scheduler = run(directory, batch())
    assert scheduler.now == []
    deal, client, other_deal = (m.settled for m in messages)
    assert client == [("nak", 1.0)]  # the usual backoff of a first failure
    assert deal == other_deal == [("nak", REPLAN_DELAY)]  # planned when it comes back
