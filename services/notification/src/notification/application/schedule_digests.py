"""Use case: keep one repeating JetStream schedule per digest rule (cron in the rule's zone),
so digests fire from the stream, not from a timer in this process."""

from __future__ import annotations

import json

from notification.application.ports import RuleSource, Scheduler
from notification.domain.due import digest_key
from notification.domain.rules import Rule
from notification.domain.timing import digest_cron
from notification.settings import NotificationSettings


class DigestClock:
    def __init__(
        self, reminders: Scheduler, rules: RuleSource, settings: NotificationSettings
    ) -> None:
        self.reminders = reminders
        self.rules = rules
        self.settings = settings

    async def sync(self, rule: Rule) -> None:
        if not rule.is_digest or not rule.enabled:
            await self.drop(rule.id)
            return
        key = digest_key(rule.id)
        # Only stable fields, so an unchanged rule gives the same schedule (left alone).
        body = json.dumps(
            {
                "event_type": "notification.due",
                "aggregate_id": rule.id,
                "rule_id": rule.id,
                "key": key,
            },
            sort_keys=True,
        ).encode()
        tz = rule.timing.timezone or self.settings.default_timezone
        await self.reminders.cron(key, digest_cron(rule.timing), tz, body)

    async def drop(self, rule_id: str) -> None:
        await self.reminders.cancel(digest_key(rule_id), including_children=False)

    async def sync_all(self) -> None:
        for rule in await self.rules.all():
            if rule.is_digest:
                await self.sync(rule)
