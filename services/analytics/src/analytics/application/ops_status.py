"""The operators' live page (`/ops`): what every service, the bus, the dead-letter queue, the
projection, the intake spool, the notifications and a rebuild look like right now, and the
dead-letter actions (inspect, replay one, replay all of a subject).

Each source is a small port: the services are read over HTTP (`/metrics`, `/readyz`), the bus
through nats-server's monitoring endpoint and JetStream, never through another service's
internals (adapters/ops_sources.py). Rates and percentiles "in the last 5 minutes" come from a
ring of scrapes kept here: counters are cumulative, so a window is the difference of two."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from crm_contracts.runtime.errors import Invalid, NotFound
from crm_contracts.runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)
T = TypeVar("T")

WINDOW_SECONDS = 300.0  # "the last 5 minutes"
DLQ_NEWEST = 20  # entries shown on the page
REPLAY_ALL_LIMIT = 1000  # entries one "replay all of a subject" takes
SOURCE_TIMEOUT = 4.0  # a section that does not answer in time shows its error, not a stall


# ---------------------------------------------------------------------------- what is read


@dataclass(frozen=True)
class Scrape:
    """One reading of a service's `/readyz` and `/metrics` (adapters parse the text)."""

    at: float  # unix time of the reading
    ready: bool | None  # None: the service did not answer
    checks: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    started_at: float | None = None  # process_start_time_seconds
    requests: dict[str, float] = field(default_factory=dict)  # by status class "2xx".."5xx"
    buckets: tuple[tuple[float, float], ...] = ()  # (le, cumulative count), every route summed
    gauges: dict[str, float] = field(default_factory=dict)  # the few gauges the page shows
    error: str | None = None


@dataclass(frozen=True)
class ConsumerState:
    stream: str
    name: str
    filter_subjects: tuple[str, ...]
    pending: int  # in the stream, not yet delivered
    ack_pending: int  # delivered, not yet acknowledged
    redelivered: int
    ack_floor: int  # stream sequence acknowledged up to (contiguously)
    last_active: datetime | None = None


@dataclass(frozen=True)
class StreamState:
    name: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    first_at: datetime | None
    last_at: datetime | None
    consumers: tuple[ConsumerState, ...] = ()


@dataclass(frozen=True)
class DeadLetter:
    """A message parked in `CRM_DLQ` (`crm_contracts.runtime.consuming.dead_letter`)."""

    seq: int
    at: datetime
    subject: str  # where it was first published (its DLQ subject minus the prefix)
    headers: dict[str, str]
    data: bytes

    @property
    def consumer(self) -> str:
        return self.headers.get("Crm-Dlq-Consumer", "")

    @property
    def reason(self) -> str:
        return self.headers.get("Crm-Dlq-Reason", "")

    @property
    def event_type(self) -> str:
        return self.headers.get("Crm-Event-Type", "") or str(self._body().get("event_type", ""))

    @property
    def event_id(self) -> str:
        """The event's id (dead-lettering replaced the message id with the consumer's)."""
        return str(self._body().get("event_id", ""))

    def _body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.data)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def summary(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "subject": self.subject,
            "consumer": self.consumer,
            "reason": self.reason,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "deliveries": self.headers.get("Crm-Dlq-Deliveries", ""),
            # only a domain event goes back on the bus; a parked send (crmrem.…) is inspected
            "replayable": self.subject.startswith("crm."),
        }


@dataclass(frozen=True)
class DeliveryCounts:
    sent: int
    failed: int
    skipped: int
    capped: bool = False  # a count reached the API's page size: it is "at least"


# ---------------------------------------------------------------------------- ports


class ServiceProbe(Protocol):
    """Reads one service's `/readyz` and `/metrics` over HTTP."""

    async def scrape(self, name: str) -> Scrape: ...


class JetStreamMonitor(Protocol):
    """nats-server's monitoring endpoint (`/jsz`): streams and their durable consumers."""

    async def streams(self) -> list[StreamState]: ...


