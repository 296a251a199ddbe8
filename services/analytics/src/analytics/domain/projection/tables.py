"""Tables written straight from single events (no state needed): events, leads, touchpoints,
leads' owners, stage intervals, payments, plans, managers, pipelines, notifications."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from analytics.domain.channels import classify, host_of, source_of
from analytics.domain.hashing import contact_hash
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.rows import (
    EventRow,
    LeadOwnerRow,
    LeadRow,
    ManagerRow,
    NotificationRow,
    PaymentRow,
    PipelineRow,
    PlanRow,
    Row,
    StageIntervalRow,
    TouchRow,
)
from crm_contracts.envelope import Event
from crm_contracts.events import (
    DealOpened,
    DealPaymentReceived,
    LeadReceived,
    ManagerUpdated,
    NotificationFailed,
    NotificationSent,
    PipelineDefined,
    PlanSet,
    StageTransition,
    Touch,
)


def event_row(event: Event, payload: str) -> EventRow:
    return EventRow(
        event_id=event.event_id,
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=event.occurred_at,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        correlation_id=event.correlation_id or "",
        producer=event.producer,
        payload=payload,
    )


def _touch_row(lead: LeadReceived, kind: str, touch: Touch, config: ProjectionConfig) -> TouchRow:
    return TouchRow(
        lead_id=lead.lead_id,
        kind=kind,
        touch_at=touch.at or lead.received_at,
        channel=classify(touch, config.own_hosts, config.medium_map, config.source_map),
        source=source_of(touch),
        medium=(touch.utm_medium or "").lower(),
        campaign=touch.utm_campaign or "",
        visitor_id=touch.visitor_id or "",
    )


def rows_of(event: Event, config: ProjectionConfig) -> Iterator[Row]:
    """The rows one event contributes to the stateless tables."""
    kind = type(event)
    make = _MAKERS.get(kind)
    if make is None:  # the first of `_BY_CLASS` the type is an instance of; found once
        make = _MAKERS[kind] = next(
            (m for classes, m in _BY_CLASS if issubclass(kind, classes)), _no_rows
        )
    return make(event, config)


def _no_rows(event: Event, config: ProjectionConfig) -> Iterator[Row]:
    return iter(())


def _lead_rows(event: LeadReceived, config: ProjectionConfig) -> Iterator[Row]:
    touch, salt = event.touch, config.hash_salt
    lead_touch = _touch_row(event, "lead", touch, config)
    yield LeadRow(
        lead_id=event.lead_id,
        received_at=event.received_at,
        form_id=event.form_id,
        source=event.source,
        phone_hash=contact_hash(event.contact.phone, salt),
        email_hash=contact_hash(event.contact.email, salt),
        consent=int(event.consent),
        channel=lead_touch.channel,
        utm_source=(touch.utm_source or "").lower(),
        utm_medium=(touch.utm_medium or "").lower(),
        utm_campaign=touch.utm_campaign or "",
        utm_content=touch.utm_content or "",
        utm_term=touch.utm_term or "",
        referrer_host=host_of(touch.referrer),
        visitor_id=touch.visitor_id or "",
        touch_source=lead_touch.source,
    )
    yield lead_touch
    if event.first_touch is not None and event.first_touch.at is not None:
        yield _touch_row(event, "first", event.first_touch, config)


def _opened_rows(event: DealOpened, config: ProjectionConfig) -> Iterator[Row]:
    yield _stay(event, event.stage, event.aggregate_version, event.occurred_at, None)
    if event.lead_id:
        yield LeadOwnerRow(event.lead_id, owner_of(event.client_id or "", event.lead_id))


def owner_of(client_id: str, lead_id: str) -> str:
    """Whose touches make a deal's path: its client's, or its own lead's when it has none (as
    the reports' SQL names it: `if(client_id != '', client_id, concat('lead:', lead_id))`)."""
    return client_id or "lead:" + lead_id


