"""A batch acked in one write, against a real nats-server: every message acked once, those
acked already left alone, and nats-py's own errors where its own ack would raise them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
import pytest
from nats.errors import ConnectionClosedError, MsgAlreadyAckdError, NotJSMessageError
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

import crm_contracts.runtime.bus  # noqa: F401 - installs the batched fetch
from crm_contracts.runtime.nats_acks import ack_all

STREAM = "ACKTEST"


@asynccontextmanager
async def batch_of(url: str, count: int, ack_wait: float = 30) -> AsyncIterator[tuple[Any, list]]:
    """`count` messages fetched by a durable pull consumer, not acked."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["ack.>"]))
    for n in range(count):
        await js.publish(f"ack.{n % 3}", str(n).encode())
    sub = await js.pull_subscribe(
        "ack.>",
        durable="reader",
        stream=STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait, max_ack_pending=10_000
        ),
    )
    messages: list = []
    while len(messages) < count:
        messages += await sub.fetch(count - len(messages), timeout=2)
    try:
        yield js, messages
    finally:
        await nc.close()


async def settled(js: Any, pending: int = 0) -> Any:
    """The consumer's state once `pending` acks are outstanding (the server takes acks in
    on its own time, after the flush), or as it is after 5 s."""
    await js._nc.flush()
    for _ in range(50):
        info = await js.consumer_info(STREAM, "reader")
        if info.num_ack_pending == pending:
            break
        await asyncio.sleep(0.1)
    return info


async def test_every_message_of_the_batch_is_acked(nats_server):
    async with batch_of(nats_server.url, 2500) as (js, messages):
        info = await js.consumer_info(STREAM, "reader")
        assert info.num_ack_pending == 2500  # fetched, not acked: the test can fail
        await ack_all(messages)
        info = await settled(js)
        assert info.num_ack_pending == 0 and info.ack_floor.stream_seq == 2500
        assert all(m._ackd for m in messages)
        with pytest.raises(MsgAlreadyAckdError):  # as after nats-py's own ack
            await messages[0].ack()


async def test_only_the_messages_not_acked_yet_are_acked_again(nats_server):
    async with batch_of(nats_server.url, 10) as (js, messages):
        await messages[3].ack()
        await messages[7].nak()  # redelivered: a later ack of it would be its own business
        sent = js._nc.stats["out_msgs"]
        await ack_all(messages)
        assert js._nc.stats["out_msgs"] - sent == 8
        info = await settled(js, 1)
        assert info.num_ack_pending == 1  # the nak'd one, delivered again


async def test_nothing_to_ack_sends_nothing(nats_server):
    async with batch_of(nats_server.url, 3) as (js, messages):
        await ack_all(messages)
        sent = js._nc.stats["out_msgs"]
        await ack_all(messages)
        await ack_all([])
        assert js._nc.stats["out_msgs"] == sent


async def test_a_message_without_a_reply_subject_raises_as_nats_py_does(nats_server):
    async with batch_of(nats_server.url, 2) as (js, messages):
        messages[1].reply = ""
        with pytest.raises(NotJSMessageError):
            await ack_all(messages)
        assert not messages[0]._ackd  # nothing half-acked


async def test_a_closed_connection_raises_as_nats_py_does(nats_server):
    async with batch_of(nats_server.url, 2) as (js, messages):
        await js._nc.close()
        with pytest.raises(ConnectionClosedError):
            await ack_all(messages)