class StreamMessages(Protocol):
    async def first_time_after(
        self, stream: str, after_seq: int, subjects: Sequence[str]
    ) -> datetime | None:
        """The time of the first message after `after_seq` on one of `subjects`."""
        ...


class DeadLetterQueue(Protocol):
    async def count(self) -> int: ...

    async def newest(self, limit: int) -> list[DeadLetter]: ...

    async def get(self, seq: int) -> DeadLetter | None: ...

    async def of_subject(self, subject: str, limit: int) -> list[DeadLetter]:
        """Entries first published on `subject`, oldest first."""
        ...

    async def republish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        """Onto the `CRM` stream, waiting for its ack."""
        ...

    async def delete(self, seq: int) -> None: ...


class DeliveryLog(Protocol):
    """The notification service's delivery log."""

    async def counts(self, since: datetime) -> DeliveryCounts: ...


class ReminderSchedules(Protocol):
    async def due_between(self, start: datetime, end: datetime) -> int: ...


class ProjectionClock(Protocol):
    async def newest_event_at(self) -> datetime | None:
        """When the newest projected event happened (its `occurred_at`)."""
        ...


class RebuildJobs(Protocol):
    async def latest(self) -> dict[str, Any] | None:
        """The newest rebuild job's view (application/rebuild.py `RebuildJob.view()`)."""
        ...


# ---------------------------------------------------------------------------- windows


def _window_pair(ring: Sequence[Scrape], window: float) -> tuple[Scrape, Scrape] | None:
    """The oldest reading inside the window and the newest, from the same process."""
    if len(ring) < 2:
        return None
    newest = ring[-1]
    for old in ring:
        if newest.at - old.at <= window and old is not newest:
            return old, newest
    return None


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' `histogram_quantile` on cumulative (le, count) buckets: linear inside the
    bucket the rank falls in; the +Inf bucket answers its lower bound."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_le, lower_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return lower_le
            if count == lower_count:
                return le
            return lower_le + (le - lower_le) * (rank - lower_count) / (count - lower_count)
        lower_le, lower_count = le, count
    return lower_le


def window_figures(ring: Sequence[Scrape], window: float = WINDOW_SECONDS) -> dict[str, Any]:
    """Request rate, 4xx, 5xx and p95 latency over up to `window` seconds of readings."""
    pair = _window_pair(ring, window)
    if pair is None:
        return {
            "window_seconds": None,
            "request_rate": None,
            "errors_4xx": None,
            "errors_5xx": None,
            "requests": None,
            "p95_ms": None,
        }
    old, new = pair
    seconds = new.at - old.at
    delta = {k: max(0.0, v - old.requests.get(k, 0.0)) for k, v in new.requests.items()}
    total = sum(delta.values())
    before = dict(old.buckets)
    buckets = [(le, max(0.0, count - before.get(le, 0.0))) for le, count in new.buckets]
    p95 = quantile(0.95, buckets)
    return {
        "window_seconds": round(seconds, 1),
        "request_rate": round(total / seconds, 3) if seconds > 0 else None,
        "errors_4xx": int(delta.get("4xx", 0)),
        "errors_5xx": int(delta.get("5xx", 0)),
        "requests": int(total),
        "p95_ms": round(p95 * 1000, 1) if p95 is not None else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def _guarded(section: str, work: Awaitable[T]) -> T | dict[str, str]:
    """One section's failure is shown in that section; the page keeps the rest."""
    try:
        return await asyncio.wait_for(work, SOURCE_TIMEOUT)
    except Exception as exc:
        log.warning("ops page: %s unavailable: %r", section, exc)
        return {"error": f"{type(exc).__name__}: {exc}"[:300] or "unavailable"}


class Refreshing:
    """The newest value of a slow read, refreshed in the background once older than
    `max_age`: a caller waits only for the very first one (up to SOURCE_TIMEOUT)."""

    def __init__(
        self,
        read: Callable[[], Awaitable[dict[str, Any]]],
        max_age: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.read, self.max_age, self.clock = read, max_age, clock
        self.value: dict[str, Any] | None = None
        self.at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _refresh(self) -> None:
        self.value = await _guarded("notification", self.read())
        self.at = self.clock()

    async def get(self) -> dict[str, Any]:
        stale = self.value is None or self.clock() - self.at >= self.max_age
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._refresh())
        if self.value is None and self._task is not None:
            await asyncio.wait({self._task}, timeout=SOURCE_TIMEOUT + 1)
        return self.value if self.value is not None else {"error": "no answer yet"}

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)


