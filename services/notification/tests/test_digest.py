"""Digests: a repeating JetStream schedule per digest rule, the numbers read from the analytics
reports API (a real HTTP server standing in for it), one e-mail per period to the heads."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import nats
from nats.js.api import RawStreamMsg

from crm_contracts.events import ManagerUpdated
from notification.domain.wording import day
from tests.support.net import wait_until

from .conftest import ANALYTICS_KEY

MOSCOW = ZoneInfo("Europe/Moscow")


async def schedule_of(url: str, rule_id: str) -> RawStreamMsg:
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().get_last_msg(
            "CRM_REMINDERS", f"crmrem.schedule.digest.{rule_id}"
        )
    finally:
        await nc.close()


async def fire(url: str, schedule: RawStreamMsg) -> None:
    """What the server does at 09:00: the schedule's body onto its target subject."""
    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(schedule.headers["Nats-Schedule-Target"], schedule.data)
    finally:
        await nc.close()


def test_daily_digest_reads_reports_and_goes_to_heads_once(
    start_service, publish, gateway, smtp_server, nats_server, deliveries, events_handled
):
    gateway.answer(
        "/v1/reports/dynamics", {"totals": {"won": 3, "revenue": "4500.00"}, "currency": "RUB"}
    )
    gateway.answer("/v1/reports/lead-funnel", {"totals": {"leads": 12}})
    service = start_service(seed_default_rules=True, default_timezone="Europe/Moscow")
    publish(
        ManagerUpdated(
            aggregate_id="h1",
            producer="test",
            manager_id="h1",
            name="Head",
            email="head@shop.test",
            role="head",
        )
    )
    publish(
        ManagerUpdated(
            aggregate_id="m2",
            producer="test",
            manager_id="m2",
            name="Not head",
            email="m2@shop.test",
        )
    )
    daily = asyncio.run(schedule_of(nats_server.url, "daily-digest"))
    weekly = asyncio.run(schedule_of(nats_server.url, "weekly-digest"))
    assert daily.headers["Nats-Schedule"] == "0 0 9 * * *"
    assert weekly.headers["Nats-Schedule"] == "0 0 9 * * 1"
    assert daily.headers["Nats-Schedule-Time-Zone"] == "Europe/Moscow"
    events_handled()  # the directory has the heads

    asyncio.run(fire(nats_server.url, daily))
    asyncio.run(fire(nats_server.url, daily))  # fired twice for one period: one e-mail
    wait_until(lambda: smtp_server.messages, what="the digest")
    time.sleep(1.0)
    [mail] = smtp_server.messages
    today = datetime.now(MOSCOW).date()
    assert mail["To"] == "head@shop.test"
    assert mail["Subject"] == f"CRM daily digest: {day(today - timedelta(days=1), 'en')}"
    body = mail.get_payload(decode=True).decode()
    assert "Leads: 12" in body and "Won deals: 3" in body and "Revenue: ₽4,500" in body
    [dynamics] = gateway.to("/v1/reports/dynamics")
    assert dynamics.query == {
        "from": f"{today - timedelta(days=1)}T00:00:00+03:00",
        "to": f"{today}T00:00:00+03:00",
        "tz": "Europe/Moscow",
        "bucket": "day",
    }
    assert {k.lower(): v for k, v in dynamics.headers.items()}["x-api-key"] == ANALYTICS_KEY
    [funnel] = gateway.to("/v1/reports/lead-funnel")
    assert {k.lower(): v for k, v in funnel.headers.items()}["x-api-key"] == ANALYTICS_KEY
    [log] = deliveries(service, rule_id="daily-digest")
    assert log["status"] == "sent" and log["trigger_event_type"] == "digest.daily"


def test_analytics_down_ends_failed_with_a_reason(start_service, gateway, nats_server, deliveries):
    gateway.fail(20, status=502)
    service = start_service(
        seed_default_rules=True, heads_of_sales=["boss@shop.test"], delivery_attempts=2
    )
    asyncio.run(fire(nats_server.url, asyncio.run(schedule_of(nats_server.url, "weekly-digest"))))
    [log] = wait_until(lambda: deliveries(service, status="failed"), what="a failed digest")
    assert log["rule_id"] == "weekly-digest" and log["recipient"] == "head:boss@shop.test"
    assert "analytics /v1/reports/dynamics: HTTP 502" in log["reason"]
    assert len(gateway.requests) == 2  # tried twice (delivery_attempts), then gave up


def test_a_digest_deferred_by_quiet_hours_reports_the_period_it_was_due_for(
    start_service, put_rule, gateway, smtp_server, nats_server, deliveries
):
    gateway.answer("/v1/reports/dynamics", {"totals": {"won": 1, "revenue": "10"}})
    gateway.answer("/v1/reports/lead-funnel", {"totals": {"leads": 2}})
    service = start_service(heads_of_sales=["boss@shop.test"])
    now = datetime.now(UTC)
    digest = {
        "trigger": {"event_type": "digest"},
        "audience": ["heads"],
        "channel": "email",
        "timing": {"mode": "daily", "at": "09:00", "timezone": "UTC"},
        "template": {"subject": {"en": "Digest {{ period.first }}"}, "body": {"en": "x"}},
    }
    quiet = {
        "start": f"{now - timedelta(hours=1):%H:%M}",
        "end": f"{now + timedelta(hours=2):%H:%M}",
    }
    put_rule(service, "night", digest | {"quiet_hours": quiet})
    asyncio.run(fire(nats_server.url, asyncio.run(schedule_of(nats_server.url, "night"))))
    wait_until(lambda: deliveries(service, status="scheduled"), what="the deferred digest")
    deferred = asyncio.run(deferred_schedule(nats_server.url))
    carried = datetime.fromisoformat(json.loads(deferred.data)["fired_at"])
    assert abs((carried - now).total_seconds()) < 30  # when the schedule fired, not later

    # It comes due after midnight, two days on: still the period it was due for.
    put_rule(service, "night", digest)  # (no quiet hours now, so it goes when it comes)
    body = json.loads(deferred.data) | {"fired_at": (carried - timedelta(days=2)).isoformat()}
    asyncio.run(publish_to(nats_server.url, deferred.headers["Nats-Schedule-Target"], body))
    wait_until(lambda: smtp_server.messages, what="the deferred digest sent")
    assert smtp_server.messages[0]["Subject"] == f"Digest {carried.date() - timedelta(days=3)}"


async def deferred_schedule(url: str) -> RawStreamMsg:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("CRM_REMINDERS", subjects_filter="crmrem.schedule.*.*.q.*")
        [subject] = list(info.state.subjects or {})
        return await js.get_last_msg("CRM_REMINDERS", subject)
    finally:
        await nc.close()


async def publish_to(url: str, subject: str, body: dict) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(subject, json.dumps(body).encode())
    finally:
        await nc.close()
