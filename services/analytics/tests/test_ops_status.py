"""The ops page's data (application/ops_status.py) over in-memory fakes of its ports, its
parsers (adapters/ops_sources.py), its router, and the JetStream and ClickHouse readers
against a real nats-server and the in-process engine."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from analytics.adapters.ops_sources import (
    ClickHouseProjectionClock,
    InProcessRebuilds,
    JetStreamOps,
    monitor_time,
    parse_jsz,
    parse_metrics,
)
from analytics.api.dashboard.assets import load_assets
from analytics.api.dashboard.routes import build_dashboard_router
from analytics.api.ops import ops_router
from analytics.application.ops_status import (
    ConsumerState,
    DeadLetter,
    DeadLetterActions,
    DeliveryCounts,
    OpsSources,
    OpsStatus,
    Scrape,
    StreamState,
    quantile,
    replay_headers,
    window_figures,
)
from analytics.application.rebuild import RebuildJob
from crm_contracts.runtime.errors import Invalid, NotFound, Unavailable
from crm_contracts.runtime.http_errors import install_error_handlers
from crm_contracts.streams import stream_configs

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
BUCKETS = ((0.1, 0.0), (0.5, 0.0), (1.0, 0.0), (float("inf"), 0.0))


def scrape(at: float, ok2: float, e4: float, e5: float, buckets=BUCKETS, **kw: Any) -> Scrape:
    return Scrape(
        at, True, requests={"2xx": ok2, "4xx": e4, "5xx": e5}, buckets=buckets,
        started_at=kw.pop("started_at", 1000.0), **kw,
    )  # fmt: skip


# ---------------------------------------------------------------------------- windows


def test_rates_and_errors_are_the_difference_over_the_window():
    base = NOW.timestamp()
    ring = [
        scrape(base - 400, 0, 0, 0),  # older than 5 minutes: not used
        scrape(base - 290, 100, 10, 1, ((0.1, 50), (0.5, 100), (1.0, 111), (float("inf"), 111))),
        scrape(base, 400, 30, 6, ((0.1, 50), (0.5, 300), (1.0, 436), (float("inf"), 436))),
    ]
    figures = window_figures(ring)
    assert figures["window_seconds"] == 290
    assert figures["requests"] == 325
    assert figures["request_rate"] == pytest.approx(325 / 290, abs=1e-3)
    assert (figures["errors_4xx"], figures["errors_5xx"]) == (20, 5)
    # 325 in the window: 0 under 0.1 s, 200 in (0.1, 0.5], 125 in (0.5, 1]; p95 rank 308.75
    assert figures["p95_ms"] == pytest.approx((0.5 + 0.5 * (308.75 - 200) / 125) * 1000, abs=0.1)


def test_one_reading_has_no_window_yet():
    assert window_figures([scrape(1.0, 5, 0, 0)])["request_rate"] is None


def test_quantile_like_prometheus():
    assert quantile(0.5, [(1.0, 10), (2.0, 20), (float("inf"), 20)]) == pytest.approx(1.0)
    assert quantile(0.95, [(1.0, 0), (float("inf"), 10)]) == 1.0  # in +Inf: its lower bound
    assert quantile(0.95, [(1.0, 0), (float("inf"), 0)]) is None


# ---------------------------------------------------------------------------- parsers


def test_metrics_text_is_read_without_the_pages_own_scrapes():
    registry = CollectorRegistry()
    requests = Counter("crm_http_requests", "", ["method", "route", "status"], registry=registry)
    seconds = Histogram("crm_http_request_seconds", "", ["method", "route"], registry=registry)
    spool = Gauge("crm_intake_spool_depth", "", registry=registry)
    requests.labels("POST", "/v1/leads", "202").inc(7)
    requests.labels("POST", "/v1/leads", "422").inc(2)
    requests.labels("GET", "/v1/x", "503").inc(1)
    requests.labels("GET", "/metrics", "200").inc(50)
    seconds.labels("POST", "/v1/leads").observe(0.02)
    seconds.labels("GET", "/metrics").observe(0.02)
    spool.set(3)
    text = generate_latest(registry).decode() + "process_start_time_seconds 1.7e9\n"
    by_class, buckets, gauges, started = parse_metrics(text)
    assert by_class == {"2xx": 7, "4xx": 2, "5xx": 1}
    assert dict(buckets)[float("inf")] == 1  # the /metrics observation is left out
    assert gauges == {"crm_intake_spool_depth": 3}
    assert started == 1.7e9


JSZ = {
    "account_details": [
        {
            "stream_detail": [
                {
                    "name": "CRM",
                    "state": {
                        "messages": 3, "bytes": 261, "first_seq": 1, "last_seq": 3,
                        "first_ts": "2026-11-30T05:34:43.761048976Z",
                        "last_ts": "2026-11-30T05:34:44.5Z",
                    },
                    "consumer_detail": [
                        {
                            "name": "analytics_projection",
                            "config": {
                                "durable_name": "analytics_projection",
                                "filter_subject": "crm.>",
                            },
                            "delivered": {"last_active": "2026-11-30T05:34:43.767313788Z"},
                            "ack_floor": {"stream_seq": 1},
                            "num_ack_pending": 1, "num_redelivered": 2, "num_pending": 1,
                        },
                        {"name": "Ke3vZNfy", "config": {"filter_subject": "crm.>"}},  # ephemeral
                    ],
                },
                {"name": "CRM_DLQ", "state": {"messages": 0, "first_ts": "0001-01-01T00:00:00Z"}},
            ]
        }
    ]
}  # fmt: skip


def test_jsz_gives_streams_and_their_consumers():
    crm, dlq = parse_jsz(JSZ)
    assert (crm.name, crm.messages, crm.bytes, crm.last_seq) == ("CRM", 3, 261, 3)
    assert crm.first_at == datetime(2026, 11, 30, 5, 34, 43, 761048, tzinfo=UTC)
    (consumer,) = crm.consumers
    assert consumer.filter_subjects == ("crm.>",)
    assert (consumer.pending, consumer.ack_pending, consumer.redelivered) == (1, 1, 2)
    assert consumer.ack_floor == 1
    assert dlq.first_at is None and dlq.consumers == ()
    assert monitor_time("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------- fakes


class FakeProbe:
    def __init__(self) -> None:
        self.calls = 0
        self.down: set[str] = set()

    async def scrape(self, name: str) -> Scrape:
        self.calls += 1
        if name in self.down:
            raise ConnectionError("refused")
        gauges = {"crm_intake_spool_depth": 2.0} if name == "lead-intake" else {}
        n = float(self.calls)
        return Scrape(NOW.timestamp(), True, {"nats": True}, "0.1.0",
                      NOW.timestamp() - 3600, {"2xx": n}, (), gauges)  # fmt: skip


class FakeJetStream:
    async def streams(self) -> list[StreamState]:
        lagging = ConsumerState("CRM", "notification_events", ("crm.>",), 4, 1, 0, 10)
        idle = ConsumerState("CRM", "analytics_projection", ("crm.>",), 0, 0, 0, 15)
        return [StreamState("CRM", 15, 4000, 1, 15, NOW - timedelta(days=1), NOW, (idle, lagging))]


class FakeMessages:
    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def first_time_after(self, stream: str, after_seq: int, subjects) -> datetime | None:
        self.asked.append((stream, after_seq))
        return NOW - timedelta(seconds=42)


def letter(seq: int, subject: str = "crm.leads.received", event_id: str = "e1") -> DeadLetter:
    headers = {
        "Nats-Msg-Id": f"analytics_projection:{seq}",
        "Crm-Event-Type": "LeadReceived",
        "Crm-Correlation-Id": "c1",
        "Crm-Dlq-Consumer": "analytics_projection",
        "Crm-Dlq-Reason": "boom",
        "Crm-Dlq-Deliveries": "12",
    }
    body = json.dumps({"event_id": event_id, "event_type": "LeadReceived"}).encode()
    return DeadLetter(seq, NOW, subject, headers, body)


class FakeQueue:
    def __init__(self, *entries: DeadLetter) -> None:
        self.entries = {e.seq: e for e in entries}
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    async def count(self) -> int:
        return len(self.entries)

    async def newest(self, limit: int) -> list[DeadLetter]:
        return sorted(self.entries.values(), key=lambda e: -e.seq)[:limit]

    async def get(self, seq: int) -> DeadLetter | None:
        return self.entries.get(seq)

    async def of_subject(self, subject: str, limit: int) -> list[DeadLetter]:
        return [e for e in sorted(self.entries.values(), key=lambda e: e.seq)
                if e.subject == subject][:limit]  # fmt: skip

    async def republish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        self.published.append((subject, data, headers))

    async def delete(self, seq: int) -> None:
        del self.entries[seq]


class FakeDeliveries:
    async def counts(self, since: datetime) -> DeliveryCounts:
        assert NOW - since == timedelta(hours=24)
        return DeliveryCounts(5, 1, 2)


class FakeReminders:
    async def due_between(self, start: datetime, end: datetime) -> int:
        assert end - start == timedelta(hours=1)
        return 3


class Broken:
    async def newest_event_at(self) -> datetime | None:
        raise ConnectionError("clickhouse away")


class FakeClock:
    async def newest_event_at(self) -> datetime | None:
        return NOW - timedelta(seconds=1.5)


class FakeRebuilds:
    def __init__(self, job: dict[str, Any] | None) -> None:
        self.job = job

    async def latest(self) -> dict[str, Any] | None:
        return self.job


def sources(**overrides: Any) -> OpsSources:
    parts: dict[str, Any] = {
        "probe": FakeProbe(),
        "jetstream": FakeJetStream(),
        "messages": FakeMessages(),
        "dead_letters": FakeQueue(letter(7), letter(9, "crm.deals.won", "e2")),
        "deliveries": FakeDeliveries(),
        "reminders": FakeReminders(),
        "projection": FakeClock(),
        "rebuilds": FakeRebuilds(None),
    }
    return OpsSources(**(parts | overrides))


def status_of(**overrides: Any) -> OpsStatus:
    names = ["lead-intake", "deal-pipeline", "notification", "analytics"]
    return OpsStatus(names, sources(**overrides), interval=5, clock=NOW.timestamp)


# ---------------------------------------------------------------------------- the page


async def test_every_section_is_filled_from_its_port():
    messages = FakeMessages()
    page = await status_of(messages=messages).collect()
    services = {s["name"]: s for s in page["services"]}
    assert set(services) == {"lead-intake", "deal-pipeline", "notification", "analytics"}
    intake = services["lead-intake"]
    assert intake["up"] and intake["ready"] and intake["version"] == "0.1.0"
    assert intake["uptime_seconds"] == 3600
    assert page["spool"] == {"depth": 2}
    consumers = {c["name"]: c for c in page["jetstream"]["consumers"]}
    assert consumers["notification_events"]["pending"] == 4
    assert consumers["notification_events"]["oldest_unprocessed_age_seconds"] == 42
    assert consumers["analytics_projection"]["oldest_unprocessed_age_seconds"] == 0
    assert messages.asked == [("CRM", 10)]  # only the lagging one, from its ack floor
    assert page["jetstream"]["streams"][0]["messages"] == 15
    assert page["dlq"]["count"] == 2
    assert [e["seq"] for e in page["dlq"]["entries"]] == [9, 7]
    assert page["dlq"]["entries"][0]["reason"] == "boom"
    assert page["projection"]["lag_seconds"] == 1.5
    assert page["notification"] == {
        "sent_24h": 5, "failed_24h": 1, "skipped_24h": 2, "capped": False,
        "reminders_next_hour": 3,
    }  # fmt: skip
    assert page["rebuild"] is None


async def test_readings_every_few_seconds_give_the_window_figures():
    readings = iter([scrape(NOW.timestamp() - 5, 10, 0, 0), scrape(NOW.timestamp(), 60, 2, 1)])

    async def probe(name: str) -> Scrape:
        return next(readings)

    status = OpsStatus(["analytics"], sources(), interval=5, clock=NOW.timestamp)
    status.sources.probe.scrape = probe  # type: ignore[method-assign]  # a probe that fails once
    await status.scrape_all()
    await status.scrape_all()
    (row,) = status.service_rows()
    assert (row["window_seconds"], row["request_rate"]) == (5, 10.6)
    assert (row["errors_4xx"], row["errors_5xx"]) == (2, 1)


async def test_a_restarted_service_starts_a_new_window():
    status = status_of()
    ring = status.rings["analytics"]
    ring.append(scrape(NOW.timestamp() - 10, 100, 0, 0, started_at=1.0))

    async def restarted(name: str) -> Scrape:
        return scrape(NOW.timestamp(), 3, 0, 0, started_at=2.0)

    status.sources.probe.scrape = restarted  # type: ignore[method-assign]  # a restart
    await status.scrape_all()
    assert len(ring) == 1  # no negative rate across the restart


async def test_a_failing_source_shows_in_its_own_section_only():
    probe = FakeProbe()
    probe.down.add("notification")
    page = await status_of(projection=Broken(), probe=probe).collect()
    assert "clickhouse away" in page["projection"]["error"]
    services = {s["name"]: s for s in page["services"]}
    assert not services["notification"]["up"] and "refused" in services["notification"]["error"]
    assert services["analytics"]["up"]
    assert page["dlq"]["count"] == 2 and "error" not in page["jetstream"]


async def test_a_rebuild_shows_progress_of_the_stream_and_time_left():
    started = NOW - timedelta(seconds=30)
    job = {"job_id": "j1", "state": "replaying", "events_replayed": 5, "last_sequence": 5,
           "started_at": started.isoformat(), "finished_at": None, "error": None}  # fmt: skip
    page = await status_of(rebuilds=FakeRebuilds(job)).collect()
    rebuild = page["rebuild"]
    assert rebuild["total"] == 15 and rebuild["progress"] == pytest.approx(5 / 15)
    assert rebuild["eta_seconds"] == pytest.approx(60)  # 30 s for a third: 60 s to go


# ---------------------------------------------------------------------------- DLQ actions


async def test_replay_republishes_with_a_new_id_then_removes_the_entry(caplog):
    queue = FakeQueue(letter(7))
    caplog.set_level(logging.INFO)
    result = await DeadLetterActions(queue).replay(7, "olga")
    assert result == {"replayed": [7], "subject": "crm.leads.received"}
    ((subject, data, headers),) = queue.published
    assert subject == "crm.leads.received" and json.loads(data)["event_id"] == "e1"
    assert headers == {
        "Nats-Msg-Id": "e1:replay:7", "Crm-Event-Type": "LeadReceived", "Crm-Correlation-Id": "c1"
    }  # fmt: skip
    assert queue.entries == {}
    assert any("olga" in r.getMessage() and "replayed" in r.getMessage() for r in caplog.records)


async def test_replay_all_takes_only_that_subject():
    queue = FakeQueue(letter(1), letter(2, "crm.deals.won"), letter(3, event_id="e3"))
    result = await DeadLetterActions(queue).replay_subject("crm.leads.received", "olga")
    assert result["replayed"] == [1, 3]
    assert [h["Nats-Msg-Id"] for _, _, h in queue.published] == ["e1:replay:1", "e3:replay:3"]
    assert list(queue.entries) == [2]


async def test_refusals_of_the_actions(caplog):
    actions = DeadLetterActions(FakeQueue(letter(4, "crmdlq.crm.x")))
    with pytest.raises(NotFound):
        await actions.replay(99, "olga")
    with pytest.raises(Invalid):
        await actions.replay(4, "olga")  # never back onto the DLQ or outside crm.>
    with pytest.raises(Invalid):
        await actions.replay_subject("crm.>", "olga")
    caplog.set_level(logging.INFO)
    inspected = await DeadLetterActions(FakeQueue(letter(5))).inspect(5, "olga")
    assert inspected["headers"]["Crm-Dlq-Reason"] == "boom" and '"e1"' in inspected["payload"]
    assert any("inspected by olga" in r.getMessage() for r in caplog.records)


def test_a_message_without_an_event_id_keeps_its_dlq_id_as_the_base():
    entry = DeadLetter(3, NOW, "crm.x", {"Nats-Msg-Id": "c:9"}, b"not json")
    assert replay_headers(entry)["Nats-Msg-Id"] == "c:9:replay:3"


# ---------------------------------------------------------------------------- the router


class Who:
    def __init__(self, user: str, role: str) -> None:
        self.user, self.role, self.via = user, role, "session"


def router_app(role: str | None) -> tuple[TestClient, FakeQueue]:
    queue = FakeQueue(letter(7))

    def browser(request: Request) -> Who:
        if role is None:
            raise PermissionError
        return Who("olga", role)

    def operator(request: Request) -> Who:
        from crm_contracts.runtime.errors import Refused

        if role != "operator":
            raise Refused("operator needed", status=403, error="forbidden")
        return Who("olga", role)

    app = FastAPI()
    install_error_handlers(app)
    actions = DeadLetterActions(queue)
    app.include_router(ops_router(status_of(dead_letters=queue), actions, browser, operator))
    return TestClient(app), queue


def test_the_page_and_its_api_are_for_operators():
    client, queue = router_app("operator")
    page = client.get("/ops")
    assert page.status_code == 200 and 'data-section="dlq"' in page.text and "olga" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'data-refresh-ms="5000"' in page.text  # the status's scrape interval, for ops.js
    assert client.get("/ops/ops.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/ops/nope.js").status_code == 404
    assert client.get("/v1/ops/status").json()["dlq"]["count"] == 1
    assert client.get("/v1/ops/dlq/7").json()["event_id"] == "e1"
    assert client.get("/v1/ops/dlq/8").status_code == 404
    assert client.post("/v1/ops/dlq/7/replay").json()["replayed"] == [7]
    assert queue.entries == {}
    answer = client.post("/v1/ops/dlq/replay", json={"subject": "crm.deals.won"})
    assert answer.json() == {"replayed": [], "subject": "crm.deals.won"}

    viewer, _ = router_app("viewer")
    assert viewer.get("/ops").status_code == 403
    assert viewer.get("/v1/ops/status").status_code == 403
    assert viewer.post("/v1/ops/dlq/7/replay").status_code == 403


def test_the_dashboard_leaves_the_ops_files_to_the_ops_router():
    assets = load_assets()
    assert not [n for n in assets if n.split("/")[-1].startswith("ops.")]
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(build_dashboard_router(assets, {}, lambda: Who("vera", "viewer")))
    client = TestClient(app)
    page = client.get("/").text
    assert 'rel="modulepreload" href="/static/app.js"' in page and "ops." not in page
    assert client.get("/static/ops.js").status_code == 404
    assert client.get("/static/ops.css").status_code == 404
    assert client.get("/static/ops.html").status_code == 404
    ops, _ = router_app("operator")
    assert ops.get("/ops/ops.css").headers["content-type"].startswith("text/css")


# ---------------------------------------------------------------------------- real readers


async def test_jetstream_reader_on_a_real_server(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        for config in stream_configs():
            await js.add_stream(config)
        for i in range(30):
            subject = "crmdlq.crm.leads.received" if i % 3 else "crmdlq.crm.deals.won"
            await js.publish(
                subject, b'{"event_id": "e%d"}' % i, headers={"Crm-Dlq-Reason": str(i)}
            )
        ops = JetStreamOps(lambda: js)
        for seq in range(20, 31):  # replayed ones leave a gap at the end
            await ops.delete(seq)
        newest = await ops.newest(5)
        assert [e.seq for e in newest] == [19, 18, 17, 16, 15]
        assert newest[0].reason == "18" and newest[0].subject == "crm.deals.won"
        assert await ops.count() == 19
        won = await ops.of_subject("crm.deals.won", 100)
        assert [e.seq for e in won] == [1, 4, 7, 10, 13, 16, 19]
        assert await ops.get(25) is None

        await ops.republish("crm.leads.received", b"{}", {"Nats-Msg-Id": "x:replay:1"})
        await js.publish("crm.leads.received", b"{}")
        at = await ops.first_time_after("CRM", 1, ["crm.>"])
        assert at is not None and abs((datetime.now(UTC) - at).total_seconds()) < 30

        soon = datetime.now(UTC) + timedelta(minutes=20)
        for key, when in (("a", soon), ("b", soon + timedelta(hours=3))):
            stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            schedule = {
                "Nats-Schedule": f"@at {stamp}",
                "Nats-Schedule-Target": f"crmrem.due.{key}",
            }
            await js.publish(f"crmrem.schedule.{key}", b"{}", headers=schedule)
        now = datetime.now(UTC)
        assert await ops.due_between(now, now + timedelta(hours=1)) == 1
    finally:
        await nc.close()


async def test_projection_clock_reads_the_newest_event(clickhouse):
    clock = ClickHouseProjectionClock(clickhouse)
    assert await clock.newest_event_at() is None
    occurred = datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    await asyncio.to_thread(
        clickhouse.command,
        "INSERT INTO {db}.events (event_id, event_type, schema_version, occurred_at, "
        "aggregate_id, aggregate_version, correlation_id, producer, payload) VALUES "
        "(generateUUIDv4(), 'LeadReceived', 1, '2026-03-01 10:00:00.123', 'l1', 1, '', 'x', '{}')",
    )
    assert await clock.newest_event_at() == occurred


async def test_the_in_process_rebuilds_give_the_newest_job():
    jobs = {"a": RebuildJob("a", "crm_rebuild_a"), "b": RebuildJob("b", "crm_rebuild_b")}
    assert (await InProcessRebuilds(lambda: jobs).latest())["job_id"] == "b"
    assert await InProcessRebuilds(dict).latest() is None


async def test_without_a_connection_the_actions_are_unavailable():
    def not_connected() -> Any:
        raise AttributeError("no connection")

    with pytest.raises(Unavailable):
        await JetStreamOps(not_connected).get(1)


async def test_a_stopped_service_does_not_slow_the_page():
    class Hung:
        async def scrape(self, name: str) -> Scrape:
            await asyncio.sleep(60)
            raise AssertionError

    class SlowDeliveries:
        calls = 0

        async def counts(self, since: datetime) -> DeliveryCounts:
            self.calls += 1
            if self.calls > 1:
                await asyncio.sleep(60)
            return DeliveryCounts(1, 0, 0)

    now = [NOW.timestamp()]
    deliveries = SlowDeliveries()
    status = OpsStatus(
        ["notification"], sources(probe=Hung(), deliveries=deliveries), 5, lambda: now[0]
    )
    await status.start()
    try:
        assert (await status.collect())["notification"]["sent_24h"] == 1
        now[0] += 10  # stale: a new read starts, and hangs
        page = await asyncio.wait_for(status.collect(), 2)
        assert page["notification"]["sent_24h"] == 1  # the last answer meanwhile
        assert deliveries.calls == 2
        assert page["services"][0]["error"] == "not scraped yet"
    finally:
        await status.stop()
