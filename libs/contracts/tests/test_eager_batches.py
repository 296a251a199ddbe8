"""The eager batch subscriber against a real nats-server: a message that comes alone is handed
over at once, not held until its batch is full or its timeout passes; a backlog still comes
in full batches, each message once."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import nats
import pytest
from faststream import Context
from faststream.nats import NatsRouter
from faststream.nats.message import NatsBatchMessage

from crm_contracts.runtime.bus import make_broker, start_when_reachable
from crm_contracts.runtime.consuming import work_queue
from crm_contracts.runtime.eager_batches import EagerBatchSubscriber, eager
from crm_contracts.runtime.nats_acks import ack_all
from crm_contracts.streams import ensure_streams

SUBJECT = "crm.leads.received"  # any subject of the CRM stream
# Far beyond the test's own waits: a batch held until its timeout would fail the test.
BATCH_TIMEOUT = 60.0


async def publish(url: str, first: int, count: int) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        for n in range(first, first + count):
            await js.publish(SUBJECT, str(n).encode())
    finally:
        await nc.close()


async def consume(url: str, expected: int, *, before: int = 0, alone: int = 0) -> list[list[int]]:
    """The batches a subscriber of batch size 50 gets: `before` messages published before it
    starts, then `alone` published one at a time, each once the one before has come."""
    await publish(url, 0, before)
    batches: list[list[int]] = []
    arrived = asyncio.Event()
    router = NatsRouter()

    @eager(router.subscriber(SUBJECT, **work_queue("eager", 30, 50, BATCH_TIMEOUT, batch=True)))
    async def handler(message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        raws: Any = message.raw_message
        batches.append([int(m.data) for m in raws])
        await ack_all(raws)
        arrived.set()

    broker = make_broker(url, "eager-test")
    broker.include_router(router)
    await start_when_reachable(broker)
    try:
        for n in range(before, before + alone):
            arrived.clear()
            await publish(url, n, 1)
            await asyncio.wait_for(arrived.wait(), BATCH_TIMEOUT / 4)
        while sum(map(len, batches)) < expected:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), BATCH_TIMEOUT / 4)
    finally:
        await broker.stop()
    return batches


def test_a_message_alone_is_handed_over_without_waiting_for_its_batch(nats_server):
    batches = asyncio.run(consume(nats_server.url, 3, alone=3))
    assert batches == [[0], [1], [2]]


def test_a_backlog_comes_in_full_batches_each_message_once(nats_server):
    batches = asyncio.run(consume(nats_server.url, 120, before=120))
    assert [n for batch in batches for n in batch] == list(range(120))
    assert [len(b) for b in batches] == [50, 50, 20]


def test_only_a_batch_subscriber_is_made_eager():
    router = NatsRouter()
    single = router.subscriber(SUBJECT, **work_queue("single", 30))
    with pytest.raises(TypeError, match="not a batch pull subscriber"):
        eager(single)
    batch = router.subscriber(SUBJECT, **work_queue("batch", 30, 50, batch=True))
    assert isinstance(eager(batch), EagerBatchSubscriber)


async def linger_batches(url: str, linger: float) -> list[list[int]]:
    """The batches a subscriber with `linger` gets of: a first message whose handling lasts
    until a second is published (so the second waits: busy), a third 0.3 s later; then, on a
    quiet bus, a fourth and, 0.3 s later, a fifth."""
    batches: list[list[int]] = []
    first_handled = asyncio.Event()
    router = NatsRouter()
    subscriber = router.subscriber(
        SUBJECT, **work_queue("linger", 30, 50, BATCH_TIMEOUT, batch=True)
    )

    @eager(subscriber, linger)
    async def handler(message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        raws: Any = message.raw_message
        batches.append([int(m.data) for m in raws])
        if len(batches) == 1:
            await first_handled.wait()
        await ack_all(raws)

    broker = make_broker(url, "eager-linger-test")
    broker.include_router(router)
    await start_when_reachable(broker)
    try:
        await publish(url, 0, 1)
        await received(batches, 1)
        await publish(url, 1, 1)  # comes while the first batch is handled
        first_handled.set()
        await asyncio.sleep(0.3)
        await publish(url, 2, 1)
        await received(batches, 3)
        await asyncio.sleep(2 * linger + 0.3)  # quiet now
        await publish(url, 3, 1)
        await asyncio.sleep(0.3)
        await publish(url, 4, 1)
        await received(batches, 5)
    finally:
        await broker.stop()
    return batches


async def received(batches: list[list[int]], messages: int) -> None:
    """Until the batches hold `messages` messages (or the test's deadline)."""
    deadline = asyncio.get_running_loop().time() + BATCH_TIMEOUT / 4
    while sum(map(len, batches)) < messages:
        assert asyncio.get_running_loop().time() < deadline, batches
        await asyncio.sleep(0.01)


def test_while_busy_a_batch_gathers_for_its_linger_and_a_quiet_bus_never_waits(nats_server):
    """The second message was waiting when it was fetched (busy): its batch gathers for the
    linger and takes the third. The fourth comes to a quiet bus: its batch is handed over at
    once, without the fifth."""
    batches = asyncio.run(linger_batches(nats_server.url, linger=1.0))
    assert batches == [[0], [1, 2], [3], [4]]


def test_without_a_linger_each_fetch_is_a_batch(nats_server):
    batches = asyncio.run(linger_batches(nats_server.url, linger=0.0))
    assert batches == [[0], [1], [2], [3], [4]]
