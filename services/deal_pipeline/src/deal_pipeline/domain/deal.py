"""The Deal aggregate: an event stream from its opening to won or lost."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from crm_contracts.envelope import derived_id
from crm_contracts.pipelines import Pipeline
from deal_pipeline.domain.errors import DealClosed, UnknownStage


class Deal(Aggregate):
    class StageChanged(Aggregate.Event):
        correlation_id: str | None
        pipeline_id: str
        from_stage: str
        to_stage: str
        status: str
        lost_reason: str | None
        from_stage_entered_at: datetime
        from_stage_entered_version: int

        def apply(self, deal: Deal) -> None:  # type: ignore[override]
            deal.stage = self.to_stage
            deal.status = self.status
            deal.lost_reason = self.lost_reason
            deal.stage_entered_at = self.timestamp
            deal.stage_entered_version = self.originator_version

    @staticmethod
    def create_id(lead_id: str | None, **_: object) -> UUID:
        """A deal opened from a lead gets an id derived from it: redelivery opens nothing new."""
        return derived_id("deal", lead_id) if lead_id else uuid4()

    @event("Opened")
    def __init__(
        self,
        lead_id: str | None,
        pipeline_id: str,
        stage: str,
        title: str,
        manager_id: str | None,
        amount: Decimal,
        currency: str,
        correlation_id: str | None,
    ) -> None:
        self.lead_id = lead_id
        self.pipeline_id = pipeline_id
        self.stage = stage
        self.title = title
        self.manager_id = manager_id
        self.amount = amount
        self.currency = currency
        self.status = "open"
        self.lost_reason: str | None = None
        self.stage_entered_at = self.created_on
        self.stage_entered_version = 1

    @classmethod
    def open(
        cls,
        pipeline: Pipeline,
        lead_id: str | None,
        title: str,
        manager_id: str | None,
        amount: Decimal = Decimal("0"),
        currency: str = "RUB",
    ) -> Deal:
        return cls(
            lead_id=lead_id,
            pipeline_id=pipeline.id,
            stage=pipeline.first_stage.name,
            title=title,
            manager_id=manager_id,
            amount=amount,
            currency=currency,
            correlation_id=lead_id,
        )

    def check_open(self) -> None:
        if self.status != "open":
            raise DealClosed(f"deal is {self.status}; reopen it first")

    def move_to(self, pipeline: Pipeline, stage_name: str, lost_reason: str | None = None) -> None:
        """Forward, back or skipping stages; a won/lost stage closes the deal."""
        self.check_open()
        stage = pipeline.stage(stage_name)
        if stage is None:
            known = ", ".join(s.name for s in pipeline.stages)
            raise UnknownStage(f"unknown stage {stage_name!r}; pipeline has {known}")
        if stage.name == self.stage:
            return
        self.trigger_event(
            self.StageChanged,
            correlation_id=self.lead_id,
            pipeline_id=self.pipeline_id,
            from_stage=self.stage,
            to_stage=stage.name,
            status=stage.kind,
            lost_reason=lost_reason if stage.kind == "lost" else None,
            from_stage_entered_at=self.stage_entered_at,
            from_stage_entered_version=self.stage_entered_version,
        )
