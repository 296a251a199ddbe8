"""The projection's batches run one at a time, in the order handed over, one ahead of the
fetching; a stop lets the batch in progress finish and drops the ones waiting."""

import asyncio
from types import SimpleNamespace

from analytics.application.ingest import Parsed
from analytics.application.ordered_batches import OrderedBatches
from analytics.handlers import LIVE_PENDING, ingest_until_stored, is_live


def job(log: list[str], name: str, gate: asyncio.Event | None = None, fail: bool = False):
    async def run() -> None:
        log.append(f"start {name}")
        if gate is not None:
            await gate.wait()
        if fail:
            raise RuntimeError(name)
        log.append(f"end {name}")

    return run


def test_batches_run_in_order_one_at_a_time_and_a_failure_does_not_stop_the_next():
    async def scenario() -> list[str]:
        log: list[str] = []
        batches = OrderedBatches(depth=1)
        for name in ("a", "b"):
            await batches.put(job(log, name))
        await batches.put(job(log, "c", fail=True))
        await batches.put(job(log, "d"))
        while "end d" not in log:
            await asyncio.sleep(0.01)
        await batches.stop()
        return log

    assert asyncio.run(scenario()) == [
        "start a", "end a", "start b", "end b", "start c", "start d", "end d"
    ]  # fmt: skip


def test_the_handler_gets_the_next_batch_while_one_is_written_and_waits_beyond_depth():
    async def scenario() -> None:
        log: list[str] = []
        batches = OrderedBatches(depth=1)
        held = asyncio.Event()
        await batches.put(job(log, "a", held))  # taken by the worker at once
        await asyncio.sleep(0.05)
        await asyncio.wait_for(batches.put(job(log, "b")), 1)  # one waits: no blocking
        third = asyncio.create_task(batches.put(job(log, "c")))
        await asyncio.sleep(0.05)
        assert not third.done()  # beyond the depth the handler waits
        held.set()
        await asyncio.wait_for(third, 1)
        while "end c" not in log:
            await asyncio.sleep(0.01)
        await batches.stop()

    asyncio.run(scenario())


def test_a_stop_finishes_the_batch_in_progress_drops_the_waiting_and_resume_starts_again():
    async def scenario() -> list[str]:
        log: list[str] = []
        batches = OrderedBatches(depth=1)
        held = asyncio.Event()
        await batches.put(job(log, "a", held))
        await asyncio.sleep(0.05)
        await batches.put(job(log, "b"))
        stopped = asyncio.create_task(batches.stop())
        await asyncio.sleep(0.05)
        assert not stopped.done()  # the batch being written is waited for
        await batches.put(job(log, "late"))  # while stopping: dropped, not queued
        held.set()
        await asyncio.wait_for(stopped, 1)
        await batches.put(job(log, "after stop"))  # still stopped: dropped
        batches.resume()
        await batches.put(job(log, "resumed"))
        while "end resumed" not in log:
            await asyncio.sleep(0.01)
        await batches.stop()
        return log

    assert asyncio.run(scenario()) == ["start a", "end a", "start resumed", "end resumed"]


def test_a_waiting_batch_is_kept_alive_until_its_turn():
    async def scenario() -> tuple[int, int]:
        log: list[str] = []
        pings = {"a": 0, "b": 0}

        def ping(name: str):
            async def run() -> None:
                pings[name] += 1

            return run

        batches = OrderedBatches(keep_alive_every=0.02, depth=1)
        held = asyncio.Event()
        await batches.put(job(log, "a", held), ping("a"))
        await batches.put(job(log, "b"), ping("b"))
        await asyncio.sleep(0.2)
        waiting = pings["b"]
        held.set()
        while "end b" not in log:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        await batches.stop()
        return waiting, pings["b"] - waiting

    waiting, after = asyncio.run(scenario())
    assert waiting >= 3  # pinged while it waited
    assert after <= 1  # and no more once it ran


class FailingProjector:
    def project(self, events, data) -> None:
        raise RuntimeError("ClickHouse is down")


class Batch:
    def __init__(self) -> None:
        self.in_progress_calls = 0

    async def in_progress(self) -> None:
        self.in_progress_calls += 1


def test_a_batch_that_cannot_be_stored_gives_up_at_a_stop_and_is_kept_alive_meanwhile():
    async def scenario() -> tuple[bool, int]:
        stop = asyncio.Event()
        batch = Batch()
        parsed = Parsed(events=[object()], data=[{}])  # type: ignore[list-item]
        stored = asyncio.create_task(
            ingest_until_stored(
                FailingProjector(), parsed, batch, keep_alive_every=0.02, give_up=stop.is_set
            )  # type: ignore[arg-type]
        )
        await asyncio.sleep(0.3)  # the first backoff is longer: pings every 0.02 s meanwhile
        stop.set()
        return await asyncio.wait_for(stored, 1), batch.in_progress_calls

    stored, pings = asyncio.run(scenario())
    assert stored is False
    assert pings >= 3


def test_a_live_batch_is_waited_for_after_the_ones_before_it_and_a_stop_releases_it():
    async def scenario() -> None:
        log: list[str] = []
        batches = OrderedBatches(depth=1)
        held, writing = asyncio.Event(), asyncio.Event()
        await batches.put(job(log, "a", held))
        await asyncio.sleep(0.05)
        live = asyncio.create_task(batches.put(job(log, "b", writing), written=True))
        await asyncio.sleep(0.05)
        assert not live.done()  # queued behind a
        held.set()
        while "start b" not in log:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert not live.done()  # b is being written: the handler still waits
        writing.set()
        await asyncio.wait_for(live, 1)
        assert log == ["start a", "end a", "start b", "end b"]

        failing = batches.put(job(log, "c", fail=True), written=True)
        await asyncio.wait_for(failing, 1)  # a failure releases it too
        assert log[-1] == "start c"

        blocked = asyncio.Event()
        await batches.put(job(log, "d", blocked))
        await asyncio.sleep(0.05)
        dropped = asyncio.create_task(batches.put(job(log, "e"), written=True))
        await asyncio.sleep(0.05)
        batches.stop_taking()  # e is dropped unwritten: its handler must not wait forever
        await asyncio.wait_for(dropped, 1)
        blocked.set()
        await batches.stop()
        assert "start e" not in log

    asyncio.run(scenario())


def test_a_worker_that_dies_releases_the_handler_waiting_behind_it():
    async def scenario() -> list[str]:
        log: list[str] = []
        batches = OrderedBatches(depth=1)
        held = asyncio.Event()

        async def cancelled() -> None:  # a stray cancellation ends the worker itself
            log.append("start a")
            await held.wait()
            raise asyncio.CancelledError

        await batches.put(cancelled)
        await asyncio.sleep(0.05)
        live = asyncio.create_task(batches.put(job(log, "b"), written=True))
        await asyncio.sleep(0.05)
        held.set()
        await asyncio.wait_for(live, 1)  # b dropped, unacked: JetStream delivers it again
        await asyncio.wait_for(batches.put(job(log, "c"), written=True), 1)  # a new worker
        await batches.stop()
        return log

    assert asyncio.run(scenario()) == ["start a", "start c", "end c"]


def test_live_is_fewer_than_a_thousand_events_not_yet_delivered():
    def batch(pending: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(metadata=SimpleNamespace(num_pending=pending))]

    assert is_live(batch(0)) and is_live(batch(LIVE_PENDING - 1))
    assert not is_live(batch(LIVE_PENDING)) and not is_live(batch(80_000))
