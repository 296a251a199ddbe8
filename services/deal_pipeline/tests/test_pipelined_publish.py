"""The relay's batch publisher against a real nats-server: every event of a batch stored once,
in the order sent, with the headers `publish_event` gives; a batch the stream refuses, or one
whose acks do not come in time, fails as a whole; acks of an earlier batch count for nothing."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from nats.aio.msg import Msg
from nats.js.errors import NoStreamResponseError
from prometheus_client import REGISTRY

from crm_contracts.events import ClientRegistered
from crm_contracts.runtime.bus import make_broker
from crm_contracts.streams import ensure_streams
from deal_pipeline.adapters.pipelined_publish import PipelinedPublisher
from tests.support.nats import stream_messages


def registered(i: int) -> ClientRegistered:
    client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"client-{i}"))
    return ClientRegistered(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"event-{i}"),
        occurred_at=datetime.now(UTC),
        aggregate_id=client_id,
        correlation_id=f"lead-{i}",
        producer="deal-pipeline",
        client_id=client_id,
        name=f"Client {i}",
        phone=f"+7913{i:07d}",
        lead_id=f"lead-{i}",
    )


async def publishing(url: str, steps) -> None:
    broker = make_broker(url, "test-pipelined")
    await broker.connect()
    try:
        await ensure_streams(broker.connection.jetstream())
        await steps(PipelinedPublisher(broker))
    finally:
        await broker.stop()


def counted(result: str) -> float:
    labels = {"subject": ClientRegistered.SUBJECT, "result": result}
    return REGISTRY.get_sample_value("crm_events_published_total", labels) or 0.0


def test_a_batch_is_stored_once_in_order_with_the_events_headers(nats_server):
    events = [registered(i) for i in range(120)]
    new, duplicate = counted("new"), counted("duplicate")

    async def steps(publisher: PipelinedPublisher) -> None:
        await publisher.publish(events, timeout=5)
        await publisher.publish(events[:30], timeout=5)  # as after a crash before tracking

    asyncio.run(publishing(nats_server.url, steps))
    messages = asyncio.run(stream_messages(nats_server.url))
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [str(e.event_id) for e in events]
    assert [json.loads(m.data) for m in messages] == [
        json.loads(e.model_dump_json()) for e in events
    ]
    headers = messages[0].headers
    assert headers["Crm-Event-Type"] == "client.registered"
    assert headers["Crm-Correlation-Id"] == "lead-0"
    assert headers["content-type"] == "application/json" and headers["correlation_id"]
    assert counted("new") - new == 120 and counted("duplicate") - duplicate == 30


def test_a_batch_no_stream_takes_fails_as_a_whole(nats_server):
    async def steps(publisher: PipelinedPublisher) -> None:
        with pytest.raises(NoStreamResponseError):
            await publisher.publish([registered(1)], timeout=5)

    async def without_streams(url: str) -> None:
        broker = make_broker(url, "test-pipelined")
        await broker.connect()
        try:
            await steps(PipelinedPublisher(broker))
        finally:
            await broker.stop()

    asyncio.run(without_streams(nats_server.url))


class Unstored(ClientRegistered):
    """On a subject outside every stream: a plain subscriber takes it and JetStream never
    answers, as when an ack is lost."""

    SUBJECT: ClassVar[str] = "dptest.unstored"


def test_a_batch_without_its_acks_times_out_and_late_acks_count_for_nothing(nats_server):
    ack = json.dumps({"stream": "CRM", "seq": 1}).encode()

    async def steps(publisher: PipelinedPublisher) -> None:
        connection = publisher.inbox.broker.connection
        taken: list[Msg] = []

        async def take(msg: Msg) -> None:
            taken.append(msg)

        await connection.subscribe(Unstored.SUBJECT, cb=take)
        unstored = [Unstored(**registered(i).model_dump()) for i in range(2)]
        with pytest.raises(TimeoutError):
            await publisher.publish(unstored[:1], timeout=0.3)
        second = asyncio.create_task(publisher.publish(unstored[1:], timeout=5))
        while len(taken) < 2:
            await asyncio.sleep(0.01)
        await connection.publish(taken[0].reply, ack)  # the first batch's ack, too late
        await asyncio.sleep(0.3)
        assert not second.done()
        await connection.publish(taken[1].reply, ack)
        await second

    asyncio.run(publishing(nats_server.url, steps))
