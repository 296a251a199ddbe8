"""The planner against in-memory ports: which rules fire for an event, and when the send is
planned (due now, a schedule for later, or nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crm_contracts.envelope import Event
from crm_contracts.events import DealOpened, NotificationSent, TaskCompleted, TaskScheduled
from notification.application.plan_notifications import Planner
from notification.domain.due import Due
from notification.domain.rules import Rule
from notification.settings import NotificationSettings

from .fakes import FakeDirectory, FakeRules, FakeScheduler

SETTINGS = NotificationSettings(default_timezone="UTC")


def rule(rule_id: str, event_type: str = "deal.opened", **extra: Any) -> Rule:
    return Rule.model_validate(
        {
            "id": rule_id,
            "trigger": {"event_type": event_type},
            "audience": ["manager"],
            "channel": "email",
            "template": {"body": {"en": "hi"}},
        }
        | extra
    )


def opened(deal_id: str = "d1", **extra: Any) -> DealOpened:
    return DealOpened(aggregate_id=deal_id, producer="t", deal_id=deal_id, stage="new", **extra)


def task(due_in: timedelta, task_id: str = "t1", kind: str = "meeting") -> TaskScheduled:
    return TaskScheduled(
        aggregate_id="d1",
        producer="t",
        task_id=task_id,
        deal_id="d1",
        title="Demo",
        kind=kind,
        due_at=datetime.now(UTC) + due_in,
    )


def planner(*rules: Rule, directory: FakeDirectory | None = None) -> tuple[Planner, FakeScheduler]:
    scheduler = FakeScheduler()
    return Planner(FakeRules(*rules), directory or FakeDirectory(), scheduler, SETTINGS), scheduler


async def test_only_the_rules_the_event_matches_fire_and_an_immediate_one_is_due_now():
    event = opened(pipeline_id="b2b", amount="500")
    p, scheduler = planner(
        rule("any"),
        rule("b2b", trigger={"event_type": "deal.opened", "pipeline": "b2b"}),
        rule("retail", trigger={"event_type": "deal.opened", "pipeline": "retail"}),
        rule("big", trigger={"event_type": "deal.opened", "amount_gte": "1000"}),
        rule("won", "deal.won"),
        rule("off", enabled=False),
    )
    await p.on_event(event)
    assert [key for key, _, _ in scheduler.now] == [
        f"event.{event.event_id}.any",
        f"event.{event.event_id}.b2b",
    ]
    assert scheduler.later == []
    key, due, msg_id = scheduler.now[0]
    assert msg_id == f"due:{event.event_id}:any"  # the stream drops a repeat of the plan
    assert (due.rule_id, due.key, due.trigger_subject) == ("any", key, DealOpened.SUBJECT)
    assert DealOpened.model_validate(due.trigger) == event


async def test_a_filter_sees_the_deal_on_file_when_the_event_does_not_carry_the_field():
    directory = FakeDirectory()
    directory.add("deals", "d1", pipeline_id="b2b", stage="demo")
    p, scheduler = planner(
        rule(
            "b2b-meeting",
            "task.scheduled",
            trigger={"event_type": "task.scheduled", "pipeline": "b2b", "task_kind": "meeting"},
        ),
        rule(
            "retail-meeting",
            "task.scheduled",
            trigger={"event_type": "task.scheduled", "pipeline": "retail"},
        ),
        rule(
            "calls", "task.scheduled", trigger={"event_type": "task.scheduled", "task_kind": "call"}
        ),
        directory=directory,
    )
    await p.on_event(task(timedelta(hours=3)))
    assert [key for key, _, _ in scheduler.now] == ["task.t1.b2b-meeting"]


async def test_a_later_send_is_a_schedule_at_its_moment():
    event = opened()
    p, scheduler = planner(rule("next-day", timing={"mode": "after", "offset": "P1D"}))
    await p.on_event(event)
    assert scheduler.now == []
    [(key, moment, due)] = scheduler.later
    assert key == f"event.{event.event_id}.next-day"
    assert moment == event.occurred_at + timedelta(days=1)
    assert due.planned_for == moment


async def test_a_before_reminder_replaces_what_was_planned_for_the_task():
    event = task(timedelta(hours=3))
    p, scheduler = planner(
        rule("remind", "task.scheduled", timing={"mode": "before", "offset": "PT1H"})
    )
    await p.on_event(event)
    assert scheduler.cancelled == [("task.t1", True)]  # the previous due time's reminders
    [(key, moment, _)] = scheduler.later
    assert key == "task.t1.remind"
    assert moment == event.due_at - timedelta(hours=1)


async def test_a_task_already_due_plans_nothing():
    p, scheduler = planner(
        rule("remind", "task.scheduled", timing={"mode": "before", "offset": "PT1H"})
    )
    await p.on_event(task(-timedelta(minutes=1)))
    assert scheduler.now == [] and scheduler.later == []


async def test_a_reminder_inside_its_offset_goes_now():
    p, scheduler = planner(
        rule("remind", "task.scheduled", timing={"mode": "before", "offset": "PT1H"})
    )
    await p.on_event(task(timedelta(minutes=10)))
    assert [key for key, _, _ in scheduler.now] == ["task.t1.remind"]


async def test_a_stale_task_event_plans_and_cancels_nothing():
    directory = FakeDirectory(in_force=False)
    p, scheduler = planner(rule("done", "task.completed"), directory=directory)
    await p.on_event(TaskCompleted(aggregate_id="d1", producer="t", task_id="t1", deal_id="d1"))
    assert len(directory.applied) == 1
    assert scheduler.cancelled == [] and scheduler.now == []


async def test_a_completed_task_cancels_its_reminders():
    p, scheduler = planner()
    await p.on_event(TaskCompleted(aggregate_id="d1", producer="t", task_id="t 1", deal_id="d1"))
    [(key, children)] = scheduler.cancelled
    assert key.startswith("task.") and key != "task.t 1" and children  # a safe subject token


async def test_our_own_outcomes_are_not_planned_on():
    directory = FakeDirectory()
    p, scheduler = planner(rule("any"), directory=directory)
    sent = NotificationSent(
        aggregate_id="n1",
        producer="notification",
        notification_id="n1",
        rule_id="any",
        channel="email",
        recipient_hash="h",
        trigger_event_id="e1",
        trigger_event_type="deal.opened",
        latency_ms=1,
    )
    await p.on_event(sent)
    assert directory.applied == [] and scheduler.now == []


class OffTelegram:
    """Telegram is off; records what the planner hands over to be skipped."""

    def __init__(self) -> None:
        self.skipped: list[tuple[str, Due, dict[str, Any]]] = []

    def off(self, rule: Rule) -> bool:
        return rule.channel == "telegram"

    async def skip_now(self, rule: Rule, due: Due, event: Event, context: dict[str, Any]) -> None:
        self.skipped.append((rule.id, due, context))


async def test_a_send_due_now_on_an_off_channel_is_skipped_at_once_a_later_one_still_waits():
    directory = FakeDirectory()
    directory.add("deals", "d1", title="Chairs")
    off = OffTelegram()
    scheduler = FakeScheduler()
    p = Planner(
        FakeRules(
            rule("mail"),
            rule("tg", channel="telegram"),
            rule("tg-later", channel="telegram", timing={"mode": "after", "offset": "PT1H"}),
        ),
        directory,
        scheduler,
        SETTINGS,
        off_channels=off,
    )
    event = opened()
    await p.on_event(event)
    assert [key for key, _, _ in scheduler.now] == [f"event.{event.event_id}.mail"]
    [(rule_id, due, context)] = off.skipped
    assert (rule_id, due.key, due.trigger_subject) == (
        "tg",
        f"event.{event.event_id}.tg",
        event.SUBJECT,
    )
    assert context["deal"]["title"] == "Chairs"  # the context the plan read, handed on
    assert [key for key, _, _ in scheduler.later] == [f"event.{event.event_id}.tg-later"]
