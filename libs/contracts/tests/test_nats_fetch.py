"""The batched fetch against a real nats-server: every message once, in order, leftovers of an
earlier request first, the same timeouts and errors as nats-py's own fetch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.client import JetStreamContext

import crm_contracts.runtime.bus  # noqa: F401 - installs the fetch
from crm_contracts.runtime import nats_fetch

STREAM = "FETCHTEST"


@asynccontextmanager
async def pull(url: str, max_ack_pending: int = 10_000) -> AsyncIterator[tuple[Any, Any]]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["ft.>"]))
    sub = await js.pull_subscribe(
        "ft.>",
        durable="reader",
        stream=STREAM,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=max_ack_pending),
    )
    try:
        yield js, sub
    finally:
        await nc.close()


async def put(js: Any, start: int, count: int) -> None:
    for n in range(start, start + count):
        await js.publish(f"ft.{n % 3}", str(n).encode())


def numbers(messages: list[Any]) -> list[int]:
    return [int(m.data) for m in messages]


def test_installed_over_the_timeout_shim():
    fetch = JetStreamContext.PullSubscription.fetch
    assert getattr(fetch, "crm_batched_fetch", False)
    nats_fetch.install()  # a second import changes nothing
    assert JetStreamContext.PullSubscription.fetch is fetch


async def test_a_backlog_comes_in_full_batches_in_order_each_once(nats_server):
    async with pull(nats_server.url) as (js, sub):
        await put(js, 0, 2500)
        got: list[int] = []
        sizes = []
        while len(got) < 2500:
            batch = await sub.fetch(1000, timeout=2)
            sizes.append(len(batch))
            got += numbers(batch)
            for m in batch:
                await m.ack()
        assert got == list(range(2500))
        assert sizes == [1000, 1000, 500]
        with pytest.raises(NatsTimeoutError):  # nothing left: nats' own timeout error
            await sub.fetch(1000, timeout=0.3)
        info = await js.consumer_info(STREAM, "reader")
        assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_short_batch_returns_by_its_timeout_with_what_there_was(nats_server):
    async with pull(nats_server.url) as (js, sub):
        await put(js, 0, 7)
        started = time.monotonic()
        batch = await sub.fetch(100, timeout=0.5)
        waited = time.monotonic() - started
        assert numbers(batch) == list(range(7))
        assert waited < 2.0  # the request's expiry ends it, not a hang


async def test_a_waiting_fetch_returns_once_messages_come_and_the_rest_follow(nats_server):
    """Like nats-py's: a fetch on an empty stream waits for the first message and returns
    what is there by then; the next fetches take the rest."""
    async with pull(nats_server.url) as (js, sub):
        fetching = asyncio.ensure_future(sub.fetch(50, timeout=3))
        await asyncio.sleep(0.2)
        await put(js, 0, 50)
        got = numbers(await fetching)
        assert got and got == list(range(len(got)))
        while len(got) < 50:
            got += numbers(await sub.fetch(50, timeout=1))
        assert got == list(range(50))


async def test_what_an_earlier_request_delivered_late_comes_first_next_time(nats_server):
    """A fetch that returns before its request ends (here: the batch is cut short by the
    caller's small timeout while the server still has the request) leaves messages on the
    inbox: the next fetch returns them before anything it asks for, none lost or repeated."""
    async with pull(nats_server.url) as (js, sub):
        # Ask for more than there is, with an expiry far beyond the fetch's own timeout.
        await sub._nc.publish(sub._nms, b'{"batch": 30, "expires": 5000000000}', sub._deliver)
        await put(js, 0, 20)
        await asyncio.sleep(0.3)  # all 20 sit on the inbox now
        first = await sub.fetch(8, timeout=1)
        assert numbers(first) == list(range(8))
        await put(js, 20, 20)  # the open request takes 10 of these, the next fetch the rest
        got = numbers(first)
        while len(got) < 40:
            got += numbers(await sub.fetch(8, timeout=1))
        assert got == list(range(40))


async def test_leftovers_in_hand_are_returned_without_waiting_out_the_timeout(nats_server):
    async with pull(nats_server.url) as (js, sub):
        await sub._nc.publish(sub._nms, b'{"batch": 5, "no_wait": true}', sub._deliver)
        await put(js, 0, 5)
        await asyncio.sleep(0.3)  # five messages and the request's end sit on the inbox
        started = time.monotonic()
        got = numbers(await sub.fetch(50, timeout=5))
        assert got == list(range(5))
        assert time.monotonic() - started < 2.5  # the server's at-once answer, not the 5 s


async def test_an_unknown_status_raises_like_nats_py(nats_server):
    async with pull(nats_server.url) as (js, sub):
        fetching = asyncio.ensure_future(sub.fetch(10, timeout=3))
        await asyncio.sleep(0.1)
        bad = {"Status": "400", "Description": "Bad Request"}
        await sub._nc.publish(sub._deliver, b"", headers=bad)
        with pytest.raises(nats.js.errors.APIError):
            await fetching


async def test_a_full_ack_window_ends_the_request_without_losing_anything(nats_server):
    """409 Exceeded MaxAckPending: the batch holds what fit; after acks the rest follows."""
    async with pull(nats_server.url, max_ack_pending=30) as (js, sub):
        await put(js, 0, 100)
        got: list[int] = []
        while len(got) < 100:
            batch = await sub.fetch(50, timeout=1)
            assert len(batch) <= 30
            got += numbers(batch)
            for m in batch:
                await m.ack()
        assert got == list(range(100))


async def test_one_message_and_heartbeats_keep_nats_py_s_own_path(nats_server):
    async with pull(nats_server.url) as (js, sub):
        await put(js, 0, 3)
        assert numbers(await sub.fetch(1, timeout=1)) == [0]
        assert numbers(await sub.fetch(5, timeout=1, heartbeat=0.2)) == [1, 2]
