"""The projection's batches run one at a time, in the order handed over, one ahead of the
fetching; a stop lets the batch in progress finish and drops the ones waiting."""

import asyncio

from analytics.application.ordered_batches import OrderedBatches


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
