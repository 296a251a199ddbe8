"""Rebuild (`POST /v1/admin/rebuild`): replay the `CRM` stream into fresh tables and swap them
in atomically, while the live projection keeps running.

1. `<db>_rebuild_<id>` gets the same migrations, and an ephemeral consumer replays the stream
   from sequence 1 through the projection's own `ingest()`, in big batches.
2. The live projection is held between batches (gate.py) and the tail published meanwhile is
   replayed too, so the new tables hold every event in the stream.
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
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faststream.nats import NatsBroker
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from analytics.adapters.clickhouse import ClickHouse
from analytics.gate import ProjectionGate
from analytics.ingest import ingest, parse_batch
from analytics.projection.config import ProjectionConfig
from analytics.projection.folds import FOLDS
from analytics.projection.tables import COLUMNS
from analytics.schema import migrate
from analytics.tabular import Rejected
from crm_contracts import subjects
from crm_contracts.streams import CRM

log = logging.getLogger(__name__)
# Exactly the tables ingest() writes.
STREAM_TABLES = tuple(
    sorted(set(COLUMNS) | {row_type.TABLE for row_type, _, _ in FOLDS} | {"fold_events"})
)
KEPT_JOBS = 20


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


def swap(live: ClickHouse, fresh: ClickHouse) -> None:
    pairs = ", ".join(f"{live.db}.{t} AND {fresh.db}.{t}" for t in STREAM_TABLES)
    with live.consistent():
        live.command(f"EXCHANGE TABLES {pairs}")


class Rebuilder:
    def __init__(
        self,
        ch: ClickHouse,
        broker: NatsBroker,
        gate: ProjectionGate,
        config: ProjectionConfig,
        batch_size: int = 5000,
    ) -> None:
        self.ch, self.broker, self.gate, self.config = ch, broker, gate, config
        self.batch_size = batch_size
        self.jobs: dict[str, RebuildJob] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> RebuildJob:
        if self._task is not None and not self._task.done():
            running = next(j for j in self.jobs.values() if j.finished_at is None)
            reason = f"rebuild {running.id} is still running"
            raise Rejected(409, "conflict", [{"field": "", "reason": reason}])
        job_id = uuid.uuid4().hex[:12]
        job = RebuildJob(job_id, f"{self.ch.db}_rebuild_{job_id}")
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
        fresh = self.ch.on_database(job.database)
        sub = None
        try:
            await asyncio.to_thread(fresh.command, "DROP DATABASE IF EXISTS {db} SYNC")
            await asyncio.to_thread(migrate, fresh)
            js = self.broker.connection.jetstream()
            sub = await js.pull_subscribe(
                subjects.ALL,
                durable=None,  # ephemeral: the server forgets it when we are done
                stream=CRM,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.ALL,
                    ack_policy=AckPolicy.NONE,  # a replay needs no acks; it is repeatable
                    inactive_threshold=300.0,
                    mem_storage=True,
                ),
            )
            job.state = "replaying"
            await self._replay(sub, fresh, job, await self._stream_end(js))
            job.state = "catching_up"
            await self.gate.pause()
            try:
                # With the projection held, whatever it acked is at or before the stream's end
                # now; what comes later it projects itself, into the swapped-in tables.
                await self._replay(sub, fresh, job, await self._stream_end(js))
                job.state = "swapping"
                await asyncio.to_thread(swap, self.ch, fresh)
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
            if sub is not None:
                with suppress(Exception):
                    await sub.unsubscribe()
            # After a swap this holds the old tables; after a failure, the half-built ones.
            with suppress(Exception):
                await asyncio.to_thread(fresh.command, "DROP DATABASE IF EXISTS {db} SYNC")

    @staticmethod
    async def _stream_end(js: Any) -> int:
        return int((await js.stream_info(CRM)).state.last_seq)

    async def _replay(self, sub: Any, fresh: ClickHouse, job: RebuildJob, until: int) -> None:
        """Until the consumer has delivered the stream up to sequence `until` (a stream that
        grows faster than one replays must not keep a rebuild going forever)."""
        while job.last_sequence < until:
            try:
                messages = await sub.fetch(self.batch_size, timeout=1.0)
            except TimeoutError:  # nats-py raises its own subclass or, at times, the bare one
                messages = []
            if messages:
                parsed = parse_batch([m.data for m in messages])  # the invalid: in the DLQ already
                if parsed.events:
                    await asyncio.to_thread(
                        ingest, fresh, parsed.events, parsed.payloads, self.config
                    )
                job.events_replayed += len(parsed.events)
                job.last_sequence = messages[-1].metadata.sequence.stream
                if messages[-1].metadata.num_pending == 0:
                    return
            elif (await sub.consumer_info()).num_pending == 0:
                return
