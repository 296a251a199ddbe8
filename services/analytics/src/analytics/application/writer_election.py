"""One projection writer among replicas that share a store, elected through a lease.

A follower tries to take the lease every `acquire_every` seconds. The writer renews it every
third of its TTL, and stops writing (`on_deposed`) as soon as it learns that the lease is
someone else's, or when no renewal has gone through for half the TTL. Half, and counted from
when the last good renewal was *sent*: the lease cannot expire (and be taken) before a full
TTL after that, so the old writer has stopped consuming before a new one can start. A dead
writer's lease expires after the TTL; a follower takes it within `acquire_every` more.

The fence is on consuming: a batch already being written when the writer stops is finished
(idempotent rows; the next writer may write it again from the redelivery)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from analytics.metrics import WRITER
from crm_contracts.runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Someone else holds the lease now."""


class Lease(Protocol):
    """adapters/writer_lease.py"""

    holder: str

    async def acquire(self) -> bool: ...

    async def renew(self) -> None:
        """Raises `LeaseLost` when it is not ours any more; other errors are transient."""

    async def release(self) -> None: ...


class WriterElection:
    def __init__(
        self,
        lease: Lease,
        ttl: float,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
        acquire_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        signal: Callable[[bool], None] = lambda writing: None,
    ) -> None:
        self.lease, self.on_elected, self.on_deposed = lease, on_elected, on_deposed
        self.renew_every, self.fence = ttl / 3, ttl / 2
        self.acquire_every = min(acquire_every, ttl / 3)
        self.clock = clock
        self.writer = False
        self.writing_since: float | None = None  # wall clock, for the operators
        self._renewed_at = 0.0  # when the last renewal that went through was sent
        self._task: asyncio.Task[None] | None = None
        self._stepping_down = False  # `on_deposed` began and has not returned
        self.signal = signal  # told whenever this replica starts or stops writing
        signal(False)

    @property
    def role(self) -> str:
        return "writer" if self.writer else "follower"

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """On shutdown: stop writing, then free the lease for the next writer at once."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        # A step-down the cancel cut short is done again, whole: the lease is freed only once
        # this replica has stopped consuming.
        if self.writer or self._stepping_down:
            await self._step_down("shutting down", logging.INFO)
        await self.lease.release()

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:
                log.exception("writer election step failed")
            await asyncio.sleep(self._pause())

    def _pause(self) -> float:
        if not self.writer:
            return self.acquire_every
        left = self._renewed_at + self.fence - self.clock()
        return max(0.05, min(self.renew_every, left))

    async def step(self) -> None:
        """One turn: a follower tries to take the lease, the writer renews it (or stops)."""
        if self.writer:
            await self._renew()
        else:
            await self._acquire()

    async def _acquire(self) -> None:
        sent = self.clock()
        try:
            taken = await asyncio.wait_for(self.lease.acquire(), self.fence)
        except Exception as exc:  # NATS away: stay a follower, try again
            log.debug("writer lease not reachable: %r", exc)
            return
        if not taken:
            return
        self._renewed_at = sent
        self.writer = True
        self.signal(True)
        try:
            # Bounded: no renewal runs meanwhile, and the lease must not lapse under a writer.
            await asyncio.wait_for(self.on_elected(), self.fence)
        except Exception:
            log.exception("could not start the projection; giving the writer lease up")
            await self._step_down("could not start")
            await self.lease.release()
        else:
            self.writing_since = time.time()
            log.info("this replica (%s) writes the projection now", self.lease.holder)

    async def _renew(self) -> None:
        sent = self.clock()
        left = self._renewed_at + self.fence - sent
        try:
            if left <= 0:
                raise TimeoutError
            await asyncio.wait_for(self.lease.renew(), left)
        except LeaseLost as exc:
            await self._step_down(str(exc))
        except Exception as exc:
            if self.clock() - self._renewed_at >= self.fence:
                await self._step_down(f"no renewal for {self.fence:g} s ({exc!r})")
            else:
                log.warning("writer lease renewal failed, retrying: %r", exc)
        else:
            self._renewed_at = sent

    async def _step_down(self, why: str, level: int = logging.WARNING) -> None:
        self.writer, self.writing_since = False, None
        self.signal(False)
        log.log(level, "this replica stops writing the projection: %s", why)
        self._stepping_down = True
        await self.on_deposed()
        self._stepping_down = False


class ProjectionRole:
    """What this replica does with the projection, for /readyz and the ops page: in `own`
    mode it writes its own copy; in `elected` mode it is the writer or a follower."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.election: WriterElection | None = None  # set in elected mode

    def signal(self, writing: bool) -> None:
        # Labelled with the consumer, so that an alert can pick each replica's own.
        WRITER.labels(self.consumer).set(int(writing))

    @property
    def mode(self) -> str:
        return "own" if self.election is None else "elected"

    @property
    def writing(self) -> bool:
        return self.election is None or self.election.writer

    async def start(self) -> None:
        if self.election is None:
            self.signal(True)
        else:
            await self.election.start()

    async def stop(self) -> None:
        if self.election is not None:
            await self.election.stop()

    def view(self) -> dict[str, object]:
        view: dict[str, object] = {"mode": self.mode, "consumer": self.consumer}
        if self.election is None:
            return view | {"role": "writer"}
        election = self.election
        return view | {
            "role": election.role,
            "holder": election.lease.holder,
            "writing_since": election.writing_since,  # Unix time; None while following
        }
