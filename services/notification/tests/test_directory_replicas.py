"""The directory's shortcuts on a real nats-server (KV), with two replicas writing the same
cards: a write starts from what this process last knew (checked by the compare-and-set), a
card already on file is not written again, and a batch reads each card once."""

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from crm_contracts.events import DealOpened, DealWon, TaskScheduled
from notification.adapters.card_memo import batch_memo
from notification.adapters.directory import Directory

from .test_directory import T0, manager
from .two_replicas import two_replicas


def opened(deal: str = "d1", title: str = "Deal d1") -> DealOpened:
    return DealOpened(
        aggregate_id=deal,
        producer="t",
        deal_id=deal,
        stage="new",
        title=title,
        manager_id="anna",
        client_id="c1",
        amount=Decimal("100"),
    )


def won(deal: str = "d1") -> DealWon:
    return DealWon(
        aggregate_id=deal,
        aggregate_version=2,
        producer="t",
        deal_id=deal,
        from_stage="invoice",
        to_stage="won",
        from_stage_entered_at=T0,
        from_stage_entered_version=1,
        amount=Decimal("120"),
    )


def scheduled(version: int, hours: int) -> TaskScheduled:
    return TaskScheduled(
        aggregate_id="d1",
        aggregate_version=version,
        producer="t",
        occurred_at=T0,
        task_id="t1",
        deal_id="d1",
        title="Call",
        due_at=T0 + timedelta(hours=hours),
    )


def replicas(nats_url: str, scenario: Callable[[Directory, Directory], Awaitable[Any]]) -> Any:
    """Runs `scenario` with two directories on two connections, as two service replicas."""

    async def go() -> Any:
        async with two_replicas(nats_url) as (a, b):
            return await scenario(Directory(a), Directory(b))

    return asyncio.run(go())


def test_a_card_already_on_file_is_not_written_again_and_its_event_still_counts(nats_server):
    async def scenario(a: Directory, b: Directory) -> tuple[int, int, bool, bool]:
        event = scheduled(5, 1)
        assert await a.apply(event)
        first = (await a.tasks.read("t1"))[1]
        again = await a.apply(event)  # a redelivery
        elsewhere = await b.apply(event)  # the other replica's copy
        return first, (await a.tasks.read("t1"))[1], again, elsewhere

    first, last, again, elsewhere = replicas(nats_server.url, scenario)
    assert last == first  # no new revision
    assert again and elsewhere  # not stale: the task is still planned (it was not before)


def test_a_write_from_what_one_replica_knew_keeps_what_the_other_wrote_since(nats_server):
    async def scenario(a: Directory, b: Directory) -> dict[str, Any]:
        await a.apply(manager(1, "111"))
        await b.apply(manager(2, "222"))  # `a` still knows version 1
        await a.apply(manager(3, "333"))
        await b.apply(opened())
        await a.apply(won())  # `a` never saw the deal: its first guess is the stored card
        return {"manager": await b.get(b.managers, "anna"), "deal": await b.get(b.deals, "d1")}

    cards = replicas(nats_server.url, scenario)
    assert cards["manager"]["telegram_chat_id"] == "333"
    assert (cards["deal"]["title"], cards["deal"]["stage"]) == ("Deal d1", "won")


def test_a_first_version_landing_after_a_newer_one_from_the_other_replica(nats_server):
    """A deal's opening (v1) is written straight away, as if the card were new: the card the
    other replica wrote first (v2) makes that write fail, and the opening adds only what is
    missing."""

    async def scenario(a: Directory, b: Directory) -> dict[str, Any]:
        await b.apply(won())
        await a.apply(opened())
        return await a.get(a.deals, "d1")

    deal = replicas(nats_server.url, scenario)
    assert (deal["title"], deal["client_id"]) == ("Deal d1", "c1")
    assert (deal["stage"], deal["amount"]) == ("won", "120")


def test_a_stale_event_is_found_stale_though_this_replica_knew_an_older_card(nats_server):
    """`a` wrote the schedule v5 and knows nothing newer; `b` rescheduled (v6). A redelivery
    of v5 to `a` looks already on file from what `a` knew, but is stale: it must not count."""

    async def scenario(a: Directory, b: Directory) -> tuple[bool, str]:
        await a.apply(scheduled(5, 1))
        await b.apply(scheduled(6, 2))
        in_force = await a.apply(scheduled(5, 1))
        return in_force, (await a.get(a.tasks, "t1"))["due_at"]

    in_force, due_at = replicas(nats_server.url, scenario)
    assert not in_force
    assert due_at.startswith((T0 + timedelta(hours=2)).isoformat()[:13])


def test_a_batch_reads_each_card_once_and_the_next_batch_reads_again(nats_server):
    async def scenario(a: Directory, b: Directory) -> list[str | None]:
        await b.apply(manager(1, "111"))
        names = []
        with batch_memo():
            await a.apply(opened())  # the batch's own write: its plans need no read
            deal = await a.card("deals", "d1")
            cards = await asyncio.gather(*(a.card("managers", "anna") for _ in range(20)))
            # Lands during the batch, from the other replica (not this batch's context).
            await asyncio.create_task(b.apply(manager(2, "222")), context=contextvars.Context())
            names += [deal["title"], cards[0]["telegram_chat_id"]]
            names.append((await a.card("managers", "anna"))["telegram_chat_id"])
            assert all(card is cards[0] for card in cards)  # one read for all of them
        with batch_memo():
            names.append((await a.card("managers", "anna"))["telegram_chat_id"])
        names.append((await a.card("managers", "anna"))["telegram_chat_id"])  # no batch
        return names

    assert replicas(nats_server.url, scenario) == ["Deal d1", "111", "111", "222", "222"]


def test_a_deleted_key_reads_as_none(nats_server):
    async def scenario(a: Directory, b: Directory) -> tuple[Any, ...]:
        await a.deals.put("d9", {"title": "x"})
        before = await b.deals.read("d9")
        await b.deals.delete("d9")
        return before[0], await a.deals.read("d9"), await a.deals.read("never")

    before, deleted, never = replicas(nats_server.url, scenario)
    assert before == {"title": "x"}
    assert deleted == never == (None, 0)