def _transition_rows(event: StageTransition, config: ProjectionConfig) -> Iterator[Row]:
    # Both rows are self-contained: the stay that ended and the one that began.
    yield _stay(
        event,
        event.from_stage,
        event.from_stage_entered_version,
        event.from_stage_entered_at,
        event.occurred_at,
    )
    yield _stay(event, event.to_stage, event.aggregate_version, event.occurred_at, None)


def _stay(
    event: DealOpened | StageTransition,
    stage: str,
    entered_version: int,
    entered_at: datetime,
    left_at: datetime | None,
) -> StageIntervalRow:
    """A stay of the deal in `stage`, as this event (its version) records it."""
    return StageIntervalRow(
        deal_id=event.deal_id,
        pipeline_id=event.pipeline_id,
        stage=stage,
        entered_version=entered_version,
        entered_at=entered_at,
        left_at=left_at,
        version=event.aggregate_version,
    )


def _payment_rows(event: DealPaymentReceived, config: ProjectionConfig) -> Iterator[Row]:
    yield PaymentRow(
        payment_id=event.payment_id,
        deal_id=event.deal_id,
        client_id=event.client_id or "",
        manager_id=event.manager_id or "",
        pipeline_id=event.pipeline_id,
        invoice_id=event.invoice_id or "",
        amount=event.amount,
        currency=event.currency,
        paid_at=event.paid_at,
    )


def _plan_rows(event: PlanSet, config: ProjectionConfig) -> Iterator[Row]:
    year, month = map(int, event.month.split("-"))
    yield PlanRow(
        manager_id=event.manager_id,
        month=date(year, month, 1),
        amount=event.amount,
        currency=event.currency,
        updated_at=event.occurred_at,
    )


def _manager_rows(event: ManagerUpdated, config: ProjectionConfig) -> Iterator[Row]:
    yield ManagerRow(
        manager_id=event.manager_id,
        name=event.name,
        role=event.role,
        active=int(event.active),
        updated_at=event.occurred_at,
    )


def _pipeline_rows(event: PipelineDefined, config: ProjectionConfig) -> Iterator[Row]:
    yield PipelineRow(
        pipeline_id=event.pipeline_id,
        name=event.name,
        stage_names=[s.name for s in event.stages],
        stage_kinds=[s.kind for s in event.stages],
        stage_probabilities=[s.probability for s in event.stages],
        updated_at=event.occurred_at,
    )


def _notification_rows(
    event: NotificationSent | NotificationFailed, config: ProjectionConfig
) -> Iterator[Row]:
    status, latency_ms, reason = _outcome(event)
    yield NotificationRow(
        notification_id=event.notification_id,
        status=status,
        rule_id=event.rule_id,
        channel=event.channel,
        trigger_event_type=event.trigger_event_type,
        attempts=event.attempts,
        latency_ms=latency_ms,
        reason=reason,
        occurred_at=event.occurred_at,
    )


# Which rows an event class makes (StageTransition: every stage move, won, lost, reopened).
# Looked up once per concrete type (`_MAKERS`), not by a chain of isinstance per event.
_BY_CLASS: tuple[tuple[Any, Callable[[Any, ProjectionConfig], Iterator[Row]]], ...] = (
    (LeadReceived, _lead_rows),
    (DealOpened, _opened_rows),
    (StageTransition, _transition_rows),
    (DealPaymentReceived, _payment_rows),
    (PlanSet, _plan_rows),
    (ManagerUpdated, _manager_rows),
    (PipelineDefined, _pipeline_rows),
    ((NotificationSent, NotificationFailed), _notification_rows),
)
_MAKERS: dict[type[Event], Callable[[Any, ProjectionConfig], Iterator[Row]]] = {}


def _outcome(event: NotificationSent | NotificationFailed) -> tuple[str, int, str]:
    """A notification's status, latency (sent) and reason (failed)."""
    if isinstance(event, NotificationSent):
        return "sent", event.latency_ms, ""
    return "failed", 0, event.reason
