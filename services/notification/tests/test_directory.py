"""The directory of people fed from events, on a real nats-server (KV)."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_contracts.envelope import Event
from crm_contracts.events import ManagerUpdated, TaskCompleted, TaskScheduled
from crm_contracts.runtime.bus import make_broker
from notification.adapters.directory import Directory

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def manager(version: int, chat: str | None) -> ManagerUpdated:
    return ManagerUpdated(
        aggregate_id="anna",
        aggregate_version=version,
        producer="t",
        occurred_at=T0 + timedelta(minutes=version),
        manager_id="anna",
        name="Anna",
        email="anna@shop.test",
        telegram_chat_id=chat,
    )


def run(
    nats_url: str, events: Sequence[Event], read: Callable[[Directory], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        broker = make_broker(nats_url, "test")
        await broker.connect()
        try:
            directory = Directory(broker)
            for event in events:
                await directory.apply(event)
            return await read(directory)
        finally:
            await broker.stop()

    return asyncio.run(go())


def test_a_cleared_contact_is_cleared(nats_server):
    card = run(
        nats_server.url,
        [manager(1, "12345"), manager(2, None)],
        lambda d: d.get(d.managers, "anna"),
    )
    assert card["telegram_chat_id"] is None and card["email"] == "anna@shop.test"


def test_task_events_are_ordered_by_version_not_by_clock(nats_server):
    # The completion (v6) was written by a replica whose clock runs 2 s behind.
    scheduled = TaskScheduled(
        aggregate_id="d1",
        aggregate_version=5,
        producer="t",
        occurred_at=T0 + timedelta(seconds=2),
        task_id="t1",
        deal_id="d1",
        title="Call",
        due_at=T0 + timedelta(hours=1),
    )
    completed = TaskCompleted(
        aggregate_id="d1",
        aggregate_version=6,
        producer="t",
        occurred_at=T0,
        task_id="t1",
        deal_id="d1",
    )
    task = run(nats_server.url, [scheduled, completed], lambda d: d.get(d.tasks, "t1"))
    assert task["status"] != "scheduled", task
