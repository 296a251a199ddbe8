"""The directory of people fed from events, on a real nats-server (KV)."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from crm_contracts.envelope import Event
from crm_contracts.events import (
    DealOpened,
    DealWon,
    ManagerUpdated,
    TaskCompleted,
    TaskScheduled,
)
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


def test_an_older_event_landing_late_adds_only_what_nothing_newer_said(nats_server):
    """A deal won (v2) recorded before its opening (v1): two replicas, or one batch's updates
    running at once. The opening still brings the client and the title, not its stage."""
    opened = DealOpened(
        aggregate_id="d7",
        aggregate_version=1,
        producer="t",
        deal_id="d7",
        stage="new",
        title="Deal d7",
        manager_id="anna",
        client_id="c7",
        amount=Decimal("100"),
    )
    won = DealWon(
        aggregate_id="d7",
        aggregate_version=2,
        producer="t",
        deal_id="d7",
        from_stage="invoice",
        to_stage="won",
        from_stage_entered_at=T0,
        from_stage_entered_version=1,
        amount=Decimal("120"),
    )
    deal = run(nats_server.url, [won, opened], lambda d: d.get(d.deals, "d7"))
    assert (deal["client_id"], deal["title"]) == ("c7", "Deal d7")
    assert (deal["stage"], deal["status"], deal["amount"]) == ("won", "won", "120")


def test_an_older_full_card_landing_late_changes_nothing(nats_server):
    card = run(
        nats_server.url,
        [manager(2, None), manager(1, "12345")],
        lambda d: d.get(d.managers, "anna"),
    )
    assert card["telegram_chat_id"] is None
