"""Keeps the read model up to date in the background: at start (events stored while it was
not running), at once after a save in this process, and on a poll for other processes."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from crm_contracts.runtime.wakeup import Wakeup
from deal_pipeline.adapters.read_model.store import ReadModel
from deal_pipeline.metrics import READ_MODEL_POSITION

log = logging.getLogger(__name__)
STEP = 100  # events per catch-up step: a few milliseconds of the event loop on SQLite


class Follower:
    def __init__(
        self, read_model: ReadModel, idle_poll: float = 1.0, min_interval: float = 0.0
    ) -> None:
        self.read_model = read_model
        self.idle_poll = idle_poll
        # Seconds at least from one catch-up to the next: under a stream of saves each one
        # applies several events in one commit (on SQLite an fsync under the store's one write
        # lock) instead of a commit per save. Lists catch up themselves before they read.
        self.min_interval = min_interval
        self._wake = Wakeup()  # by a save in this process
        self._stopping = False
        read_model.store.saved_listeners.append(self._wake)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = -self.min_interval
        while not self._stopping:
            await asyncio.sleep(max(0.0, started + self.min_interval - loop.time()))
            started = loop.time()
            self._wake.clear()  # cleared before reading: a save during the read still wakes
            try:
                # A short step at a time through the store's `call` (in place on SQLite):
                # the commands on the event loop get their turn between steps.
                call, more = self.read_model.store.call, True
                while more and not self._stopping:
                    _, more = await call(self.read_model.catch_up_step, STEP)
                READ_MODEL_POSITION.set(await call(self.read_model.position))
            except Exception:
                log.exception("read model catch-up failed; retrying")
            await self._wake.wait(self.idle_poll)

    async def stop(self, running: asyncio.Task[None]) -> None:
        """Ends `run` between two catch-ups. Not by cancelling: a cancelled task leaves its
        catch-up thread running, and closing the store under it crashed the process."""
        self._stopping = True
        self._wake.set()
        with suppress(Exception):
            await running
