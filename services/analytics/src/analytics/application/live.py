"""Tells open dashboards that the projection changed: a counter bumped after each stored
batch (and each rebuild swap), and an asyncio condition that server-sent-event streams wait
on. In memory, per replica: every replica runs its own projection, so it pulses for itself."""

from __future__ import annotations

import asyncio
import contextlib
import time


class Pulse:
    def __init__(self) -> None:
        self.seq = 0
        self.events = 0  # events projected since start
        self.at = 0.0  # wall clock of the last beat
        self._changed: asyncio.Condition | None = None  # bound to the serving loop lazily

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def beat(self, events: int) -> None:
        self.seq += 1
        self.events += events
        self.at = time.time()
        async with self._condition():
            self._condition().notify_all()

    async def wait_after(self, seq: int, timeout: float) -> int:
        """The sequence number once it passes `seq`, or the current one after `timeout`."""
        if self.seq > seq:
            return self.seq
        condition = self._condition()
        async with condition:
            # `asyncio.timeout`, not `wait_for`: on Python 3.11 that loses a cancel (a client
            # gone) that lands in the same turn as the beat.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await condition.wait_for(lambda: self.seq > seq)
        return self.seq

    def state(self) -> dict[str, float | int]:
        return {"seq": self.seq, "events": self.events, "at": self.at}
