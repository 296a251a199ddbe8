"""Tables written straight from single events (no state needed): leads, touchpoints, stage
intervals, payments, plans, managers, pipelines, notifications."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from analytics.domain.channels import classify, host_of, source_of
from analytics.domain.hashing import contact_hash
from analytics.projection.config import ProjectionConfig
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

COLUMNS: dict[str, tuple[str, ...]] = {
    "events": (
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "aggregate_id",
        "aggregate_version",
        "correlation_id",
        "producer",
        "payload",
    ),
    "leads": (
        "lead_id",
        "received_at",
        "form_id",
        "source",
        "phone_hash",
        "email_hash",
        "consent",
        "channel",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "referrer_host",
        "visitor_id",
    ),
    "touchpoints": (
        "lead_id",
        "kind",
        "touch_at",
        "channel",
        "source",
        "medium",
        "campaign",
        "visitor_id",
    ),
    "deal_stage_intervals": (
        "deal_id",
        "pipeline_id",
        "stage",
        "entered_version",
        "entered_at",
        "left_at",
        "version",
    ),
    "payments": (
        "payment_id",
        "deal_id",
        "client_id",
        "manager_id",
        "pipeline_id",
        "invoice_id",
        "amount",
        "currency",
        "paid_at",
    ),
    "plans": ("manager_id", "month", "amount", "currency", "updated_at"),
    "managers": ("manager_id", "name", "role", "active", "updated_at"),
    "pipelines": (
        "pipeline_id",
        "name",
        "stage_names",
        "stage_kinds",
        "stage_probabilities",
        "updated_at",
    ),
    "notifications": (
        "notification_id",
        "status",
        "rule_id",
        "channel",
        "trigger_event_type",
        "attempts",
        "latency_ms",
        "reason",
        "occurred_at",
    ),
}


def event_row(event: Event, payload: str) -> list[object]:
    return [
        event.event_id,
        event.event_type,
        event.schema_version,
        event.occurred_at,
        event.aggregate_id,
        event.aggregate_version,
        event.correlation_id or "",
        event.producer,
        payload,
    ]


def _touch_row(lead: LeadReceived, kind: str, touch: Touch, config: ProjectionConfig) -> list:
    channel = classify(touch, config.own_hosts, config.medium_map, config.source_map)
    return [
        lead.lead_id,
        kind,
        touch.at or lead.received_at,
        channel,
        source_of(touch),
        (touch.utm_medium or "").lower(),
        touch.utm_campaign or "",
        touch.visitor_id or "",
    ]


def rows_of(event: Event, config: ProjectionConfig) -> Iterator[tuple[str, list]]:
    """(table, row) pairs one event contributes to the stateless tables."""
    if isinstance(event, LeadReceived):
        touch, salt = event.touch, config.hash_salt
        lead_touch = _touch_row(event, "lead", touch, config)
        yield (
            "leads",
            [
                event.lead_id,
                event.received_at,
                event.form_id,
                event.source,
                contact_hash(event.contact.phone, salt),
                contact_hash(event.contact.email, salt),
                int(event.consent),
                lead_touch[3],
                (touch.utm_source or "").lower(),
                (touch.utm_medium or "").lower(),
                touch.utm_campaign or "",
                touch.utm_content or "",
                touch.utm_term or "",
                host_of(touch.referrer),
                touch.visitor_id or "",
            ],
        )
        yield "touchpoints", lead_touch
        if event.first_touch is not None and event.first_touch.at is not None:
            yield "touchpoints", _touch_row(event, "first", event.first_touch, config)
    elif isinstance(event, DealOpened):
        yield (
            "deal_stage_intervals",
            [
                event.deal_id,
                event.pipeline_id,
                event.stage,
                event.aggregate_version,
                event.occurred_at,
                None,
                event.aggregate_version,
            ],
        )
    elif isinstance(event, StageTransition):
        # Both rows are self-contained: the stay that ended and the one that began.
        yield (
            "deal_stage_intervals",
            [
                event.deal_id,
                event.pipeline_id,
                event.from_stage,
                event.from_stage_entered_version,
                event.from_stage_entered_at,
                event.occurred_at,
                event.aggregate_version,
            ],
        )
        yield (
            "deal_stage_intervals",
            [
                event.deal_id,
                event.pipeline_id,
                event.to_stage,
                event.aggregate_version,
                event.occurred_at,
                None,
                event.aggregate_version,
            ],
        )
    elif isinstance(event, DealPaymentReceived):
        yield (
            "payments",
            [
                event.payment_id,
                event.deal_id,
                event.client_id or "",
                event.manager_id or "",
                event.pipeline_id,
                event.invoice_id or "",
                event.amount,
                event.currency,
                event.paid_at,
            ],
        )
    elif isinstance(event, PlanSet):
        year, month = map(int, event.month.split("-"))
        yield (
            "plans",
            [
                event.manager_id,
                date(year, month, 1),
                event.amount,
                event.currency,
                event.occurred_at,
            ],
        )
    elif isinstance(event, ManagerUpdated):
        yield (
            "managers",
            [event.manager_id, event.name, event.role, int(event.active), event.occurred_at],
        )
    elif isinstance(event, PipelineDefined):
        yield (
            "pipelines",
            [
                event.pipeline_id,
                event.name,
                [s.name for s in event.stages],
                [s.kind for s in event.stages],
                [s.probability for s in event.stages],
                event.occurred_at,
            ],
        )
    elif isinstance(event, NotificationSent | NotificationFailed):
        sent = isinstance(event, NotificationSent)
        yield (
            "notifications",
            [
                event.notification_id,
                "sent" if sent else "failed",
                event.rule_id,
                event.channel,
                event.trigger_event_type,
                event.attempts,
                event.latency_ms if sent else 0,
                "" if sent else event.reason,
                event.occurred_at,
            ],
        )
