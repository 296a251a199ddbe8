"""Reminders are JetStream message schedules: on time, replaced on reschedule, removed on
completion, and kept across a restart of the service (nothing lives in process memory)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from crm_contracts.events import DealOpened, ManagerUpdated, TaskCompleted, TaskScheduled
from tests.support.net import wait_until
from tests.support.services import ServiceProcess

from .conftest import API_KEY, BOT, TELEGRAM

RULE = {
    "trigger": {"event_type": "task.scheduled"},
    "audience": ["manager"],
    "channel": "telegram",
    "timing": {"mode": "before", "offset": "PT1S"},
    "template": {"body": {"en": "Soon: {{ task.title }} at {{ task.due_at | local('%H:%M:%S') }}"}},
}
MANAGER = ManagerUpdated(
    aggregate_id="m1", producer="test", manager_id="m1", name="Ivan", telegram_chat_id="4242"
)


def task(task_id: str, due_in: float, **extra: object) -> TaskScheduled:
    return TaskScheduled(
        aggregate_id="deal-1",
        producer="test",
        task_id=task_id,
        deal_id="deal-1",
        manager_id="m1",
        title=f"Call {task_id}",
        due_at=datetime.now(UTC) + timedelta(seconds=due_in),
        **extra,
    )


def done(task_id: str) -> TaskCompleted:
    return TaskCompleted(
        aggregate_id="deal-1", producer="test", task_id=task_id, deal_id="deal-1", manager_id="m1"
    )


def test_due_in_3s_before_1s_fires_at_2s(start_service, put_rule, publish, gateway, deliveries):
    service = start_service()
    put_rule(service, "task-soon", RULE)
    publish(MANAGER)
    started = time.time()
    publish(task("t1", due_in=3.0))
    wait_until(lambda: gateway.to(TELEGRAM), timeout=10, what="the reminder")
    fired_after = gateway.to(TELEGRAM)[0].at - started
    print(f"reminder fired {fired_after:.3f}s after the task was scheduled (due at 3 s)")
    assert 1.5 <= fired_after <= 2.5
    request = gateway.to(TELEGRAM)[0].json
    assert request["chat_id"] == "4242" and request["text"].startswith("Soon: Call t1 at ")
    time.sleep(1.5)
    assert len(gateway.requests) == 1
    [sent] = deliveries(service, rule_id="task-soon")
    assert sent["status"] == "sent" and sent["channel"] == "telegram" and sent["attempts"] == 1


def test_completing_first_cancels_and_rescheduling_replaces(
    start_service, put_rule, publish, gateway, nats_server
):
    service = start_service()
    put_rule(service, "task-soon", RULE)
    publish(MANAGER)
    publish(task("t2", due_in=3.0))  # its reminder is due in 2 s
    pending = lambda: asyncio.run(pending_schedules(nats_server.url))  # noqa: E731
    wait_until(lambda: pending() == 1, timeout=1.5, what="t2's reminder scheduled")
    publish(done("t2"))  # completed before its reminder: the schedule itself goes away
    wait_until(lambda: pending() == 0, timeout=1.5, what="t2's reminder removed before it fires")
    first = task("t3", due_in=2.5)
    publish(first)
    started = time.time()
    publish(task("t3", due_in=4.0, aggregate_version=2))  # rescheduled: the latest is in force
    wait_until(lambda: gateway.to(TELEGRAM), timeout=10, what="the rescheduled reminder")
    time.sleep(2.0)  # past every time that was planned
    assert [r.json["text"][:13] for r in gateway.requests] == ["Soon: Call t3"]
    assert gateway.requests[0].at - started >= 2.0  # the later schedule, not the first one
    assert asyncio.run(pending_schedules(nats_server.url)) == 0


async def pending_schedules(url: str) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(
            "CRM_REMINDERS", subjects_filter="crmrem.schedule.>"
        )
        return len(info.state.subjects or {})
    finally:
        await nc.close()


def test_a_restart_in_between_loses_nothing(
    nats_server, smtp_server, gateway, publish, put_rule, tmp_path
):
    env = {
        "NOTIFICATION_NATS_URL": nats_server.url,
        "NOTIFICATION_SMTP_PORT": str(smtp_server.port),
        "NOTIFICATION_API_KEY": API_KEY,
        "NOTIFICATION_TELEGRAM_BASE_URL": gateway.url,
        "NOTIFICATION_TELEGRAM_BOT_TOKEN": BOT,
        "NOTIFICATION_SEED_DEFAULT_RULES": "false",
    }
    service = ServiceProcess("notification", env, tmp_path / "notification.log").start()
    try:
        service.wait_ready()
        put_rule(service.url, "task-soon", RULE)
        publish(MANAGER)
        publish(task("t4", due_in=4.0))
        wait_until(lambda: asyncio.run(pending_schedules(nats_server.url)) == 1, what="scheduled")
        service.stop(kill=True)  # down while the reminder comes due
        time.sleep(4.0)
        assert gateway.requests == []
        service.start().wait_ready()
        wait_until(lambda: gateway.to(TELEGRAM), timeout=20, what="the reminder after restart")
        time.sleep(1.0)
        assert len(gateway.requests) == 1
        assert gateway.requests[0].json["text"].startswith("Soon: Call t4")
    finally:
        service.stop()


def test_after_a_delay(start_service, put_rule, publish, gateway):
    service = start_service()
    put_rule(
        service,
        "follow-up",
        {
            "trigger": {"event_type": "deal.opened", "amount_gte": "1000"},
            "audience": ["manager"],
            "channel": "telegram",
            "timing": {"mode": "after", "offset": "PT2S"},
            "template": {"body": {"en": "Follow up {{ deal.title }}"}},
        },
    )
    publish(MANAGER)
    started = time.time()
    for deal_id, amount in (("small", "10"), ("big", "5000")):
        publish(
            DealOpened(
                aggregate_id=deal_id,
                producer="test",
                deal_id=deal_id,
                stage="new",
                title=deal_id,
                manager_id="m1",
                amount=Decimal(amount),
            )
        )
    wait_until(lambda: gateway.to(TELEGRAM), timeout=10, what="the follow-up")
    assert 1.5 <= gateway.requests[0].at - started <= 3.0
    time.sleep(1.0)
    assert [r.json["text"] for r in gateway.requests] == ["Follow up big"]  # amount ≥ 1000 only
