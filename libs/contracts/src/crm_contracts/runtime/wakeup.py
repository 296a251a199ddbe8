"""Waking a background loop on the event loop from any thread (a save in a worker thread, a
LISTEN thread), and its wait for the next wake-up or a poll interval."""

from __future__ import annotations

import asyncio
from contextlib import suppress


class Wakeup:
    """Made on the running event loop; calling it from any thread wakes the waiter."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def __call__(self) -> None:
        # Already set: the waiter reads only after clearing it, so it will see this change
        # too. Under load that spares a wake-up of the event loop per save.
        if self._event.is_set():
            return
        with suppress(RuntimeError):  # the loop has already closed: nobody to wake
            self._loop.call_soon_threadsafe(self._event.set)

    def set(self) -> None:
        """From the event loop's own thread."""
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, timeout: float) -> bool:
        """True once woken, False after `timeout` seconds.

        `asyncio.timeout`, not `asyncio.wait_for`: on Python 3.11 `wait_for` returns normally
        when the wake-up and a cancel of the waiting task land in the same turn of the loop.
        The cancel is lost, and a relay cancelled just as a save woke it went on for good
        (its next wait was its hour-long idle poll)."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
                return True
        return False
