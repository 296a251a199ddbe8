"""Rebuild (`POST /v1/admin/rebuild`): replay the `CRM` stream into fresh tables and swap them
in atomically, while the live projection keeps running.

1. `<db>_rebuild_<id>` gets the same migrations, and an ephemeral consumer replays the stream
   from sequence 1 through the projection's own `Projector`, in big batches (the next batch
   is fetched while one is written).
2. The live projection is held between batches (gate.py) and the tail published meanwhile
   is replayed too, so the new tables hold every event in the stream.
3. Every projected table is exchanged with its fresh twin in one `EXCHANGE TABLES` statement
   (under the engine lock, so no report sees half of it); the old tables are dropped.
4. The live projection resumes; what it had fetched but not acked lands again in the new
   tables, which the projection's idempotence absorbs. Nothing is lost: every event is in the
   stream either before the tail was caught up (replayed) or after (the live consumer's).
Tables not fed by the stream (ad spend, currency rates) are left as they are."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from analytics.application.gate import ProjectionGate
from analytics.application.ingest import (
    DEFAULT_CAPACITY,
    ProjectionStore,
    Projector,
    parse_batch,
)
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.rows import PROJECTED_ROWS
from analytics.metrics import REBUILD_POSITION, REBUILD_RUNNING, REBUILD_TARGET
from crm_contracts.runtime.collector import collector_paused
from crm_contracts.runtime.errors import Conflict

log = logging.getLogger(__name__)
# Exactly the tables the projection writes.
STREAM_TABLES = tuple(sorted(row_type.TABLE for row_type in PROJECTED_ROWS))
KEPT_JOBS = 20


@dataclass(frozen=True)
class Fetched:
    bodies: list[bytes]  # the messages' data, in stream order
    last_sequence: int  # stream sequence of the last one (0 when none came)
    pending: int  # messages the consumer has not delivered yet


class Replay(Protocol):
    """The whole stream from its first message (adapters/jetstream.py)."""

    async def open(self) -> None: ...

    async def stream_end(self) -> int:
        """The stream's last sequence now."""
        ...

    async def fetch(self, batch_size: int) -> Fetched: ...

    async def close(self) -> None: ...


class ProjectionDatabases(Protocol):
    """The live projection database and fresh ones beside it (adapters/rebuild_tables.py)."""

    live: str  # the live database's name

    def prepare(self, database: str) -> ProjectionStore:
        """A fresh, migrated database (any old one of that name dropped) to project into."""
        ...

    def swap(self, database: str, tables: tuple[str, ...]) -> None:
        """Exchange the live tables with those of `database`, all at once."""
        ...

    def drop(self, database: str) -> None: ...


@dataclass
class RebuildJob:
    id: str
    database: str
    state: str = "starting"  # starting → replaying → catching_up → swapping → done | failed
    events_replayed: int = 0
    last_sequence: int = 0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "state": self.state,
            "events_replayed": self.events_replayed,
            "last_sequence": self.last_sequence,
            "tables": list(STREAM_TABLES),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }


class Rebuilder:
    def __init__(
        self,
        databases: ProjectionDatabases,
        open_replay: Callable[[], Replay],
        gate: ProjectionGate,
        config: ProjectionConfig,
        batch_size: int = 5000,
        capacity: int = DEFAULT_CAPACITY,
        on_swapped: Callable[[], None] = lambda: None,
        is_writer: Callable[[], bool] = lambda: True,  # elected replicas: only the writer
    ) -> None:
        self.databases, self.open_replay, self.gate, self.config = (
            databases,
            open_replay,
            gate,
            config,
        )
        self.batch_size, self.capacity, self.on_swapped = batch_size, capacity, on_swapped
        self.is_writer = is_writer
        self.jobs: dict[str, RebuildJob] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> RebuildJob:
        if not self.is_writer():
            raise Conflict("this replica does not write the projection: ask the writer")
        if self._task is not None and not self._task.done():
            running = next(j for j in self.jobs.values() if j.finished_at is None)
            raise Conflict(f"rebuild {running.id} is still running")
        job_id = uuid.uuid4().hex[:12]
        job = RebuildJob(job_id, f"{self.databases.live}_rebuild_{job_id}")
        self.jobs[job_id] = job
        for old in list(self.jobs)[:-KEPT_JOBS]:
            del self.jobs[old]
        self._task = asyncio.create_task(self._run(job))
        return job

    async def stop(self) -> None:
        """On shutdown: abandon a running rebuild (the live tables are untouched until swap)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self, job: RebuildJob) -> None:
        replay = None
        try:
            store = await asyncio.to_thread(self.databases.prepare, job.database)
            projector = Projector(store, self.config, self.capacity)
            replay = self.open_replay()
            await replay.open()
            job.state = "replaying"
            REBUILD_RUNNING.set(1)
            await self._replay(replay, projector, job, await replay.stream_end())
            job.state = "catching_up"
            await self.gate.pause()
            try:
                # With the projection held, whatever it acked is at or before the stream's end
                # now; what comes later it projects itself, into the swapped-in tables.
                await self._replay(replay, projector, job, await replay.stream_end())
                job.state = "swapping"
                await asyncio.to_thread(self.databases.swap, job.database, STREAM_TABLES)
                self.on_swapped()
            finally:
                self.gate.resume()
            job.state = "done"
            log.info("rebuild %s done: %s events replayed", job.id, job.events_replayed)
        except asyncio.CancelledError:
            job.state, job.error = "failed", "cancelled at shutdown"
            raise
        except Exception as exc:
            log.exception("rebuild %s failed", job.id)
            job.state, job.error = "failed", repr(exc)[:1000]
        finally:
            job.finished_at = datetime.now(UTC)
            REBUILD_RUNNING.set(0)
            if replay is not None:
                await replay.close()
            # After a swap this holds the old tables; after a failure, the half-built ones.
            with suppress(Exception):
                await asyncio.to_thread(self.databases.drop, job.database)

    async def _replay(
        self, replay: Replay, projector: Projector, job: RebuildJob, until: int
    ) -> None:
        """Until the consumer has delivered the stream up to sequence `until` (a stream that
        grows faster than one replays must not keep a rebuild going forever). The next batch
        is fetched on the event loop while the current one is parsed and written in a thread."""
        REBUILD_TARGET.set(until)
        ahead: asyncio.Task[Fetched] | None = None
        try:
            while job.last_sequence < until:
                fetched = await (ahead or replay.fetch(self.batch_size))
                ahead = None
                if fetched.bodies and fetched.pending and fetched.last_sequence < until:
                    ahead = asyncio.ensure_future(replay.fetch(self.batch_size))
                if fetched.bodies:
                    projected = await asyncio.to_thread(self._project, projector, fetched.bodies)
                    job.last_sequence = fetched.last_sequence
                    job.events_replayed += projected
                    REBUILD_POSITION.set(job.last_sequence)
                if fetched.pending == 0:
                    return
        finally:
            if ahead is not None:  # only on failure: a fetched batch is never dropped
                ahead.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await ahead

    @staticmethod
    def _project(projector: Projector, bodies: list[bytes]) -> int:
        with collector_paused():  # one collector pass after the batch, not dozens over it
            parsed = parse_batch(bodies)  # the invalid: in the DLQ already
            if parsed.events:
                projector.project(parsed.events, parsed.data)
            projected = len(parsed.events)
            parsed.forget()  # before the pause ends
        return projected
