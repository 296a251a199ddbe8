"""A service's start on the bus is tried again until it succeeds; a start that failed part way
(some subscribers running) is undone first, so each subscriber runs once after the retry, not
twice (a message would then be handled twice)."""

from __future__ import annotations

import asyncio

from crm_contracts.runtime.bus import bus_connected, make_broker, start_when_reachable


async def test_a_start_that_failed_part_way_is_undone_and_tried_again(nats_server):
    broker = make_broker(nats_server.url, "start-retry")
    got: list[str] = []
    seen = asyncio.Event()

    @broker.subscriber("test.first")
    async def first(body: str) -> None:
        got.append(f"first:{body}")
        seen.set()

    @broker.subscriber("test.second")
    async def second(body: str) -> None:
        got.append(f"second:{body}")

    failing = broker.subscribers[1]  # started after the first one
    start, tries = failing.start, []

    async def fails_once() -> None:
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("consumer request timed out")  # as a cluster electing a leader
        await start()

    failing.start = fails_once  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(start_when_reachable(broker, retry_seconds=0.1), 10)
        assert len(tries) == 2 and bus_connected(broker)
        await broker.publish("hello", "test.first")
        await asyncio.wait_for(seen.wait(), 5)
        await asyncio.sleep(0.5)  # a second subscription would deliver it again by now
        assert got == ["first:hello"]
    finally:
        await broker.stop()
