"""Rule administration against in-memory ports: what is stored, when the digest schedule
follows, and the refusals (the shared error family) for a bad or missing rule."""

from __future__ import annotations

from typing import Any

import pytest

from crm_contracts.runtime.errors import Invalid, NotFound
from notification.application.manage_rules import RuleAdmin
from notification.domain.rules import Rule

from .fakes import FakeRules

RULE = {
    "trigger": {"event_type": "deal.opened"},
    "audience": ["manager"],
    "channel": "email",
    "template": {"body": {"en": "hi"}},
}


class FakeClock:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def sync(self, rule: Rule) -> None:
        self.calls.append(("sync", rule.id))

    async def drop(self, rule_id: str) -> None:
        self.calls.append(("drop", rule_id))


def admin() -> tuple[RuleAdmin, FakeRules, FakeClock]:
    rules, clock = FakeRules(), FakeClock()
    return RuleAdmin(rules, clock), rules, clock


async def test_a_new_rule_is_created_then_replaced_and_its_schedule_follows():
    a, rules, clock = admin()
    rule, created = await a.put("r1", RULE)
    assert created and rule.id == "r1" and rules.rules["r1"] == rule
    _, created = await a.put("r1", RULE | {"enabled": False})
    assert not created and rules.rules["r1"].enabled is False
    await a.delete("r1")
    assert rules.rules == {}
    assert clock.calls == [("sync", "r1"), ("sync", "r1"), ("drop", "r1")]


async def test_a_missing_rule_is_not_found_naming_it():
    a, _, clock = admin()
    for attempt in (a.get("nope"), a.delete("nope")):
        with pytest.raises(NotFound) as missing:
            await attempt
        assert missing.value.body() == {
            "error": "not_found",
            "errors": [{"field": "rule_id", "reason": "no rule 'nope'"}],
        }
    assert clock.calls == []


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (RULE | {"id": "other"}, "id", "differs from the path"),
        (RULE | {"channel": "pigeon"}, "channel", "Input should be"),
        (RULE | {"timing": {"mode": "after"}}, "timing", "needs a non-negative `offset`"),
        (RULE | {"audience": ["fixed"]}, "body", "audience `fixed` needs `recipients`"),
        (RULE | {"template": {"body": {"en": "{% if %}"}}}, "template.body.en", ""),
    ],
)
async def test_a_bad_rule_is_invalid_and_nothing_is_stored(
    body: dict[str, Any], field: str, reason: str
):
    a, rules, clock = admin()
    with pytest.raises(Invalid) as bad:
        await a.put("r1", body)
    assert bad.value.error == "validation_failed" and bad.value.http_status == 422
    assert bad.value.problems[0]["field"] == field
    assert reason in bad.value.problems[0]["reason"]
    assert rules.rules == {} and clock.calls == []
