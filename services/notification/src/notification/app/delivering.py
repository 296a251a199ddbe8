"""Use case: a reminder is due — find the rule's recipients and send to each once, retrying
transient failures with exponential backoff; every send ends `sent`, `failed` or `skipped`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from crm_contracts.envelope import derived_id
from crm_contracts.events import BY_SUBJECT, TaskScheduled
from notification.adapters.analytics import AnalyticsReports
from notification.adapters.channels.base import Channel, Outgoing
from notification.adapters.delivery_log import DeliveryLog
from notification.adapters.reminders import Reminders
from notification.adapters.rule_store import RuleStore
from notification.app.audience import recipients
from notification.app.context import event_context
from notification.app.directory import Directory
from notification.app.due import Due
from notification.app.outcomes import DUPLICATES, Outcomes
from notification.domain.deliveries import (
    FINAL,
    Delivery,
    Recipient,
    SendError,
    delivery_id,
    recipient_hash,
    retry_delay,
)
from notification.domain.rules import Rule
from notification.domain.templates import RenderError, render
from notification.domain.timing import after_quiet_hours, digest_period
from notification.settings import NotificationSettings

log = logging.getLogger(__name__)


class Deliverer:
    def __init__(
        self,
        rules: RuleStore,
        directory: Directory,
        reminders: Reminders,
        channels: dict[str, Channel],
        deliveries: DeliveryLog,
        outcomes: Outcomes,
        analytics: AnalyticsReports,
        settings: NotificationSettings,
    ) -> None:
        self.rules = rules
        self.directory = directory
        self.reminders = reminders
        self.channels = channels
        self.deliveries = deliveries
        self.outcomes = outcomes
        self.analytics = analytics
        self.settings = settings

    async def on_due(self, due: Due, fired_at: datetime | None = None) -> None:
        rule = await self.rules.get(due.rule_id)
        if rule is None or not rule.enabled:
            log.info("rule %s gone or disabled: reminder %s dropped", due.rule_id, due.key)
            return
        if rule.is_digest:
            fired = fired_at or datetime.now(UTC)
            trigger_id, trigger_type, context = await self._digest_context(rule, fired)
        else:
            assert due.trigger_subject is not None
            event = BY_SUBJECT[due.trigger_subject].model_validate(due.trigger)
            if isinstance(event, TaskScheduled) and not await self.directory.task_in_force(event):
                log.info("task %s was done or moved: reminder %s dropped", event.task_id, due.key)
                return
            trigger_id, trigger_type = str(event.event_id), event.event_type
            context = await event_context(event, self.directory, self.settings)
        for recipient in await recipients(rule, context, self.directory, self.settings):
            if due.only_recipient in (None, recipient.identity):
                await self.deliver(rule, due, trigger_id, trigger_type, recipient, context)

    async def _digest_context(
        self, rule: Rule, fired_at: datetime
    ) -> tuple[str, str, dict[str, Any]]:
        """A digest's "event" is its period: the same period is never sent twice."""
        tz = rule.timing.timezone or self.settings.default_timezone
        start, end = digest_period(rule.timing, fired_at, tz)
        label = (
            f"{start:%Y-%m-%d}"
            if rule.timing.mode == "daily"
            else f"{start:%Y-%m-%d} – {end:%Y-%m-%d}"
        )
        period = {"from": start, "to": end, "label": label, "timezone": tz}
        trigger_id = str(derived_id("digest", rule.id, start.isoformat()))
        return trigger_id, f"digest.{rule.timing.mode}", {"period": period, "ids": {}}

    async def deliver(
        self,
        rule: Rule,
        due: Due,
        trigger_id: str,
        trigger_type: str,
        to: Recipient,
        context: dict[str, Any],
    ) -> None:
        did = delivery_id(trigger_id, rule.id, to.identity)
        known = await self.deliveries.get(did)
        if known is not None and known.status in FINAL:
            DUPLICATES.labels(rule.id).inc()
            await self.outcomes.announce(known, due.correlation_id)  # in case it was lost
            return
        now = datetime.now(UTC)
        record = Delivery(
            id=did,
            rule_id=rule.id,
            channel=rule.channel,
            recipient=to.identity,
            recipient_hash=recipient_hash(to.address or to.identity, self.settings.recipient_salt),
            trigger_event_id=trigger_id,
            trigger_event_type=trigger_type,
            status="sending",
            attempts=known.attempts if known else 0,
            scheduled_for=due.planned_for or now,
            updated_at=now,
        )
        channel = self.channels[rule.channel]
        if channel.configured is not None:
            await self.outcomes.skipped(
                record, f"channel {rule.channel} is off: {channel.configured}"
            )
            return
        if to.address is None:
            await self.outcomes.failed(record, to.problem or "unknown recipient", due)
            return
        tz = to.timezone or rule.timing.timezone or self.settings.default_timezone
        allowed = after_quiet_hours(now, rule.quiet_hours, tz)
        if allowed > now:
            await self._defer(record, due, to, allowed)
            return
        try:
            if rule.is_digest and "report" not in context:
                period = context["period"]
                context["report"] = await self._retrying(
                    lambda: self.analytics.digest(period["from"], period["to"], tz)
                )
            subject, text = render(
                rule.template,
                context | {"recipient": {"name": to.name, "id": to.identity}},
                to.language,
                self.settings.default_language,
                tz,
            )
        except RenderError as exc:
            await self.outcomes.failed(record, str(exc), due)
            return
        except SendError as exc:  # the report could not be read
            await self.outcomes.failed(record, exc.reason, due)
            return
        message = Outgoing(
            to=to.address,
            subject=subject,
            text=text,
            delivery_id=did,
            meta={"rule_id": rule.id, "event_type": trigger_type, "event_id": trigger_id},
        )
        await self._send(channel, message, record, due)

    async def _send(self, channel: Channel, message: Outgoing, record: Delivery, due: Due) -> None:
        s = self.settings
        while True:
            record = record.model_copy(
                update={"attempts": record.attempts + 1, "updated_at": datetime.now(UTC)}
            )
            await self.deliveries.put(record)  # a crash mid-way resumes the count
            try:
                await channel.send(message)
            except SendError as exc:
                if exc.transient and record.attempts < s.delivery_attempts:
                    delay = retry_delay(record.attempts, s.retry_base_seconds, s.retry_max_seconds)
                    log.warning("%s (try %d), again in %.2fs", exc.reason, record.attempts, delay)
                    await asyncio.sleep(delay)
                    continue
                await self.outcomes.failed(
                    record, f"{exc.reason} (after {record.attempts} tries)", due
                )
                return
            await self.outcomes.sent(record, due.correlation_id)
            return

    async def _retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """A read the send depends on, with the same retry policy as the send itself."""
        s = self.settings
        for attempt in range(1, s.delivery_attempts + 1):
            try:
                return await call()
            except SendError as exc:
                if not exc.transient or attempt == s.delivery_attempts:
                    raise
                await asyncio.sleep(retry_delay(attempt, s.retry_base_seconds, s.retry_max_seconds))
        raise AssertionError("unreachable")

    async def _defer(self, record: Delivery, due: Due, to: Recipient, at: datetime) -> None:
        """Quiet hours: this recipient's send moves to `at`, as its own reminder."""
        key = f"{due.key or due.rule_id}.q.{record.id.rsplit('.', 1)[-1]}"
        later = due.model_copy(
            update={"key": key, "only_recipient": to.identity, "planned_for": at}
        )
        await self.reminders.at(key, at, later.body())
        await self.deliveries.put(
            record.model_copy(update={"status": "scheduled", "scheduled_for": at})
        )
        log.info("quiet hours for %s: send moved to %s", to.identity, at.isoformat())
