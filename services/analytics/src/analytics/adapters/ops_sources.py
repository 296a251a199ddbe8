"""Readers behind the ops page's ports (application/ops_status.py): the services' `/readyz`,
`/metrics` and `/openapi.json` and the notification delivery log over HTTP, nats-server's
monitoring endpoint (`/jsz`) over HTTP, the DLQ and the reminder schedules over JetStream,
and the projection's newest event from ClickHouse."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from nats.errors import Error as NatsError
from nats.js.api import RawStreamMsg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client.parser import text_string_to_metric_families

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.ops_status import (
    ConsumerState,
    DeadLetter,
    DeliveryCounts,
    Scrape,
    StreamState,
)
from crm_contracts import subjects
from crm_contracts.runtime.errors import Unavailable
from crm_contracts.streams import CRM, CRM_DLQ, CRM_REMINDERS, REMINDERS_PREFIX

OPS_ROUTES = frozenset({"/metrics", "/readyz", "/healthz"})  # the page's own reads
PAGE_GAUGES = ("crm_intake_spool_depth",)
HTTP_TIMEOUT = 3.0


# ---------------------------------------------------------------------------- /metrics


def parse_metrics(
    text: str, gauges: Sequence[str] = PAGE_GAUGES
) -> tuple[dict[str, float], tuple[tuple[float, float], ...], dict[str, float], float | None]:
    """Requests by status class, the latency histogram's cumulative buckets (every route
    summed, the ops routes left out so the page does not measure itself), the wanted gauges
    and the process start time."""
    requests: dict[str, float] = {}
    buckets: dict[float, float] = {}
    found: dict[str, float] = {}
    started: float | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "crm_http_requests_total":
                if labels.get("route") in OPS_ROUTES:
                    continue
                status = labels.get("status", "")
                kind = f"{status[:1]}xx" if status[:1].isdigit() else "other"
                requests[kind] = requests.get(kind, 0.0) + sample.value
            elif sample.name == "crm_http_request_seconds_bucket":
                if labels.get("route") in OPS_ROUTES:
                    continue
                le = float(labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
            elif sample.name == "process_start_time_seconds":
                started = sample.value
            elif sample.name in gauges and not labels:
                found[sample.name] = sample.value
    ordered = tuple(sorted(buckets.items(), key=lambda b: (math.isinf(b[0]), b[0])))
    return requests, ordered, found, started


class HttpServiceProbe:
    """`services`: name → base URL. The version is the one in each service's OpenAPI
    document, read again only when the process restarted."""

    def __init__(self, client: httpx.AsyncClient, services: dict[str, str]) -> None:
        self.client = client
        self.services = services
        self._versions: dict[str, tuple[float | None, str | None]] = {}

    async def scrape(self, name: str) -> Scrape:
        base = self.services[name].rstrip("/")
        at = time.time()
        try:
            ready_r, metrics_r = await asyncio.gather(
                self.client.get(f"{base}/readyz", timeout=HTTP_TIMEOUT),
                self.client.get(f"{base}/metrics", timeout=HTTP_TIMEOUT),
            )
        except httpx.HTTPError as exc:
            return Scrape(at, None, error=f"unreachable: {type(exc).__name__}")
        try:
            body = ready_r.json()
        except ValueError:
            body = {}
        checks = body.get("checks", {}) if isinstance(body, dict) else {}
        requests, buckets, gauges, started = parse_metrics(metrics_r.text)
        return Scrape(
            at,
            ready_r.status_code == 200,
            checks=checks,
            version=await self._version(name, base, started),
            started_at=started,
            requests=requests,
            buckets=buckets,
            gauges=gauges,
            error=None if ready_r.status_code == 200 else f"/readyz {ready_r.status_code}",
        )

    async def _version(self, name: str, base: str, started: float | None) -> str | None:
        known = self._versions.get(name)
        if known is not None and known[0] == started and known[1] is not None:
            return known[1]
        version = None
        try:
            response = await self.client.get(f"{base}/openapi.json", timeout=HTTP_TIMEOUT)
            version = response.json().get("info", {}).get("version")
        except (httpx.HTTPError, ValueError, AttributeError):
            pass
        self._versions[name] = (started, version)
        return version


# ---------------------------------------------------------------------------- NATS /jsz


def monitor_time(value: str | None) -> datetime | None:
    """nats-server's RFC 3339 with nanoseconds; its zero time means "none"."""
    if not value or value.startswith("0001-"):
        return None
    head, _, rest = value.partition(".")
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_jsz(body: dict[str, Any]) -> list[StreamState]:
    streams = []
    for account in body.get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            state = detail.get("state") or {}
            consumers = []
            for c in detail.get("consumer_detail") or []:
                config = c.get("config") or {}
                if not config.get("durable_name"):
                    continue  # ephemeral: a rebuild's replay, a KV watcher
                filters = config.get("filter_subjects") or (
                    [config["filter_subject"]] if config.get("filter_subject") else []
                )
                consumers.append(
                    ConsumerState(
                        stream=detail["name"],
                        name=c.get("name", ""),
                        filter_subjects=tuple(filters),
                        pending=int(c.get("num_pending", 0)),
                        ack_pending=int(c.get("num_ack_pending", 0)),
                        redelivered=int(c.get("num_redelivered", 0)),
                        ack_floor=int((c.get("ack_floor") or {}).get("stream_seq", 0)),
                        last_active=monitor_time((c.get("delivered") or {}).get("last_active")),
                    )
                )
            streams.append(
                StreamState(
                    name=detail["name"],
                    messages=int(state.get("messages", 0)),
                    bytes=int(state.get("bytes", 0)),
                    first_seq=int(state.get("first_seq", 0)),
                    last_seq=int(state.get("last_seq", 0)),
                    first_at=monitor_time(state.get("first_ts")),
                    last_at=monitor_time(state.get("last_ts")),
                    consumers=tuple(sorted(consumers, key=lambda c: c.name)),
                )
            )
    return sorted(streams, key=lambda s: s.name)