# ---------------------------------------------------------------------------- the page


@dataclass
class OpsSources:
    probe: ServiceProbe
    jetstream: JetStreamMonitor
    messages: StreamMessages
    dead_letters: DeadLetterQueue
    deliveries: DeliveryLog
    reminders: ReminderSchedules
    projection: ProjectionClock
    rebuilds: RebuildJobs


class OpsStatus:
    """Gathers the page's data. `start()` keeps scraping the services every `interval`
    seconds (so the 5-minute figures exist before anyone opens the page); `collect()` also
    scrapes when the last reading is older than `interval`."""

    def __init__(
        self,
        services: Sequence[str],
        sources: OpsSources,
        interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        spool_service: str = "lead-intake",
    ) -> None:
        self.services = list(services)
        self.sources = sources
        self.interval = interval
        self.clock = clock
        self.spool_service = spool_service
        keep = int(WINDOW_SECONDS / max(interval, 0.5)) + 4
        self.rings: dict[str, deque[Scrape]] = {s: deque(maxlen=keep) for s in self.services}
        self._task: asyncio.Task[None] | None = None
        self._notification = Refreshing(self._read_notification, interval, self.clock)
        self._scraping: asyncio.Lock | None = None

    # -- scraping

    async def scrape_all(self) -> None:
        if self._scraping is None:
            self._scraping = asyncio.Lock()
        async with self._scraping:
            await asyncio.gather(*(self._scrape(s) for s in self.services))

    async def _scrape(self, name: str) -> None:
        try:
            reading = await asyncio.wait_for(self.sources.probe.scrape(name), SOURCE_TIMEOUT)
        except Exception as exc:
            reading = Scrape(self.clock(), None, error=f"{type(exc).__name__}: {exc}"[:300])
        ring = self.rings[name]
        previous = ring[-1].started_at if ring else None
        if reading.started_at is not None and previous not in (None, reading.started_at):
            ring.clear()  # restarted: its counters began again at zero
        ring.append(reading)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self._notification.stop()

    async def _loop(self) -> None:
        while True:
            with suppress(Exception):
                await self.scrape_all()
            await asyncio.sleep(self.interval)

    async def _fresh_readings(self) -> None:
        """Without the background loop (not started), the page scrapes for itself."""
        if self._task is not None:
            return  # the loop keeps the rings current; a hung service must not slow the page
        newest = min((r[-1].at if r else 0.0) for r in self.rings.values()) if self.rings else 0
        if self.clock() - newest >= self.interval * 0.8:
            await self.scrape_all()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- sections

    def service_rows(self) -> list[dict[str, Any]]:
        now = self.clock()
        rows = []
        for name in self.services:
            ring = self.rings[name]
            last = ring[-1] if ring else None
            row: dict[str, Any] = {
                "name": name,
                "up": bool(last and last.ready is not None),
                "ready": bool(last and last.ready),
                "checks": last.checks if last else {},
                "version": last.version if last else None,
                "uptime_seconds": (
                    round(now - last.started_at) if last and last.started_at else None
                ),
                "error": last.error if last else "not scraped yet",
            }
            row |= window_figures([r for r in ring if r.ready is not None])
            rows.append(row)
        return rows

    def spool(self) -> dict[str, Any]:
        ring = self.rings.get(self.spool_service)
        last = ring[-1] if ring else None
        depth = last.gauges.get("crm_intake_spool_depth") if last else None
        if last is None or last.ready is None or depth is None:
            return {"depth": None, "error": (last.error if last else None) or "no reading"}
        return {"depth": int(depth)}

    async def jetstream(self) -> dict[str, Any]:
        streams = await self.sources.jetstream.streams()
        now = self._now()
        consumers = [c for s in streams for c in s.consumers]
        ages = await asyncio.gather(
            *(self._oldest_age(c, now) for c in consumers), return_exceptions=True
        )
        return {
            "streams": [
                {
                    "name": s.name,
                    "messages": s.messages,
                    "bytes": s.bytes,
                    "first_seq": s.first_seq,
                    "last_seq": s.last_seq,
                    "first_at": _iso(s.first_at),
                    "last_at": _iso(s.last_at),
                    "consumers": len(s.consumers),
                }
                for s in streams
            ],
            "consumers": [
                {
                    "stream": c.stream,
                    "name": c.name,
                    "pending": c.pending,
                    "ack_pending": c.ack_pending,
                    "redelivered": c.redelivered,
                    "oldest_unprocessed_age_seconds": (
                        None if isinstance(age, BaseException) else age
                    ),
                    "last_active": _iso(c.last_active),
                }
                for c, age in zip(consumers, ages, strict=True)
            ],
        }

    async def _oldest_age(self, consumer: ConsumerState, now: datetime) -> float:
        """0 when the consumer is caught up; else how long its oldest unacknowledged (or not
        yet delivered) message has been in the stream."""
        if consumer.pending + consumer.ack_pending == 0:
            return 0.0
        at = await self.sources.messages.first_time_after(
            consumer.stream, consumer.ack_floor, consumer.filter_subjects
        )
        return round(max(0.0, (now - at).total_seconds()), 1) if at else 0.0

    async def dlq(self) -> dict[str, Any]:
        count, newest = await asyncio.gather(
            self.sources.dead_letters.count(), self.sources.dead_letters.newest(DLQ_NEWEST)
        )
        return {"count": count, "entries": [e.summary() for e in newest]}

    async def projection(self) -> dict[str, Any]:
        newest = await self.sources.projection.newest_event_at()
        if newest is None:
            return {"newest_event_at": None, "lag_seconds": None}
        lag = (self._now() - newest).total_seconds()
        return {"newest_event_at": newest.isoformat(), "lag_seconds": round(max(0.0, lag), 1)}

    async def notification(self) -> dict[str, Any]:
        """Read in the background, at most every `interval`: the page shows the last answer
        at once instead of waiting for another service (say, a stopped one) each time."""
        return await self._notification.get()

    async def _read_notification(self) -> dict[str, Any]:
        now = self._now()
        counts, due = await asyncio.gather(
            _guarded("deliveries", self.sources.deliveries.counts(now - timedelta(hours=24))),
            _guarded(
                "reminders", self.sources.reminders.due_between(now, now + timedelta(hours=1))
            ),
        )
        section: dict[str, Any] = {}
        if isinstance(counts, DeliveryCounts):
            section |= {
                "sent_24h": counts.sent,
                "failed_24h": counts.failed,
                "skipped_24h": counts.skipped,
                "capped": counts.capped,
            }
        else:
            section |= {"sent_24h": None, "failed_24h": None, "skipped_24h": None}
            section["deliveries_error"] = counts.get("error")
        if isinstance(due, int):
            section["reminders_next_hour"] = due
        else:
            section["reminders_next_hour"] = None
            section["reminders_error"] = due.get("error")
        return section

    async def rebuild(self, streams: list[dict[str, Any]] | None) -> dict[str, Any] | None:
        job = await self.sources.rebuilds.latest()
        if job is None:
            return None
        total = next((s["last_seq"] for s in streams or [] if s["name"] == "CRM"), None)
        done = int(job.get("last_sequence") or 0)
        running = job.get("finished_at") is None
        progress = None
        if job.get("state") == "done":
            progress = 1.0
        elif total:
            progress = min(1.0, done / total)
        eta = None
        if running and progress and 0 < progress < 1:
            started = datetime.fromisoformat(job["started_at"])
            elapsed = (self._now() - started).total_seconds()
            eta = round(elapsed * (1 - progress) / progress, 1)
        return job | {"total": total, "progress": progress, "eta_seconds": eta}

    async def collect(self) -> dict[str, Any]:
        """Everything the page shows, each section on its own (an unreachable source is the
        `error` of its section)."""
        _, jetstream, dlq, projection, notification = await asyncio.gather(
            self._fresh_readings(),
            _guarded("jetstream", self.jetstream()),
            _guarded("dlq", self.dlq()),
            _guarded("projection", self.projection()),
            self.notification(),
        )
        streams = jetstream.get("streams") if "streams" in jetstream else None
        rebuild = await _guarded("rebuild", self.rebuild(streams))
        return {
            "generated_at": self._now().isoformat(),
            "services": self.service_rows(),
            "jetstream": jetstream,
            "dlq": dlq,
            "projection": projection,
            "spool": self.spool(),
            "notification": notification,
            "rebuild": rebuild,
        }


