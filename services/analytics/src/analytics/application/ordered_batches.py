"""The projection one batch ahead: the subscriber hands each fetched batch over and goes back
to NATS for the next while this one is parsed and written (the engine's work and the
client's run side by side). Batches are written one at a time, in the order fetched; at most
`depth` wait. A batch handed over is acked by its job once stored, so one dropped at a stop
is simply delivered again by JetStream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from crm_contracts.runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]


class OrderedBatches:
    def __init__(self, depth: int = 1) -> None:
        self.depth = depth
        self._queue: asyncio.Queue[Job] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._running: asyncio.Future[None] | None = None
        self._stopping = False

    async def put(self, job: Job) -> None:
        """Queue `job`; waits while `depth` jobs are queued. Dropped while stopping."""
        if self._stopping:
            return
        if self._worker is None or self._worker.done():
            self._queue = asyncio.Queue(self.depth)
            self._worker = asyncio.create_task(self._run(self._queue), name="projection-batches")
        assert self._queue is not None
        await self._queue.put(job)

    async def _run(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            if self._stopping:
                continue  # left unacked: JetStream delivers it again
            self._running = asyncio.ensure_future(job())
            try:
                await self._running
            except Exception:  # not acked: delivered again after the ack wait
                log.exception("projection batch failed; JetStream will deliver it again")
            finally:
                self._running = None

    def stopping(self) -> None:
        """No job starts from now on (call before the subscriber stops, so a handler waiting
        in `put` returns at once)."""
        self._stopping = True
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()

    async def stop(self) -> None:
        """The job in progress completes; queued ones are dropped; `put` drops jobs until
        `resume()`."""
        self.stopping()
        running = self._running
        if running is not None:
            await asyncio.wait({running})
        await cancel_and_wait(self._worker)
        self._worker, self._queue = None, None

    def resume(self) -> None:
        self._stopping = False
