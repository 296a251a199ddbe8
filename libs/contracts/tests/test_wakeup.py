"""A background loop's wake-up: from another thread, after a timeout, and a cancel that lands
as it is woken."""

from __future__ import annotations

import asyncio
import threading

from crm_contracts.runtime.wakeup import Wakeup


def test_a_wake_up_from_another_thread_ends_the_wait_and_a_quiet_one_times_out():
    async def scenario() -> tuple[bool, bool]:
        wakeup = Wakeup()
        quiet = await wakeup.wait(0.05)
        threading.Timer(0.05, wakeup).start()
        woken = await wakeup.wait(30)
        return quiet, woken

    assert asyncio.run(scenario()) == (False, True)


def test_a_cancel_in_the_same_turn_as_the_wake_up_ends_the_waiter():
    """With `asyncio.wait_for` (Python 3.11) the waiter returned True as if only woken, and a
    loop around it went on waiting: a stopped relay ran on with an hour-long idle poll."""

    async def scenario() -> bool:
        wakeup = Wakeup()
        waiter = asyncio.create_task(wakeup.wait(3600))
        await asyncio.sleep(0.01)  # waiting now
        wakeup.set()
        waiter.cancel()
        await asyncio.wait({waiter}, timeout=5)
        return waiter.cancelled()

    assert asyncio.run(scenario())


def test_a_set_wake_up_stays_set_until_cleared():
    async def scenario() -> tuple[bool, bool]:
        wakeup = Wakeup()
        wakeup.set()
        wakeup()  # already set: nothing more to do
        kept = await wakeup.wait(0)
        wakeup.clear()
        return kept, await wakeup.wait(0.01)

    assert asyncio.run(scenario()) == (True, False)


def test_waking_after_the_loop_closed_is_harmless():
    async def made() -> Wakeup:
        return Wakeup()

    wakeup = asyncio.run(made())
    wakeup()  # e.g. a save after the service's loop ended