class NatsMonitor:
    """`monitor_url`: nats-server's `-m` address, e.g. http://127.0.0.1:8222."""

    def __init__(self, client: httpx.AsyncClient, monitor_url: str) -> None:
        self.client = client
        self.url = monitor_url.rstrip("/")

    async def streams(self) -> list[StreamState]:
        response = await self.client.get(
            f"{self.url}/jsz",
            params={"streams": "true", "consumers": "true", "config": "true"},
            timeout=HTTP_TIMEOUT,
        )
        response.raise_for_status()
        return parse_jsz(response.json())


# ---------------------------------------------------------------------------- JetStream


def _headers(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (raw.headers or {}).items()}


def _dead_letter(raw: Any) -> DeadLetter:
    subject = str(raw.subject)
    prefix = f"{subjects.DLQ_PREFIX}."
    return DeadLetter(
        seq=int(raw.seq),
        at=raw.time or datetime.now(UTC),
        subject=subject[len(prefix) :] if subject.startswith(prefix) else subject,
        headers=_headers(raw),
        data=raw.data or b"",
    )


class JetStreamOps:
    """The DLQ, the reminder schedules and message times, over a JetStream connection
    (`jetstream` gives the current context: the service's broker may reconnect)."""

    def __init__(self, jetstream: Callable[[], JetStreamContext], reminders_ttl: float = 15.0):
        self._context = jetstream
        self.reminders_ttl = reminders_ttl
        self._reminders: tuple[float, list[datetime]] | None = None

    def jetstream(self) -> JetStreamContext:
        try:
            return self._context()
        except Exception as exc:  # the broker has not connected yet
            raise Unavailable("not connected to NATS yet") from exc

    async def _forward(
        self, stream: str, start: int, subject: str, limit: int, until: int | None = None
    ) -> list[RawStreamMsg]:
        """Messages on `subject` from sequence `start` on, in order, at most `limit`."""
        js, seq = self.jetstream(), max(start, 1)
        found: list[RawStreamMsg] = []
        while len(found) < limit:
            try:
                raw = await js.get_msg(stream, seq, subject=subject, next=True)
            except NotFoundError:
                break
            at = int(raw.seq or 0)
            if until is not None and at > until:
                break
            found.append(raw)
            seq = at + 1
        return found

    # StreamMessages

    async def first_time_after(
        self, stream: str, after_seq: int, subjects_: Sequence[str]
    ) -> datetime | None:
        times = []
        for subject in subjects_ or (">",):
            found = await self._forward(stream, after_seq + 1, subject, 1)
            if found and found[0].time:
                times.append(found[0].time)
        return min(times) if times else None

    # DeadLetterQueue

    async def count(self) -> int:
        return int((await self.jetstream().stream_info(CRM_DLQ)).state.messages)

    async def newest(self, limit: int) -> list[DeadLetter]:
        """Read forward from a little before the end, further back while too few came
        (replayed entries leave gaps)."""
        state = (await self.jetstream().stream_info(CRM_DLQ)).state
        if not state.messages:
            return []
        span = 2 * limit
        while True:
            start = max(state.first_seq, state.last_seq - span + 1)
            found = await self._forward(
                CRM_DLQ, start, f"{subjects.DLQ_PREFIX}.>", 10 * limit + span, state.last_seq
            )
            if len(found) >= limit or start <= state.first_seq:
                return [_dead_letter(m) for m in reversed(found[-limit:])]
            span *= 4

    async def get(self, seq: int) -> DeadLetter | None:
        try:
            raw = await self.jetstream().get_msg(CRM_DLQ, seq)
        except NotFoundError:
            return None
        return _dead_letter(raw)

    async def of_subject(self, subject: str, limit: int) -> list[DeadLetter]:
        found = await self._forward(CRM_DLQ, 1, f"{subjects.DLQ_PREFIX}.{subject}", limit)
        return [_dead_letter(m) for m in found]

    async def republish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        try:
            await self.jetstream().publish(subject, data, stream=CRM, headers=headers, timeout=5)
        except (NatsError, TimeoutError) as exc:
            raise Unavailable(f"JetStream did not take the message: {exc!r}") from exc

    async def delete(self, seq: int) -> None:
        try:
            await self.jetstream().delete_msg(CRM_DLQ, seq)
        except (NatsError, TimeoutError) as exc:
            # Republished already: a later replay of this entry reuses its message id, which
            # JetStream drops as a duplicate within its window.
            raise Unavailable(f"replayed, but not removed from the DLQ: {exc!r}") from exc

    # ReminderSchedules

    async def due_between(self, start: datetime, end: datetime) -> int:
        """One-off schedules (`@at <time>`, the notification service's reminders) firing in
        [start, end); repeating ones (digests' cron) are not counted. Read at most every
        `reminders_ttl` seconds: it walks every schedule."""
        cached = self._reminders
        if cached is None or time.monotonic() - cached[0] > self.reminders_ttl:
            latest: dict[str, datetime] = {}
            for raw in await self._forward(
                CRM_REMINDERS, 1, f"{REMINDERS_PREFIX}.schedule.>", 100_000
            ):
                when = _headers(raw).get("Nats-Schedule", "")
                if when.startswith("@at "):
                    latest[str(raw.subject)] = monitor_time(when[4:].strip()) or start
                else:
                    latest.pop(str(raw.subject), None)
            cached = (time.monotonic(), list(latest.values()))
            self._reminders = cached
        return sum(1 for at in cached[1] if start <= at < end)


