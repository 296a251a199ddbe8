"""A refresh that runs every few seconds in the background (consumer lag, business vitals):
one failure is logged and the last values stay; the next turn tries again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from crm_contracts.runtime.tasks import cancel_and_wait

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
        """Ends the loop (the flag too: a cancellation swallowed inside nats-py must not keep
        it going)."""
        self._stopping = True
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.work()
            except Exception as exc:  # NATS or ClickHouse away for a moment: retry next turn
                log.warning("could not refresh %s: %r", self.what, exc)
            await asyncio.sleep(self.interval)
