"""A refresh that runs every few seconds in the background (consumer lag, business vitals):
one failure is logged and the last values stay; the next turn tries again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, work: Callable[[], Awaitable[None]], interval: float, what: str) -> None:
        self.work = work
        self.interval = interval
        self.what = what
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Ends the loop. On Python 3.11 a cancellation can be swallowed by an `asyncio.wait_for`
        inside nats-py that completes at the same moment (a shutdown then hung for good), so
        the loop also checks a flag and the cancel is repeated until the task is done."""
        self._stopping = True
        task = self._task
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.2)
        if task is not None and not task.cancelled():
            with suppress(Exception):
                task.result()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.work()
            except Exception as exc:  # NATS or ClickHouse away for a moment: retry next turn
                log.warning("could not refresh %s: %r", self.what, exc)
            await asyncio.sleep(self.interval)
