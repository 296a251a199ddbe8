"""Delivery: retries on 5xx with backoff, once per event × rule × recipient, and every send
ends `sent`, `failed` (with a reason, an event and a DLQ copy) or `skipped` — never a loop."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from crm_contracts.events import (
    ClientUpdated,
    DealOpened,
    DealWon,
    ManagerUpdated,
)
from notification.domain.due import Due
from tests.support.nats import stream_messages
from tests.support.net import wait_until

from .conftest import TELEGRAM

MANAGER = ManagerUpdated(
    aggregate_id="m1",
    producer="test",
    manager_id="m1",
    name="Ivan",
    telegram_chat_id="4242",
    phone="+79120000001",
    timezone="UTC",
)


def opened(deal_id: str, manager: str | None = "m1", **extra: object) -> DealOpened:
    fields: dict = dict(
        aggregate_id=deal_id,
        producer="test",
        deal_id=deal_id,
        stage="new",
        title=f"Deal {deal_id}",
        manager_id=manager,
        amount=Decimal("100"),
    )
    return DealOpened(**(fields | extra))


def rule(channel: str = "telegram", body: str = "New: {{ deal.title }}", **extra: object) -> dict:
    return {
        "trigger": {"event_type": "deal.opened"},
        "audience": ["manager"],
        "channel": channel,
        "template": {"body": {"en": body}},
    } | extra


def outcomes(url: str) -> list:
    return [
        m for m in asyncio.run(stream_messages(url)) if m.subject.startswith("crm.notifications")
    ]


def won(deal_id: str) -> DealWon:
    """The deal, opened at version 1, won from the invoice stage."""
    return DealWon(
        aggregate_id=deal_id,
        producer="test",
        deal_id=deal_id,
        from_stage="invoice",
        to_stage="won",
        from_stage_entered_at=datetime.now(UTC),
        from_stage_entered_version=1,
        amount=Decimal("100"),
        aggregate_version=2,
    )


def test_500_three_times_then_200_sends_once(
    start_service, put_rule, publish, gateway, nats_server, deliveries
):
    service = start_service()
    put_rule(service, "tg", rule())
    publish(MANAGER)
    gateway.fail(3, status=500)
    publish(opened("d1"))
    wait_until(lambda: gateway.to(TELEGRAM, status=200), what="the fourth try")
    time.sleep(1.0)
    assert [r.status for r in gateway.to(TELEGRAM, status=None)] == [500, 500, 500, 200]
    assert len(gateway.to(TELEGRAM, status=200)) == 1
    [log] = deliveries(service, rule_id="tg")
    assert (log["status"], log["attempts"]) == ("sent", 4)
    [sent] = wait_until(lambda: outcomes(nats_server.url), what="crm.notifications.sent")
    assert sent.subject == "crm.notifications.sent"
    body = sent.data.decode()
    assert '"attempts":4' in body and '"channel":"telegram"' in body and "4242" not in body


def test_gateway_always_failing_ends_failed_with_event_and_dlq(
    start_service, put_rule, publish, gateway, nats_server, deliveries
):
    service = start_service(delivery_attempts=3)
    put_rule(service, "tg", rule())
    publish(MANAGER)
    gateway.fail(10, status=503)
    publish(opened("d2"))
    wait_until(lambda: deliveries(service, status="failed"), what="failed")
    [log] = deliveries(service, rule_id="tg")
    assert log["attempts"] == 3 and "HTTP 503" in log["reason"] and "after 3 tries" in log["reason"]
    assert len(gateway.requests) == 3
    [failed] = wait_until(lambda: outcomes(nats_server.url), what="crm.notifications.failed")
    assert failed.subject == "crm.notifications.failed"
    dlq = asyncio.run(stream_messages(nats_server.url, "CRM_DLQ"))
    assert [m.headers["Crm-Notification-Id"] for m in dlq] == [log["id"]]


def test_same_event_twice_sends_once(start_service, put_rule, publish, gateway):
    service = start_service()
    put_rule(service, "tg", rule())
    publish(MANAGER)
    event = opened("d3")
    publish(event, msg_id="one")
    publish(event, msg_id="two")  # past CRM dedup; the due stream dedups it (see below)
    publish(opened("d4"))
    wait_until(lambda: len(gateway.requests) >= 2, what="two sends")
    time.sleep(1.0)
    assert sorted(r.json["text"] for r in gateway.requests) == ["New: Deal d3", "New: Deal d4"]


def test_a_repeat_past_the_bus_is_stopped_by_the_delivery_log(
    start_service, put_rule, publish, gateway, nats_server, deliveries
):
    """Copies of one reminder, each under its own Nats-Msg-Id (so JetStream keeps them all)
    and handled at once: the delivery log lets exactly one send through."""
    service = start_service()
    publish(MANAGER)
    event = opened("d12")
    publish(event)  # no rule yet: the directory learns the deal, nothing is planned
    wait_until(lambda: asyncio.run(deal_known(nats_server.url, "d12")), what="the deal on file")
    put_rule(service, "tg", rule())
    due = Due(
        aggregate_id="tg",
        rule_id="tg",
        key=f"event.{event.event_id}.tg",
        trigger_subject=event.SUBJECT,
        trigger=event.model_dump(mode="json"),
    )
    asyncio.run(publish_copies(nats_server.url, f"crmrem.due.{due.key}", due.body(), 3))
    wait_until(lambda: gateway.requests, what="a send")
    time.sleep(1.5)  # room for a wrong second send
    assert [r.json["text"] for r in gateway.requests] == ["New: Deal d12"]
    [log] = deliveries(service, rule_id="tg")
    assert (log["status"], log["attempts"]) == ("sent", 1)
    due_stream = asyncio.run(stream_messages(nats_server.url, "CRM_REMINDERS"))
    assert len(due_stream) == 3  # all three copies got past the bus


async def deal_known(url: str, deal_id: str) -> bool:
    import nats

    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().key_value("notification_deals")
        try:
            return bool((await kv.get(deal_id)).value)
        except nats.js.errors.KeyNotFoundError:
            return False
    finally:
        await nc.close()


async def publish_copies(url: str, subject: str, body: bytes, n: int) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        for i in range(n):  # core publishes, one flush: they land together, fetched at once
            await nc.publish(subject, body, headers={"Nats-Msg-Id": f"copy-{i}"})
        await nc.flush()
    finally:
        await nc.close()


def test_template_error_fails_a_missing_address_is_skipped_and_work_goes_on(
    start_service, put_rule, publish, gateway, deliveries
):
    service = start_service()
    put_rule(service, "broken", rule(body="{{ deal.nope.deeper }}"))
    put_rule(
        service,
        "nobody",
        rule(channel="sms", audience=["client"], trigger={"event_type": "deal.won"}),
    )
    publish(MANAGER)
    publish(opened("d5"))  # template names something that is not there
    publish(opened("d6", manager="ghost"))  # a manager the directory does not know
    publish(
        DealWon(
            aggregate_id="d5",
            producer="test",
            deal_id="d5",
            from_stage="invoice",
            to_stage="won",
            from_stage_entered_at=datetime.now(UTC),
            from_stage_entered_version=1,
            amount=Decimal("100"),
            manager_id=None,
        )
    )
    wait_until(lambda: len(deliveries(service)) == 3, what="three outcomes")
    statuses = {(d["rule_id"], d["recipient"]): d["status"] for d in deliveries(service)}
    assert statuses == {
        ("broken", "manager:m1"): "failed",  # tried, and the template broke
        ("broken", "manager:ghost"): "skipped",  # no address: nothing to try
        ("nobody", "client:?"): "skipped",
    }
    reasons = {(d["rule_id"], d["recipient"]): d["reason"] for d in deliveries(service)}
    assert "template" in reasons[("broken", "manager:m1")]
    assert "nope" in reasons[("broken", "manager:m1")]
    assert (
        reasons[("broken", "manager:ghost")]
        == "unknown recipient: manager:ghost has no telegram address"
    )
    assert reasons[("nobody", "client:?")] == "unknown recipient: client:? has no sms address"
    # …and the service carries on: a good rule still sends.
    put_rule(service, "broken", rule(body="Fixed {{ deal.title }}"))
    publish(opened("d7"))
    wait_until(lambda: gateway.requests, what="a send after the failures")
    assert gateway.requests[0].json["text"] == "Fixed Deal d7"


def test_webhook_is_signed_and_sms_goes_through_the_gateway(
    start_service, put_rule, publish, gateway
):
    service = start_service()
    hook = f"{gateway.url}/hook"
    put_rule(service, "hook", rule(channel="webhook", audience=["fixed"], recipients=[hook]))
    put_rule(service, "sms", rule(channel="sms"))
    publish(MANAGER)
    publish(opened("d8"))
    wait_until(lambda: len(gateway.requests) >= 2, what="webhook and SMS")
    [call] = gateway.to("/hook")
    expected = hmac.new(b"hook-secret", call.body, hashlib.sha256).hexdigest()
    assert call.headers["X-CRM-Signature"] == f"sha256={expected}"
    assert call.json["text"] == "New: Deal d8" and call.json["rule_id"] == "hook"
    [sms] = gateway.to("/sms")
    assert sms.json == {"to": "+79120000001", "text": "New: Deal d8", "sender": "CRM"}


def test_quiet_hours_move_the_send_to_the_next_allowed_minute(
    start_service, put_rule, publish, gateway, deliveries, nats_server
):
    service = start_service()
    now = datetime.now(UTC)
    end = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    quiet = {"start": f"{now - timedelta(hours=1):%H:%M}", "end": f"{end:%H:%M}"}
    put_rule(service, "quiet", rule(quiet_hours=quiet))
    publish(MANAGER)  # in UTC
    publish(opened("d9"))
    [log] = wait_until(lambda: deliveries(service, status="scheduled"), what="a deferred send")
    assert datetime.fromisoformat(log["scheduled_for"]) == end
    schedules = wait_until(lambda: asyncio.run(schedule_subjects(nats_server.url)), what="schedule")
    assert len(schedules) == 1 and ".q." in schedules[0]
    assert gateway.requests == []


async def schedule_subjects(url: str) -> list[str]:
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(
            "CRM_REMINDERS", subjects_filter="crmrem.schedule.>"
        )
        return list(info.state.subjects or {})
    finally:
        await nc.close()


def test_the_client_card_gives_the_address(start_service, put_rule, publish, gateway):
    service = start_service()
    put_rule(
        service,
        "won",
        rule(
            audience=["client"],
            trigger={"event_type": "deal.won"},
            body="Thanks, {{ client.name }}: {{ deal.title }}",
        ),
    )
    publish(
        ClientUpdated(
            aggregate_id="c1", producer="test", client_id="c1", name="Olga", telegram_chat_id="777"
        )
    )
    publish(opened("d10", client_id="c1"))
    publish(won("d10"))
    wait_until(lambda: gateway.requests, what="the thank-you")
    assert gateway.requests[0].json == {
        "chat_id": "777",
        "text": "Thanks, Olga: Deal d10",
        "disable_web_page_preview": True,
    }


def test_a_client_without_an_address_is_skipped_not_failed(
    start_service, publish, smtp_server, nats_server, deliveries
):
    """The demo case: the default thank-you rule and a client with no e-mail address."""
    service = start_service(seed_default_rules=True, telegram_bot_token=None)
    publish(ClientUpdated(aggregate_id="c2", producer="test", client_id="c2", name="Olga"))
    publish(opened("d11", client_id="c2"))
    publish(won("d11"))
    [log] = wait_until(lambda: deliveries(service, rule_id="deal-won-thank-you"), what="a log")
    assert log["status"] == "skipped" and log["attempts"] == 0
    assert log["reason"] == "unknown recipient: client:c2 has no email address"
    time.sleep(0.5)
    assert deliveries(service, status="failed") == []
    assert [m.subject for m in outcomes(nats_server.url)] == ["crm.notifications.sent"]  # manager
    assert asyncio.run(stream_messages(nats_server.url, "CRM_DLQ")) == []
