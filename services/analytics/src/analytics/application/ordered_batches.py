"""The projection one batch ahead: the subscriber hands each fetched batch over and goes back
to NATS for the next while this one is parsed and written (the engine's work and the
client's run side by side). Batches are written one at a time, in the order fetched. Two may
wait: one queued (`depth`) and one in the subscriber's hands. A waiting batch is kept alive
(`keep_alive`, every `keep_alive_every` seconds: JetStream's "still working"), so a slow
write does not get the waiting ones delivered twice. A batch handed over is acked by its job
once stored, so one dropped at a stop is simply delivered again by JetStream.

Live, with few events not yet delivered, a batch fetched ahead would only hold the few that
came in the moment after, and make every later event wait for it: then the subscriber waits
until its batch is written (or failed, or was dropped at a stop: `put(..., written=True)`),
and the next fetch takes all that came meanwhile."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass

from crm_contracts.runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]
KeepAlive = Callable[[], Awaitable[None]]


@dataclass
class _Waiting:
    job: Job
    keeper: asyncio.Task[None] | None
    done: asyncio.Future[None] | None = None  # set once the job has run or was dropped

    def finished(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


class OrderedBatches:
    def __init__(self, keep_alive_every: float = 10.0, depth: int = 1) -> None:
        self.keep_alive_every, self.depth = keep_alive_every, depth
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._running: asyncio.Future[None] | None = None
        self._stopping = False

    @property
    def stopping(self) -> bool:
        """True from `stop_taking()` until `resume()`: a job in progress may give up early."""
        return self._stopping

    async def put(
        self, job: Job, keep_alive: KeepAlive | None = None, written: bool = False
    ) -> None:
        """Queue `job`; waits while `depth` jobs are queued. Dropped while stopping.
        `written`: then waits until it has run (or was dropped at a stop)."""
        if self._stopping:
            return
        if self._worker is None or self._worker.done():
            self._queue = asyncio.Queue(self.depth)
            # A fresh context: the worker must not hold on to the first batch's FastStream
            # context (its message) for its whole life.
            self._worker = asyncio.create_task(
                self._run(self._queue), name="projection-batches", context=contextvars.Context()
            )
        assert self._queue is not None
        keeper = asyncio.create_task(self._keep(keep_alive)) if keep_alive else None
        done = asyncio.get_running_loop().create_future() if written else None
        waiting = _Waiting(job, keeper, done)
        try:
            await self._queue.put(waiting)
        except BaseException:  # cancelled while it waited: never queued, nothing to keep
            if keeper is not None:
                keeper.cancel()
            raise
        if done is not None:
            if self._stopping:  # dropped while it waited to be queued, or since
                waiting.finished()
            await done

    async def _keep(self, keep_alive: KeepAlive) -> None:
        while True:
            await asyncio.sleep(self.keep_alive_every)
            with suppress(Exception):  # the bus is down: nothing to keep alive with
                await keep_alive()

    async def _run(self, queue: asyncio.Queue[_Waiting]) -> None:
        try:
            await self._take(queue)
        finally:  # however the worker ends, no handler waits on a job it will never run
            _drop(queue)

    async def _take(self, queue: asyncio.Queue[_Waiting]) -> None:
        while True:
            waiting = await queue.get()
            try:
                await cancel_and_wait(waiting.keeper)
                if self._stopping:
                    continue  # left unacked: JetStream delivers it again
                self._running = asyncio.ensure_future(waiting.job())
                try:
                    await self._running
                except Exception:  # not acked: delivered again after the ack wait
                    log.exception("projection batch failed; JetStream will deliver it again")
                finally:
                    self._running = None
            finally:
                waiting.finished()

    def stop_taking(self) -> None:
        """No job starts from now on, and the waiting ones are dropped (call before the
        subscriber stops, so a handler waiting in `put` returns at once)."""
        self._stopping = True
        if self._queue is not None:
            _drop(self._queue)

    async def stop(self) -> None:
        """The job in progress completes (it may give up early: `stopping`); queued ones are
        dropped; `put` drops jobs until `resume()`."""
        self.stop_taking()
        running = self._running
        if running is not None:
            await asyncio.wait({running})
        await cancel_and_wait(self._worker)
        self.stop_taking()  # a handler that was waiting in `put` may have queued one since
        self._worker, self._queue = None, None

    def resume(self) -> None:
        self._stopping = False


def _drop(queue: asyncio.Queue[_Waiting]) -> None:
    """The waiting jobs dropped, unacked (JetStream delivers them again), their keepers
    stopped and their handlers released."""
    while not queue.empty():
        waiting = queue.get_nowait()
        if waiting.keeper is not None:
            waiting.keeper.cancel()
        waiting.finished()
