"""Stored domain events → contract events on the bus."""

from __future__ import annotations

from crm_contracts.envelope import Event, derived_id
from crm_contracts.events import DealOpened, DealStageChanged
from deal_pipeline.domain.deal import Deal

PRODUCER = "deal-pipeline"


def envelope(domain_event: object) -> dict:
    """Event id derived from (aggregate, version): a re-publish after a crash is a duplicate."""
    aggregate_id = domain_event.originator_id  # type: ignore[attr-defined]
    version = domain_event.originator_version  # type: ignore[attr-defined]
    return {
        "event_id": derived_id("event", aggregate_id, version),
        "occurred_at": domain_event.timestamp,  # type: ignore[attr-defined]
        "aggregate_id": str(aggregate_id),
        "aggregate_version": version,
        "correlation_id": getattr(domain_event, "correlation_id", None),
        "producer": PRODUCER,
    }


def to_contract(domain_event: object) -> Event | None:
    """None for events that stay inside the service."""
    if isinstance(domain_event, Deal.Opened):  # type: ignore[attr-defined]
        return DealOpened(
            **envelope(domain_event),
            causation_id=domain_event.lead_id,
            deal_id=str(domain_event.originator_id),
            lead_id=domain_event.lead_id,
            pipeline_id=domain_event.pipeline_id,
            stage=domain_event.stage,
            title=domain_event.title,
            manager_id=domain_event.manager_id,
            amount=domain_event.amount,
            currency=domain_event.currency,
        )
    if isinstance(domain_event, Deal.StageChanged):
        return DealStageChanged(
            **envelope(domain_event),
            deal_id=str(domain_event.originator_id),
            pipeline_id=domain_event.pipeline_id,
            from_stage=domain_event.from_stage,
            to_stage=domain_event.to_stage,
            from_stage_entered_at=domain_event.from_stage_entered_at,
            from_stage_entered_version=domain_event.from_stage_entered_version,
            status=domain_event.status,
            lost_reason=domain_event.lost_reason,
        )
    return None
