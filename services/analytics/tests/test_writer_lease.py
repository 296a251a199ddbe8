"""The projection writer's lease and its election, on a real nats-server's KV bucket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from nats.js.errors import KeyNotFoundError

from analytics.adapters.writer_lease import NatsWriterLease
from analytics.application.writer_election import LeaseLost, WriterElection
from crm_contracts.runtime.bus import make_broker

TTL = 3.0  # short, so that expiry happens within the test; long enough for a busy machine


@asynccontextmanager
async def leases(url: str, *holders: str) -> AsyncIterator[list[NatsWriterLease]]:
    """One broker (one NATS connection) per holder, as separate replicas have."""
    brokers = [make_broker(url, holder) for holder in holders]
    for broker in brokers:
        await broker.connect()
    try:
        yield [NatsWriterLease(b, h, TTL) for b, h in zip(brokers, holders, strict=True)]
    finally:
        for broker in brokers:
            await broker.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0):
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_one_holder_at_a_time_renewing_keeps_it(nats_server):
    async with leases(nats_server.url, "a", "b") as (a, b):
        assert await a.acquire()
        assert not await b.acquire()
        first = a.revision
        await a.renew()
        assert a.revision > first
        assert not await b.acquire()
        assert await b.holder_now() == "a"


async def test_an_unrenewed_lease_expires_and_its_old_holder_cannot_renew_it(nats_server):
    async with leases(nats_server.url, "a", "b") as (a, b):
        assert await a.acquire()
        await eventually(b.acquire, "b takes the expired lease")
        with pytest.raises(LeaseLost):
            await a.renew()  # fenced: its revision is not the key's any more
        assert a.revision is None
        await b.renew()
        await a.release()  # not its own: changes nothing
        assert await b.holder_now() == "b"


async def test_release_frees_it_at_once(nats_server):
    async with leases(nats_server.url, "a", "b") as (a, b):
        assert await a.acquire()
        await a.release()
        assert await b.acquire()  # no TTL to wait for (the delete marker is taken over)
        assert not await a.acquire()


class Recorder:
    """The order in which replicas start and stop writing."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def hooks(self, name: str) -> tuple[Callable[[], Awaitable[None]], ...]:
        async def elected() -> None:
            self.log.append(f"{name} writes")

        async def deposed() -> None:
            self.log.append(f"{name} stops")

        return elected, deposed


class Stalled:
    """A lease whose calls hang while `stalled` (a replica cut off from NATS)."""

    def __init__(self, lease: NatsWriterLease) -> None:
        self.lease, self.holder, self.stalled = lease, lease.holder, False

    async def _reachable(self) -> None:
        while self.stalled:
            await asyncio.sleep(0.05)

    async def acquire(self) -> bool:
        await self._reachable()
        return await self.lease.acquire()

    async def renew(self) -> None:
        await self._reachable()
        await self.lease.renew()

    async def release(self) -> None:
        await self.lease.release()


async def test_exactly_one_writer_and_a_cut_off_writer_stops_before_another_starts(nats_server):
    recorder = Recorder()
    async with leases(nats_server.url, "a", "b") as (lease_a, lease_b):
        a = WriterElection(Stalled(lease_a), TTL, *recorder.hooks("a"), acquire_every=0.1)
        b = WriterElection(lease_b, TTL, *recorder.hooks("b"), acquire_every=0.1)
        await a.start()
        await eventually(lambda: _true(a.writer), "a elected")
        await b.start()
        await asyncio.sleep(TTL * 1.5)  # several renewals: a keeps it, b keeps waiting
        assert (a.writer, b.writer) == (True, False)
        assert recorder.log == ["a writes"]
        a.lease.stalled = True
        await eventually(lambda: _true(b.writer), "b elected")
        # a stopped on its own (no renewal for half the TTL) before the lease could expire
        assert recorder.log == ["a writes", "a stops", "b writes"]
        assert not a.writer
        a.lease.stalled = False  # back: b keeps the lease
        await asyncio.sleep(TTL)
        assert (a.writer, b.writer) == (False, True)
        await b.stop()  # frees the lease: a takes it
        await eventually(lambda: _true(a.writer), "a elected again")
        assert recorder.log[-2:] == ["b stops", "a writes"]
        await a.stop()


async def test_a_killed_writer_is_replaced_after_the_ttl(nats_server):
    recorder = Recorder()
    async with leases(nats_server.url, "a", "b") as (lease_a, lease_b):
        a = WriterElection(lease_a, TTL, *recorder.hooks("a"), acquire_every=0.1)
        b = WriterElection(lease_b, TTL, *recorder.hooks("b"), acquire_every=0.1)
        await a.start()
        await eventually(lambda: _true(a.writer), "a elected")
        await b.start()
        assert a._task is not None
        a._task.cancel()  # dies as with kill -9: no step-down, no release
        await eventually(lambda: _true(b.writer), "b elected")
        assert recorder.log == ["a writes", "b writes"]
        await b.stop()


async def _true(value: bool) -> bool:
    return value


class ExpiringMeanwhile:
    """A bucket whose key expires between nats-py's create finding it taken and looking it up
    (seen under load: the lookup raised instead of the take being refused)."""

    async def create(self, key: str, value: bytes) -> int:
        raise KeyNotFoundError


async def test_a_lease_that_expires_while_being_taken_is_simply_not_taken_this_time():
    lease = NatsWriterLease(broker=None, holder="a", ttl=TTL)  # type: ignore[arg-type]

    async def bucket() -> ExpiringMeanwhile:
        return ExpiringMeanwhile()

    lease._bucket = bucket  # type: ignore[method-assign]
    assert await lease.acquire() is False
    assert lease.revision is None


class LostOnRenewal:
    """A lease taken at once and lost at its first renewal, released on demand."""

    holder = "a"

    def __init__(self) -> None:
        self.released = asyncio.Event()

    async def acquire(self) -> bool:
        return True

    async def renew(self) -> None:
        raise LeaseLost("taken by b")

    async def release(self) -> None:
        self.released.set()


async def test_a_shutdown_during_a_step_down_steps_down_whole_before_freeing_the_lease():
    lease, off_started, off_done = LostOnRenewal(), asyncio.Event(), asyncio.Event()
    calls = []

    async def on_deposed() -> None:  # the projection's switch-off: slow to stop consuming
        calls.append("off")
        off_started.set()
        await asyncio.sleep(0.2)
        off_done.set()

    election = WriterElection(lease, 0.3, lambda: asyncio.sleep(0), on_deposed)
    await election.start()
    await asyncio.wait_for(off_started.wait(), 5)  # lost: switching off
    await election.stop()  # cancels the election task in the middle of it
    assert off_done.is_set() and lease.released.is_set()
    assert calls == ["off", "off"] and not election.writer
