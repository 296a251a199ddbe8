"""Messages handled where nats-py reads them (`nats_direct.handle_directly`), on a real
nats-server: every message once and in order, those read before the switch first; nothing
left counted as pending (many times the subscription's byte limit pass without a slow
consumer); a handler's error is logged and the next message handled; and a JetStream ordered
consumer (a KV watch's) keeps its order through the switch."""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from crm_contracts.runtime.nats_direct import handle_directly


async def connect(url: str) -> nats.NATS:
    errors: list[Exception] = []

    async def error_cb(exc: Exception) -> None:
        errors.append(exc)

    client = await nats.connect(url, error_cb=error_cb)
    client.errors = errors  # type: ignore[attr-defined]
    return client


async def settle(client: nats.NATS, until, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    await client.flush()
    async with asyncio.timeout(timeout):
        while not until():
            await asyncio.sleep(0.01)


def test_each_message_is_handled_once_in_order_none_left_pending(nats_server):
    async def scenario() -> tuple[list[bytes], int, int, list[Exception]]:
        client = await connect(nats_server.url)
        try:
            # Small limits: had the bytes stayed counted in, the 200 messages of 1 KB would
            # have been dropped as a slow consumer's after the fourth.
            sub = await client.subscribe("direct.>", pending_bytes_limit=4096)
            for n in range(3):  # read before the switch: wait in the queue
                await client.publish("direct.x", f"early-{n}".encode())
            await settle(client, lambda: sub.pending_msgs == 3)
            got: list[bytes] = []
            handle_directly(sub, lambda msg: got.append(msg.data))
            assert got == [b"early-0", b"early-1", b"early-2"]
            for n in range(200):
                await client.publish("direct.x", f"{n:04d}".encode().ljust(1024))
            await settle(client, lambda: len(got) == 203)
            return got, sub.pending_msgs, sub.pending_bytes, client.errors  # type: ignore[attr-defined]
        finally:
            await client.close()

    got, pending, pending_bytes, errors = asyncio.run(scenario())
    assert [m.strip() for m in got[3:]] == [f"{n:04d}".encode() for n in range(200)]
    assert (pending, pending_bytes) == (0, 0)
    assert errors == []


def test_a_handlers_error_is_logged_and_the_next_message_handled(nats_server, caplog):
    def handle(msg: Msg) -> None:
        if msg.data == b"bad":
            raise ValueError("cannot file this one")
        got.append(msg.data)

    got: list[bytes] = []

    async def scenario() -> None:
        client = await connect(nats_server.url)
        try:
            sub = await client.subscribe("direct.y")
            handle_directly(sub, handle)
            for data in (b"one", b"bad", b"two"):
                await client.publish("direct.y", data)
            await settle(client, lambda: len(got) == 2)
            assert client.is_connected
        finally:
            await client.close()

    with caplog.at_level(logging.ERROR, logger="crm_contracts.runtime.nats_direct"):
        asyncio.run(scenario())
    assert got == [b"one", b"two"]
    assert "handling a message on direct.y failed" in caplog.text


def test_an_ordered_consumer_keeps_its_order_through_the_switch(nats_server):
    async def scenario() -> list[tuple[str, bytes]]:
        client = await connect(nats_server.url)
        try:
            js = client.jetstream()
            kv = await js.create_key_value(bucket="direct")
            for n in range(50):
                await kv.put(f"k{n % 7}", str(n).encode())
            sub = await js.subscribe(
                "$KV.direct.>",
                stream="KV_direct",
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            )
            got: list[tuple[str, bytes]] = []
            handle_directly(sub._sub, lambda msg: got.append((msg.subject, msg.data)))
            # The server picks each key's last write as it delivers: no write meanwhile.
            await settle(client, lambda: len(got) == 7)
            for n in range(50, 80):
                await kv.put(f"k{n % 7}", str(n).encode())
            await settle(client, lambda: len(got) == 7 + 30)
            return got
        finally:
            await client.close()

    got = asyncio.run(scenario())
    last_of_each = range(43, 50)  # the last put of each of the 7 keys, in stream order
    assert got[:7] == [(f"$KV.direct.k{n % 7}", str(n).encode()) for n in last_of_each]
    assert got[7:] == [(f"$KV.direct.k{n % 7}", str(n).encode()) for n in range(50, 80)]
