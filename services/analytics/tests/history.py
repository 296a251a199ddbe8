"""Hand-built event histories for report tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from crm_contracts.envelope import derived_id
from crm_contracts.events import DealLost, DealOpened, DealStageChanged, DealWon


class DealStory:
    """Builds the events of one deal in order, tracking versions like the pipeline does."""

    def __init__(self, name: str, opened_at: datetime, amount: str = "0", stage: str = "new"):
        self.deal_id = name
        self.version = 1
        self.stage = stage
        self.entered_at = opened_at
        self.entered_version = 1
        self.amount = Decimal(amount)
        self.events: list = [
            DealOpened(
                event_id=derived_id("event", name, 1),
                occurred_at=opened_at,
                aggregate_id=name,
                aggregate_version=1,
                correlation_id=f"lead-{name}",
                producer="test",
                deal_id=name,
                lead_id=f"lead-{name}",
                pipeline_id="default",
                stage=stage,
                title=name,
                manager_id="m1",
                amount=Decimal(amount),
            )
        ]

    def move(self, to: str, at: datetime, status: str = "open", reason: str | None = None):
        self.version += 1
        self.events.append(
            DealStageChanged(
                event_id=derived_id("event", self.deal_id, self.version),
                occurred_at=at,
                aggregate_id=self.deal_id,
                aggregate_version=self.version,
                correlation_id=f"lead-{self.deal_id}",
                producer="test",
                deal_id=self.deal_id,
                pipeline_id="default",
                from_stage=self.stage,
                to_stage=to,
                from_stage_entered_at=self.entered_at,
                from_stage_entered_version=self.entered_version,
                status=status,
                lost_reason=reason,
            )
        )
        self.stage, self.entered_at, self.entered_version = to, at, self.version
        return self


def payloads(events: list) -> list[str]:
    return [e.model_dump_json() for e in events]
