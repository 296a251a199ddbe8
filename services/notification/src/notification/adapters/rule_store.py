"""Rules in the KV bucket `notification_rules`, one key per rule id."""

from __future__ import annotations

import logging

from faststream.nats import NatsBroker
from pydantic import ValidationError

from notification.adapters.buckets import JsonBucket
from notification.adapters.own_plans import own_plan
from notification.domain.defaults import DEFAULT_RULES
from notification.domain.rules import Rule

log = logging.getLogger(__name__)
SEEDED = "meta.seeded"  # not a valid rule id, so never listed as one


class RuleStore:
    def __init__(self, broker: NatsBroker, replicas: int = 1) -> None:
        # Watched: a send this process planned reads its rule from memory (own_plans.py).
        self.bucket = JsonBucket(broker, "notification_rules", replicas=replicas, watched=True)

    async def all(self) -> list[Rule]:
        rules = []
        for key, value in sorted((await self.bucket.items()).items()):
            if key.startswith("meta."):
                continue
            try:
                rules.append(Rule.model_validate(value))
            except ValidationError as exc:  # written by an older version: skip, say so
                log.error("rule %s is not valid any more, ignored: %s", key, exc)
        return rules

    async def get(self, rule_id: str) -> Rule | None:
        kept = self.bucket.recent(rule_id) if own_plan() else None
        value = kept[0] if kept is not None else await self.bucket.get(rule_id)
        return Rule.model_validate(value) if value else None

    async def put(self, rule: Rule) -> None:
        await self.bucket.put(rule.id, rule.model_dump(mode="json"))

    async def delete(self, rule_id: str) -> bool:
        return await self.bucket.delete(rule_id)

    async def seed_defaults(self) -> bool:
        """Once per installation (a marker key), so rules an operator deleted stay deleted."""
        if not await self.bucket.create(SEEDED, {"rules": [r.id for r in DEFAULT_RULES]}):
            return False
        for rule in DEFAULT_RULES:
            await self.bucket.create(rule.id, rule.model_dump(mode="json"))
        log.info("seeded %d default notification rules", len(DEFAULT_RULES))
        return True
