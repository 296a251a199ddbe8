"""The deliverer against in-memory ports: which channel and address a send takes, what is
recorded, and the retry, dedupe, skip and quiet-hours decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from crm_contracts.events import DealOpened, TaskScheduled
from notification.application.ports import Channel
from notification.application.send_due_notification import Deliverer, RetryLater
from notification.domain.deliveries import SendError, delivery_id
from notification.domain.due import Due, reminder_key
from notification.domain.rules import Rule
from notification.settings import NotificationSettings

from .fakes import (
    FakeChannel,
    FakeDeliveryLog,
    FakeDirectory,
    FakeOutcomes,
    FakeReports,
    FakeRules,
    FakeScheduler,
)

SETTINGS = NotificationSettings(
    default_timezone="UTC",
    retry_base_seconds=2.0,
    retry_max_seconds=60.0,
    delivery_attempts=3,
    default_manager_email="sales@shop.test",
)
EVENT = DealOpened(
    aggregate_id="d1", producer="t", deal_id="d1", stage="new", title="Chairs", manager_id="m1"
)


def rule(channel: str = "telegram", **extra: Any) -> Rule:
    return Rule.model_validate(
        {
            "id": "r1",
            "trigger": {"event_type": "deal.opened"},
            "audience": ["manager"],
            "channel": channel,
            "template": {"body": {"en": "New: {{ deal.title }} for {{ recipient.name }}"}},
        }
        | extra
    )


def due_for(event: Any = EVENT, rule_id: str = "r1", **extra: Any) -> Due:
    return Due(
        aggregate_id=rule_id,
        rule_id=rule_id,
        key=reminder_key(event, rule_id),
        trigger_subject=event.SUBJECT,
        trigger=event.model_dump(mode="json"),
        **extra,
    )


class World:
    def __init__(self, *rules: Rule, settings: NotificationSettings = SETTINGS) -> None:
        self.rules = FakeRules(*rules)
        self.directory = FakeDirectory()
        self.directory.add("managers", "m1", name="Ivan", telegram_chat_id="4242", timezone="UTC")
        self.scheduler = FakeScheduler()
        self.log = FakeDeliveryLog()
        self.outcomes = FakeOutcomes(self.log)
        self.directory.add("deals", "d1", title="Chairs", stage="new", manager_id="m1")
        self.channels: dict[str, FakeChannel] = {
            n: FakeChannel(n) for n in ("email", "telegram", "sms", "webhook")
        }
        self.reports = FakeReports({"leads": 3, "won": 1, "revenue": 10, "currency": "RUB"})
        self.deliverer = Deliverer(
            self.rules,
            self.directory,
            self.scheduler,
            dict[str, Channel](self.channels),
            self.log,
            self.outcomes,
            self.reports,
            settings,
        )

    def record(self, identity: str = "manager:m1") -> Any:
        return self.log.records[delivery_id(str(EVENT.event_id), "r1", identity)]


async def test_a_send_goes_over_the_rules_channel_to_the_address_on_file_and_is_recorded():
    world = World(rule("telegram"))
    await world.deliverer.on_due(due_for())
    [message] = world.channels["telegram"].sent
    assert world.channels["email"].sent == []
    assert (message.to, message.text) == ("4242", "New: Chairs for Ivan")
    assert message.delivery_id == delivery_id(str(EVENT.event_id), "r1", "manager:m1")
    assert message.meta == {
        "rule_id": "r1",
        "event_type": "deal.opened",
        "event_id": str(EVENT.event_id),
    }
    assert world.outcomes.statuses() == [("sent", None)]
    record = world.record()
    assert (record.status, record.attempts, record.recipient) == ("sent", 1, "manager:m1")
    assert "4242" not in record.recipient_hash


async def test_a_send_done_before_is_not_sent_again_but_announced_again():
    world = World(rule())
    await world.deliverer.on_due(due_for())
    await world.deliverer.on_due(due_for())  # a redelivery
    assert len(world.channels["telegram"].sent) == 1
    assert len(world.outcomes.ended) == 1
    assert [d.status for d in world.outcomes.announced] == ["sent"]


async def test_a_transient_failure_is_retried_with_backoff_and_then_sent():
    world = World(rule())
    world.channels["telegram"].errors = [SendError("HTTP 502", transient=True)] * 2
    labels = {"channel": "telegram", "rule": "r1"}
    retried_before = REGISTRY.get_sample_value("crm_notifications_retried_total", labels) or 0
    with pytest.raises(RetryLater) as first:
        await world.deliverer.on_due(due_for())
    assert first.value.delay == 2.0
    record = world.record()
    assert (record.status, record.attempts, record.reason, record.lease_until) == (
        "sending",
        1,
        "HTTP 502",
        None,  # free for the next try
    )
    with pytest.raises(RetryLater) as second:
        await world.deliverer.on_due(due_for())
    assert second.value.delay == 4.0
    await world.deliverer.on_due(due_for())
    assert world.outcomes.statuses() == [("sent", None)]
    assert world.record().attempts == 3
    retried = REGISTRY.get_sample_value("crm_notifications_retried_total", labels)
    assert retried == retried_before + 2


async def test_a_message_that_went_out_is_recorded_through_a_bus_outage_and_not_sent_again():
    world = World(rule())
    world.log.failing_puts = 2  # the "sent" record meets a NATS node going down
    await world.deliverer.on_due(due_for())
    assert world.outcomes.statuses() == [("sent", None)]
    await world.deliverer.on_due(due_for())  # the reminder comes back anyway
    assert len(world.channels["telegram"].sent) == 1


async def test_a_lease_that_cannot_be_renewed_leaves_the_send_running_to_its_end():
    world = World(rule(), settings=SETTINGS.model_copy(update={"due_ack_wait_seconds": 0.3}))
    world.channels["telegram"].seconds = 0.35  # renewals at 0.1 and 0.2 s fail, 0.3 s holds
    world.log.failing_puts = 2
    await world.deliverer.on_due(due_for())
    assert len(world.channels["telegram"].sent) == 1
    assert world.outcomes.statuses() == [("sent", None)]
    assert world.record().status == "sent"


async def test_transient_failures_end_as_failed_after_the_last_try():
    world = World(rule())
    world.channels["telegram"].errors = [SendError("HTTP 503", transient=True)] * 5
    for _ in range(2):
        with pytest.raises(RetryLater):
            await world.deliverer.on_due(due_for())
    await world.deliverer.on_due(due_for())  # the third and last try
    assert world.outcomes.statuses() == [("failed", "HTTP 503 (after 3 tries)")]
    assert world.channels["telegram"].sent == []


async def test_a_permanent_failure_fails_at_once():
    world = World(rule())
    world.channels["telegram"].errors = [SendError("HTTP 400 chat not found", transient=False)]
    await world.deliverer.on_due(due_for())
    assert world.outcomes.statuses() == [("failed", "HTTP 400 chat not found (after 1 tries)")]


async def test_a_channel_that_is_off_skips_the_send():
    world = World(rule("sms"))
    world.channels["sms"].off = "no SMS gateway URL"
    await world.deliverer.on_due(due_for())
    assert world.outcomes.statuses() == [("skipped", "channel sms is off: no SMS gateway URL")]


async def test_a_recipient_without_an_address_is_skipped_not_failed():
    world = World(rule("sms"))  # the manager's card has no phone
    await world.deliverer.on_due(due_for())
    assert world.outcomes.statuses() == [
        ("skipped", "unknown recipient: manager:m1 has no sms address")
    ]
    assert world.channels["sms"].sent == []


async def test_email_to_a_manager_falls_back_to_the_configured_address():
    world = World(rule("email"))
    await world.deliverer.on_due(due_for())
    assert [m.to for m in world.channels["email"].sent] == ["sales@shop.test"]


async def test_quiet_hours_move_the_send_to_their_end():
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=2)).time()
    quiet = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    world = World(rule(quiet_hours=quiet))
    await world.deliverer.on_due(due_for())
    assert world.channels["telegram"].sent == [] and world.outcomes.ended == []
    [(key, moment, later)] = world.scheduler.later
    record = world.record()
    assert key == f"event.{EVENT.event_id}.r1.q.{record.id.rsplit('.', 1)[-1]}"
    assert later.only_recipient == "manager:m1" and later.planned_for == moment
    assert timedelta(hours=1) < moment - now <= timedelta(hours=2)
    assert (record.status, record.scheduled_for) == ("scheduled", moment)


async def test_a_deferred_send_reaches_only_its_recipient():
    world = World(rule(audience=["manager", "fixed"], recipients=["4343"]))
    await world.deliverer.on_due(due_for(only_recipient="fixed:4343"))
    assert [m.to for m in world.channels["telegram"].sent] == ["4343"]


async def test_a_send_someone_else_is_trying_comes_back_after_their_lease():
    world = World(rule())
    record_id = delivery_id(str(EVENT.event_id), "r1", "manager:m1")
    await world.deliverer.on_due(due_for())
    held = world.log.records[record_id].model_copy(
        update={"status": "sending", "lease_until": datetime.now(UTC) + timedelta(seconds=20)}
    )
    world.log.records[record_id] = held
    world.channels["telegram"].sent.clear()
    with pytest.raises(RetryLater) as later:
        await world.deliverer.on_due(due_for())
    assert 15 < later.value.delay <= 20
    assert world.channels["telegram"].sent == []


async def test_a_gone_or_disabled_rule_and_a_moved_task_send_nothing():
    world = World(rule(enabled=False))
    await world.deliverer.on_due(due_for())
    await world.deliverer.on_due(due_for(rule_id="gone"))
    task = TaskScheduled(
        aggregate_id="d1",
        producer="t",
        task_id="t1",
        deal_id="d1",
        title="Call",
        due_at=datetime.now(UTC) + timedelta(hours=1),
    )
    moved = World(
        Rule.model_validate(rule().model_dump() | {"trigger": {"event_type": "task.scheduled"}})
    )
    moved.directory.task_current = False
    await moved.deliverer.on_due(due_for(task))
    for w in (world, moved):
        assert w.channels["telegram"].sent == [] and w.outcomes.ended == []


async def test_a_digest_reads_its_figures_for_the_period_before_it_fired():
    digest = Rule.model_validate(
        {
            "id": "daily",
            "trigger": {"event_type": "digest"},
            "audience": ["heads"],
            "channel": "email",
            "timing": {"mode": "daily", "at": "09:00"},
            "template": {"body": {"en": "{{ period.label }}: {{ report.leads }} leads"}},
        }
    )
    world = World(digest)
    world.directory.head_cards = [{"id": "olga", "email": "olga@shop.test", "role": "head"}]
    fired = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)
    await world.deliverer.on_due(
        Due(aggregate_id="daily", rule_id="daily", key="digest.daily"), fired
    )
    [message] = world.channels["email"].sent
    assert (message.to, message.text) == ("olga@shop.test", "2026-03-01: 3 leads")
    assert world.reports.asked == [
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), "UTC")
    ]
