"""Use case: a reminder is due — find the rule's recipients and send to each once, retrying
transient failures with exponential backoff; every send ends `sent`, `failed` or `skipped`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_contracts.envelope import Event, derived_id
from crm_contracts.events import BY_SUBJECT, TaskScheduled
from notification.application.audience import recipients
from notification.application.context import event_context
from notification.application.ports import (
    Channel,
    DeliveryRecords,
    DigestReports,
    OutcomeRecorder,
    Outgoing,
    People,
    RuleSource,
    Scheduler,
)
from notification.domain.deliveries import (
    FINAL,
    Delivery,
    Recipient,
    SendError,
    delivery_id,
    recipient_hash,
    retry_delay,
)
from notification.domain.due import Due
from notification.domain.rules import Rule
from notification.domain.templates import RenderError, render
from notification.domain.timing import after_quiet_hours, digest_period
from notification.metrics import DUPLICATES, RETRIED
from notification.settings import NotificationSettings

log = logging.getLogger(__name__)
KeepAlive = Callable[[], Awaitable[None]]  # "still working on it" to the bus


class RetryLater(Exception):
    """Some send is to be tried again in `delay` seconds (the message comes back then)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retry in {delay:.2f}s")
        self.delay = delay


class Deliverer:
    def __init__(
        self,
        rules: RuleSource,
        directory: People,
        reminders: Scheduler,
        channels: dict[str, Channel],
        deliveries: DeliveryRecords,
        outcomes: OutcomeRecorder,
        analytics: DigestReports,
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

    async def on_due(
        self, due: Due, fired_at: datetime | None = None, keepalive: KeepAlive | None = None
    ) -> None:
        """Raises RetryLater when a send is to be tried again: the bus brings the message back
        then (nak with delay), so a slow gateway never holds up other reminders."""
        rule = await self.rules.get(due.rule_id)
        if rule is None or not rule.enabled:
            log.info("rule %s gone or disabled: reminder %s dropped", due.rule_id, due.key)
            return
        if rule.is_digest:
            # A deferred digest carries the moment its schedule fired: the period it was due for.
            fired = due.fired_at or fired_at or datetime.now(UTC)
            trigger_id, trigger_type, context = await self._digest_context(rule, fired)
            context["fired_at"] = fired
        else:
            assert due.trigger_subject is not None
            event = BY_SUBJECT[due.trigger_subject].model_validate(due.trigger)
            if isinstance(event, TaskScheduled) and not await self.directory.task_in_force(event):
                log.info("task %s was done or moved: reminder %s dropped", event.task_id, due.key)
                return
            trigger_id, trigger_type = str(event.event_id), event.event_type
            context = await event_context(event, self.directory, self.settings)
        await self._to_each(rule, due, trigger_id, trigger_type, context, keepalive)

    def off(self, rule: Rule) -> bool:
        return self.channels[rule.channel].configured is not None

    async def skip_now(self, rule: Rule, due: Due, event: Event, context: dict[str, Any]) -> None:
        """For the planner: a send due now on a channel that is off ends skipped at once, with
        the context the plan read, instead of a trip through the due stream (a publish, a
        delivery and an ack) to the same end."""
        await self._to_each(rule, due, str(event.event_id), event.event_type, context, None)

    async def _to_each(
        self,
        rule: Rule,
        due: Due,
        trigger_id: str,
        trigger_type: str,
        context: dict[str, Any],
        keepalive: KeepAlive | None,
    ) -> None:
        retries = []
        for recipient in await recipients(rule, context, self.directory, self.settings):
            if due.only_recipient in (None, recipient.identity):
                delay = await self.deliver(
                    rule, due, trigger_id, trigger_type, recipient, context, keepalive
                )
                if delay is not None:
                    retries.append(delay)
        if retries:  # the others are done (final in the log), so a redelivery skips them
            raise RetryLater(min(retries))

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
        # `first`/`last` are days (not moments), so no recipient's zone shifts them.
        days = {"first": start.date(), "last": (end - timedelta(days=1)).date()}
        period = {"from": start, "to": end, "label": label, "timezone": tz} | days
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
        keepalive: KeepAlive | None = None,
    ) -> float | None:
        """One try of one send. Returns seconds to wait before the next try, or None when the
        send is over (sent, failed, skipped, deferred, or done before)."""
        did = delivery_id(trigger_id, rule.id, to.identity)
        now = datetime.now(UTC)
        channel = self.channels[rule.channel]
        tz = to.timezone or rule.timing.timezone or self.settings.default_timezone
        record = Delivery(
            id=did,
            rule_id=rule.id,
            channel=rule.channel,
            recipient=to.identity,
            recipient_hash=recipient_hash(to.address or to.identity, self.settings.recipient_salt),
            trigger_event_id=trigger_id,
            trigger_event_type=trigger_type,
            status="sending",
            attempts=0,
            scheduled_for=due.planned_for or now,
            updated_at=now,
        )
        if channel.configured is not None or to.address is None:  # nothing tried, nothing failed
            off = channel.configured
            reason = to.problem or "no address"
            if off is not None:
                reason = f"channel {rule.channel} is off: {off}"
            # No look first either: the write is a compare-and-set that leaves a send done
            # before (here or by a replica with the channel on) as it is, and says so.
            done = await self.outcomes.skipped(record, reason)
            if done is not None:
                await self._duplicate(done, due)
            return None
        allowed = after_quiet_hours(now, rule.quiet_hours, tz)
        # A send that goes now needs no look first: its claim finds a send done before (or in
        # flight) itself. Deferring it must not undo one done before.
        known = None if allowed <= now else await self.deliveries.get(did)
        if known is not None and known.status in FINAL:
            await self._duplicate(known, due)
            return None
        if known is not None:
            record = record.model_copy(update={"attempts": known.attempts})
        if allowed > now:
            await self._defer(record, due, to, allowed, context)
            return None
        lease = timedelta(seconds=self.settings.due_ack_wait_seconds)
        mine, other = await self.deliveries.claim(record, lease)
        if mine is None:
            assert other is not None
            if other.status in FINAL:
                await self._duplicate(other, due)
                return None
            # Another copy of this send is being tried right now: look again after its lease.
            return max(1.0, ((other.lease_until or now) - now).total_seconds())
        try:
            await self._holding(
                mine, lease, keepalive, self._attempt(rule, mine, to, tz, context, trigger_type)
            )
        except RenderError as exc:
            reason = str(exc)  # `exc` is gone once the block ends, the retries are not
            await self._settle(lambda: self.outcomes.failed(mine, reason, due), keepalive)
        except SendError as exc:
            return await self._after_failure(mine, exc, due)
        else:
            # The message is out: its record must say so, or a retry after our lease would
            # send it again. A bus outage here (a node down, a leader moving) is waited out.
            await self._settle(lambda: self.outcomes.sent(mine, due.correlation_id), keepalive)
        return None

    async def _settle(
        self, write: Callable[[], Awaitable[None]], keepalive: KeepAlive | None
    ) -> None:
        """Retries writing a send's final record until the bus takes it (bounded by
        `settle_seconds`), telling JetStream all the while that the message is still ours."""
        deadline = time.monotonic() + self.settings.settle_seconds
        pause = 0.2
        while True:
            try:
                await write()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("recording a send's outcome failed, again in %.1fs: %r", pause, exc)
            await asyncio.sleep(pause)
            pause = min(2.0, pause * 2)
            if keepalive is not None:
                with contextlib.suppress(Exception):
                    await keepalive()

    async def _duplicate(self, known: Delivery, due: Due) -> None:
        DUPLICATES.labels(known.rule_id).inc()
        await self.outcomes.announce(known, due.correlation_id)  # in case it was lost

    async def _attempt(
        self,
        rule: Rule,
        record: Delivery,
        to: Recipient,
        tz: str,
        context: dict[str, Any],
        trigger_type: str,
    ) -> None:
        """Read what the message needs, render it, send it. Raises RenderError or SendError."""
        assert to.address is not None
        if rule.is_digest and "report" not in context:
            period = context["period"]
            context["report"] = await self.analytics.digest(period["from"], period["to"], tz)
        subject, text = render(
            rule.template,
            context | {"recipient": {"name": to.name, "id": to.identity}},
            to.language,
            self.settings.default_language,
            tz,
        )
        message = Outgoing(
            to=to.address,
            subject=subject,
            text=text,
            delivery_id=record.id,
            meta={
                "rule_id": rule.id,
                "event_type": trigger_type,
                "event_id": record.trigger_event_id,
            },
        )
        await self.channels[rule.channel].send(message)

    async def _holding(
        self,
        record: Delivery,
        lease: timedelta,
        keepalive: KeepAlive | None,
        work: Awaitable[None],
    ) -> None:
        """Runs `work` while renewing our lease on the send and telling JetStream we are still
        at it: a slow send is neither redelivered nor started again by another copy, and a
        crash frees it within one ack wait."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=lease.total_seconds() / 3)
                if done:
                    return task.result()
                try:
                    renewed = datetime.now(UTC) + lease
                    await self.deliveries.put(record.model_copy(update={"lease_until": renewed}))
                    if keepalive is not None:
                        await keepalive()
                except Exception as exc:  # the send goes on: giving up now would orphan it
                    log.warning("renewing the lease on %s failed: %r", record.id, exc)
        finally:
            task.cancel()  # only ever left running when we are cancelled ourselves

    async def _after_failure(self, record: Delivery, exc: SendError, due: Due) -> float | None:
        s = self.settings
        if exc.transient and record.attempts < s.delivery_attempts:
            delay = retry_delay(record.attempts, s.retry_base_seconds, s.retry_max_seconds)
            log.warning("%s (try %d), again in %.2fs", exc.reason, record.attempts, delay)
            RETRIED.labels(record.channel, record.rule_id).inc()
            await self.deliveries.put(  # free for the next try, whoever brings it
                record.model_copy(
                    update={
                        "reason": exc.reason,
                        "lease_until": None,
                        "updated_at": datetime.now(UTC),
                    }
                )
            )
            return delay
        await self.outcomes.failed(record, f"{exc.reason} (after {record.attempts} tries)", due)
        return None

    async def _defer(
        self, record: Delivery, due: Due, to: Recipient, at: datetime, context: dict[str, Any]
    ) -> None:
        """Quiet hours: this recipient's send moves to `at`, as its own reminder."""
        key = f"{due.key or due.rule_id}.q.{record.id.rsplit('.', 1)[-1]}"
        later = due.model_copy(
            update={
                "key": key,
                "only_recipient": to.identity,
                "planned_for": at,
                # A digest reports the period it was due for, not the one it is sent in.
                "fired_at": due.fired_at or context.get("fired_at"),
            }
        )
        await self.reminders.at(key, at, later.body())
        await self.deliveries.put(
            record.model_copy(update={"status": "scheduled", "scheduled_for": at})
        )
        log.info("quiet hours for %s: send moved to %s", to.identity, at.isoformat())
