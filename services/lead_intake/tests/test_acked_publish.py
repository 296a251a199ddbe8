"""Intake's own JetStream publish (`adapters/acked_publish.py`): what lands on the stream is
what `publish_event` puts there, byte for byte; each publish learns its own ack (a repeat is
the stream's duplicate), a refusal or a missing ack raises, and acks keep coming after the
server restarts (the reply subscription is renewed)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NoStreamResponseError

from crm_contracts.events import LeadReceived
from crm_contracts.runtime.bus import make_broker, publish_event, start_when_reachable
from crm_contracts.streams import CRM
from lead_intake.adapters.acked_publish import AckedPublisher
from lead_intake.domain import LeadIn, build_lead_received
from tests.support.nats import stream_messages
from tests.support.net import port_open

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def lead(name: str = "Анна «Рассвет»") -> LeadReceived:
    body = LeadIn(
        name=name,
        email="a@b.ru",
        phone="+79123456789",
        message='line one\nline "two"',
        landing_url="https://x.ru/?utm_source=g",
    )
    return build_lead_received(body, uuid.uuid4(), AT, "RU")


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[NatsBroker]:
    broker = make_broker(url, "acked-publish-test")
    await start_when_reachable(broker)
    try:
        yield broker
    finally:
        await broker.stop()


def raw_headers(message) -> bytes:  # type: ignore[no-untyped-def]
    return base64.b64decode(message.hdrs)


def test_a_lead_lands_as_publish_event_puts_it_there_and_its_repeat_is_a_duplicate(nats_server):
    reference = lead()
    direct = reference.model_copy(update={"event_id": uuid.uuid4()})
    uncorrelated = lead("Bob").model_copy(update={"correlation_id": None})

    async def publish_all() -> list[bool]:
        async with connected(nats_server.url) as broker:
            publisher = AckedPublisher(broker)
            await publish_event(broker, reference)
            return [
                await publisher.publish(direct, timeout=2.0),
                await publisher.publish(direct, timeout=2.0),
                await publisher.publish(uncorrelated, timeout=2.0),
            ]

    assert asyncio.run(publish_all()) == [False, True, False]
    via_library, straight, without = asyncio.run(stream_messages(nats_server.url))
    assert straight.subject == via_library.subject == LeadReceived.SUBJECT
    old, new = str(reference.event_id), str(direct.event_id)
    assert straight.data == via_library.data.replace(old.encode(), new.encode(), 1)
    # The same header block but for the message id and the random correlation_id header.
    expected = raw_headers(via_library).replace(
        via_library.headers["correlation_id"].encode(), straight.headers["correlation_id"].encode()
    )
    assert raw_headers(straight) == expected.replace(
        f"Nats-Msg-Id: {old}".encode(), f"Nats-Msg-Id: {new}".encode()
    )
    assert uuid.UUID(straight.headers["correlation_id"]).version == 4
    assert "Crm-Correlation-Id" not in without.headers
    assert list(without.headers) == [h for h in straight.headers if h != "Crm-Correlation-Id"]


async def publish_with(url: str, before: Callable[[], Awaitable[None]], timeout: float) -> None:
    async with connected(url) as broker:
        await before()
        await AckedPublisher(broker).publish(lead(), timeout=timeout)


def test_a_publish_no_stream_takes_raises(nats_server):
    async def delete_stream() -> None:
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().delete_stream(CRM)
        await nc.close()

    with pytest.raises(NoStreamResponseError):
        asyncio.run(publish_with(nats_server.url, delete_stream, timeout=2.0))


async def ignore(msg: Msg) -> None:
    pass


def test_a_publish_without_an_ack_times_out(nats_server):
    """A subscriber that never answers stands where the stream was: no ack, no refusal."""

    async def scenario() -> float:
        async with connected(nats_server.url) as broker:
            silent = await nats.connect(nats_server.url)
            # Subscribed before the stream goes: subscribed just after its deletion, the
            # publish now and then met a "no responders" status though the subscriber was
            # there (4 runs in 60; none in 210 this way round).
            await silent.subscribe(LeadReceived.SUBJECT, cb=ignore)
            await silent.flush()
            await silent.jetstream().delete_stream(CRM)
            await silent.flush()
            started = asyncio.get_running_loop().time()
            try:
                with pytest.raises(NatsTimeoutError):
                    await AckedPublisher(broker).publish(lead(), timeout=0.3)
                return asyncio.get_running_loop().time() - started
            finally:
                await silent.close()

    assert 0.3 <= asyncio.run(scenario()) < 2.0


def test_acks_arrive_after_the_server_restarts(nats_server):
    async def scenario() -> list[bool]:
        async with connected(nats_server.url) as broker:
            publisher = AckedPublisher(broker)
            first = await publisher.publish(lead(), timeout=2.0)
            await asyncio.to_thread(nats_server.restart)
            for _ in range(100):  # reconnected, the reply subscription renewed
                if port_open(nats_server.port) and broker.connection.is_connected:
                    break
                await asyncio.sleep(0.05)
            second = await publisher.publish(lead(), timeout=5.0)
            return [first, second]

    assert asyncio.run(scenario()) == [False, False]
    assert len(asyncio.run(stream_messages(nats_server.url))) == 2
