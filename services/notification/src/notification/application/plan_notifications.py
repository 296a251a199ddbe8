"""Use case: an event arrived — update the directory, cancel reminders it makes moot, and
for each matching rule put a send on its way: due now, or a JetStream schedule for later. A
send due now on a channel that is off goes nowhere: it ends skipped right here."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_contracts.envelope import Event
from crm_contracts.events import (
    NotificationFailed,
    NotificationSent,
    TaskCancelled,
    TaskCompleted,
    TaskScheduled,
)
from notification.application.context import event_context, facts
from notification.application.ports import DirectoryFeed, OffChannels, RuleSource, Scheduler
from notification.domain.due import Due, reminder_key, task_key
from notification.domain.rules import Rule, matches
from notification.domain.timing import TooLate, send_time
from notification.metrics import PLANNED
from notification.settings import NotificationSettings

log = logging.getLogger(__name__)
NOW_SLACK = timedelta(milliseconds=200)  # closer than this is "now"
OWN = (NotificationSent, NotificationFailed)  # our own outcomes: nothing to record or plan


class Planner:
    def __init__(
        self,
        rules: RuleSource,
        directory: DirectoryFeed,
        reminders: Scheduler,
        settings: NotificationSettings,
        off_channels: OffChannels | None = None,
    ) -> None:
        self.rules = rules
        self.directory = directory
        self.reminders = reminders
        self.settings = settings
        self.off_channels = off_channels

    async def on_event(self, event: Event) -> None:
        await self.react(event, await self.record(event))

    async def record(self, event: Event) -> bool:
        """The directory part: store what the event says. False when the event is stale (or
        our own outcome), so `react` leaves it alone. Safe to run for many events at once:
        a card keeps its newest version's fields whatever order the writes land in."""
        if isinstance(event, OWN):
            return False
        return await self.directory.apply(event)

    async def react(self, event: Event, in_force: bool, rules: list[Rule] | None = None) -> None:
        """The planning part, once the directory has the event (and those before it). A
        batch passes the rules it read once for all its events."""
        if isinstance(event, OWN):
            return
        if isinstance(event, (TaskCompleted, TaskCancelled, TaskScheduled)) and in_force:
            # Whatever was planned for the task's previous due time is void now.
            await self.reminders.cancel(task_key(event.task_id))
        if not in_force:
            log.info("stale %s ignored", event.event_type)
            return
        rules = rules if rules is not None else await self.rules.all()
        # Most events (a client's card, a payment) start no rule: no context to read for them.
        if not any(r.enabled and r.trigger.event_type == event.event_type for r in rules):
            return
        context = await event_context(event, self.directory, self.settings)
        wanted = facts(context)
        for rule in rules:
            if matches(rule, event.event_type, wanted):
                await self.plan(rule, event, context)

    async def plan(self, rule: Rule, event: Event, context: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        due_at = event.due_at if isinstance(event, TaskScheduled) else None
        try:
            at = send_time(rule.timing, event.occurred_at, due_at, now)
        except TooLate as exc:
            log.info("rule %s: nothing to remind of: %s", rule.id, exc)
            return
        key = reminder_key(event, rule.id)
        due = Due(
            aggregate_id=rule.id,
            rule_id=rule.id,
            key=key,
            correlation_id=event.correlation_id,
            trigger_subject=event.SUBJECT,
            trigger=event.model_dump(mode="json"),
            planned_for=max(at, now),
        )
        if at <= now + NOW_SLACK:
            off = self.off_channels
            if off is not None and off.off(rule):  # nothing to send: skipped here and now
                await off.skip_now(rule, due, event, context)
            else:
                await self.reminders.due_now(
                    key, due.body(), msg_id=f"due:{event.event_id}:{rule.id}"
                )
            PLANNED.labels(rule.id, "now").inc()
        else:
            await self.reminders.at(key, at, due.body())
            PLANNED.labels(rule.id, "later").inc()
            log.info("rule %s: reminder %s at %s", rule.id, key, at.isoformat())