# ---------------------------------------------------------------------------- notification


class NotificationDeliveries:
    """`GET /v1/deliveries?status=&since=&limit=` of the notification service: records whose
    last change (`updated_at`) is within the period, counted per final status. The API pages
    at 1000: a count of 1000 is "at least" (`capped`)."""

    PAGE = 1000

    def __init__(self, client: httpx.AsyncClient, base_url: str, api_key: str) -> None:
        self.client = client
        self.url = base_url.rstrip("/")
        self.api_key = api_key

    async def _count(self, status: str, since: datetime) -> int:
        response = await self.client.get(
            f"{self.url}/v1/deliveries",
            params={"status": status, "since": since.isoformat(), "limit": self.PAGE},
            headers={"X-API-Key": self.api_key},
            timeout=HTTP_TIMEOUT,
        )
        response.raise_for_status()
        return int(response.json()["count"])

    async def counts(self, since: datetime) -> DeliveryCounts:
        sent, failed, skipped = await asyncio.gather(
            *(self._count(s, since) for s in ("sent", "failed", "skipped"))
        )
        capped = max(sent, failed, skipped) >= self.PAGE
        return DeliveryCounts(sent, failed, skipped, capped)


# ---------------------------------------------------------------------------- projection


NEWEST_EVENT = "SELECT count() AS n, max(occurred_at) AS newest FROM {db}.events"


def _newest(rows: list[dict[str, Any]]) -> datetime | None:
    if not rows or not rows[0].get("n"):
        return None
    value = rows[0]["newest"]
    moment = (
        datetime.fromisoformat(value.replace(" ", "T").replace("Z", "+00:00"))
        if isinstance(value, str)
        else value
    )
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ClickHouseProjectionClock:
    """In the analytics process: its own ClickHouse."""

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    async def newest_event_at(self) -> datetime | None:
        return _newest(await asyncio.to_thread(self.ch.rows, NEWEST_EVENT))


# ---------------------------------------------------------------------------- rebuild


class InProcessRebuilds:
    """The newest job of this process's `Rebuilder` (application/rebuild.py)."""

    def __init__(self, jobs: Callable[[], dict[str, Any]]) -> None:
        self.jobs = jobs  # job id → RebuildJob, oldest first

    async def latest(self) -> dict[str, Any] | None:
        jobs = list(self.jobs().values())
        return jobs[-1].view() if jobs else None
