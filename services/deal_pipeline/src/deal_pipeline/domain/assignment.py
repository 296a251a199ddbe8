"""Who gets a new deal: the first matching rule (by form or source), else round robin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AssignmentRule:
    manager_id: str
    form_id: str | None = None
    source: str | None = None  # the lead's source or its utm_source

    def matches(self, form_id: str | None, sources: Sequence[str | None]) -> bool:
        if self.form_id is None and self.source is None:
            return False  # a rule that names nothing is not a catch-all
        return (self.form_id is None or self.form_id == form_id) and (
            self.source is None or self.source in sources
        )


def ruled_manager(
    rules: Sequence[AssignmentRule],
    active: Sequence[str],
    form_id: str | None,
    sources: Sequence[str | None],
) -> str | None:
    """The manager of the first matching rule, if that manager is active."""
    for rule in rules:
        if rule.matches(form_id, sources) and rule.manager_id in active:
            return rule.manager_id
    return None


def round_robin(active: Sequence[str], turn: int) -> str:
    """`turn` counts from 1 and is drawn from a stored counter, so the rotation survives
    restarts and is shared by replicas."""
    return active[(turn - 1) % len(active)]
