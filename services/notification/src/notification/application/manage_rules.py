"""Use case: an operator lists, reads, writes and deletes rules; a digest rule's schedule
follows every change."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from crm_contracts.runtime.errors import Invalid, NotFound
from notification.application.ports import DigestSchedule, RuleRepository
from notification.domain.rules import Rule
from notification.domain.templates import check


def _missing(rule_id: str) -> NotFound:
    return NotFound(f"no rule {rule_id!r}", "rule_id")


def parse_rule(rule_id: str, body: dict[str, Any]) -> Rule:
    """The rule `body` describes, stored under `rule_id`; raises Invalid naming every problem."""
    if body.get("id", rule_id) != rule_id:
        raise Invalid("differs from the path", "id")
    try:
        rule = Rule.model_validate(body | {"id": rule_id})
    except ValidationError as exc:
        raise Invalid.of(
            (".".join(str(p) for p in e["loc"]) or "body", e["msg"]) for e in exc.errors()
        ) from exc
    problems = check(rule.template)
    if problems:  # each is "<field>: <reason>"
        raise Invalid.of((field, reason) for field, reason in (p.split(": ", 1) for p in problems))
    return rule


class RuleAdmin:
    def __init__(self, rules: RuleRepository, clock: DigestSchedule) -> None:
        self.rules = rules
        self.clock = clock

    async def all(self) -> list[Rule]:
        return await self.rules.all()

    async def get(self, rule_id: str) -> Rule:
        rule = await self.rules.get(rule_id)
        if rule is None:
            raise _missing(rule_id)
        return rule

    async def put(self, rule_id: str, body: dict[str, Any]) -> tuple[Rule, bool]:
        """The stored rule, and whether it is new."""
        rule = parse_rule(rule_id, body)
        existed = await self.rules.get(rule_id) is not None
        await self.rules.put(rule)
        await self.clock.sync(rule)
        return rule, not existed

    async def delete(self, rule_id: str) -> None:
        if not await self.rules.delete(rule_id):
            raise _missing(rule_id)
        await self.clock.drop(rule_id)