# ---------------------------------------------------------------------------- DLQ actions


def replay_headers(entry: DeadLetter) -> dict[str, str]:
    """The original headers, without the DLQ's own, and a new `Nats-Msg-Id`: JetStream would
    drop a repeat of an id inside its duplicate window. The id is fixed per DLQ entry, so a
    replay retried after a failed delete is still dropped as a duplicate."""
    headers = {
        k: v
        for k, v in entry.headers.items()
        if not k.startswith("Crm-Dlq-") and k.lower() != "nats-msg-id"
    }
    original = entry.event_id or entry.headers.get("Nats-Msg-Id") or "dlq"
    headers["Nats-Msg-Id"] = f"{original}:replay:{entry.seq}"
    return headers


class DeadLetterActions:
    """Inspect and replay parked messages; every action is logged with who did it."""

    def __init__(self, queue: DeadLetterQueue, event_prefix: str = "crm.") -> None:
        self.queue = queue
        self.event_prefix = event_prefix

    async def inspect(self, seq: int, who: str) -> dict[str, Any]:
        entry = await self.queue.get(seq)
        if entry is None:
            raise NotFound("no such dead letter", "seq")
        log.info(
            "ops: dead letter %s inspected by %s", seq, who, extra={"dlq_seq": seq, "operator": who}
        )
        return entry.summary() | {
            "headers": entry.headers,
            "payload": entry.data.decode("utf-8", "replace")[:100_000],
        }

    async def _replay(self, entry: DeadLetter, who: str) -> None:
        if not entry.subject.startswith(self.event_prefix):
            raise Invalid(f"not an event subject: {entry.subject}", "subject")
        await self.queue.republish(entry.subject, entry.data, replay_headers(entry))
        await self.queue.delete(entry.seq)
        log.info(
            "ops: dead letter %s replayed to %s by %s",
            entry.seq,
            entry.subject,
            who,
            extra={
                "dlq_seq": entry.seq,
                "subject": entry.subject,
                "operator": who,
                "dlq_consumer": entry.consumer,
            },
        )

    async def replay(self, seq: int, who: str) -> dict[str, Any]:
        entry = await self.queue.get(seq)
        if entry is None:
            raise NotFound("no such dead letter", "seq")
        await self._replay(entry, who)
        return {"replayed": [entry.seq], "subject": entry.subject}

    async def replay_subject(self, subject: str, who: str) -> dict[str, Any]:
        if not subject.startswith(self.event_prefix) or any(c in subject for c in "*> "):
            raise Invalid("one event subject, e.g. crm.leads.received", "subject")
        entries = await self.queue.of_subject(subject, REPLAY_ALL_LIMIT)
        for entry in entries:
            await self._replay(entry, who)
        log.info(
            "ops: %s dead letters of %s replayed by %s",
            len(entries),
            subject,
            who,
            extra={"subject": subject, "operator": who, "count": len(entries)},
        )
        return {"replayed": [e.seq for e in entries], "subject": subject}
