"""Stored domain events → contract events on the bus. Index entries, counters and the
manager roster stay inside the service (None)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import TypedDict, TypeVar
from uuid import UUID

from eventsourcing.domain import AggregateEvent
from eventsourcing.utils import resolve_topic

from crm_contracts.envelope import Event, derived_id
from crm_contracts.events import (
    ClientRegistered,
    ClientUpdated,
    DealAmountChanged,
    DealAssigned,
    DealInvoiceIssued,
    DealLost,
    DealOpened,
    DealPaymentReceived,
    DealReopened,
    DealStageChanged,
    DealStatus,
    DealWon,
    ManagerUpdated,
    PipelineDefined,
    PlanSet,
    Requisites,
    TaskCancelled,
    TaskCompleted,
    TaskScheduled,
)
from crm_contracts.pipelines import Stage
from deal_pipeline.domain.client import Client
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.people import Manager, Plan
from deal_pipeline.domain.pipeline import PipelineDefinition

PRODUCER = "deal-pipeline"
E = TypeVar("E", bound=AggregateEvent)


# The fields several contracts share, as TypedDicts: mypy checks their keys and value types
# where they are built, and a contract's required field missing from a spread.


class Envelope(TypedDict):
    event_id: UUID
    occurred_at: datetime
    aggregate_id: str
    aggregate_version: int
    correlation_id: str | None
    producer: str


class DealFields(Envelope):
    deal_id: str
    pipeline_id: str


class Transition(DealFields):
    from_stage: str
    to_stage: str
    from_stage_entered_at: datetime
    from_stage_entered_version: int
    status: DealStatus
    manager_id: str | None


class TaskFields(Envelope):
    task_id: str
    deal_id: str
    manager_id: str | None
    client_id: str | None


def envelope(e: AggregateEvent, correlation_id: str | None) -> Envelope:
    """Event id derived from (aggregate, version): a re-publish after a crash is a duplicate."""
    return Envelope(
        event_id=derived_id("event", e.originator_id, e.originator_version),
        occurred_at=e.timestamp,
        aggregate_id=str(e.originator_id),
        aggregate_version=e.originator_version,
        correlation_id=correlation_id,
        producer=PRODUCER,
    )


def deal_fields(e: Deal.Event) -> DealFields:
    return DealFields(
        **envelope(e, e.correlation_id), deal_id=str(e.originator_id), pipeline_id=e.pipeline_id
    )


def opened(e: Deal.Opened) -> Event:
    return DealOpened(
        **deal_fields(e),
        causation_id=e.lead_id,
        lead_id=e.lead_id,
        stage=e.stage,
        title=e.title,
        manager_id=e.manager_id,
        client_id=e.client_id,
        source=e.source,
        amount=e.amount,
        currency=e.currency,
        cost=e.cost,
        expected_close_date=e.expected_close_date,
    )


def stage_changed(e: Deal.StageChanged) -> Event:
    """Into a won stage: deal.won; into a lost one: deal.lost; out of either: deal.reopened."""
    transition = Transition(
        **deal_fields(e),
        from_stage=e.from_stage,
        to_stage=e.to_stage,
        from_stage_entered_at=e.from_stage_entered_at,
        from_stage_entered_version=e.from_stage_entered_version,
        status=e.status,
        manager_id=e.manager_id,
    )
    if e.status == "won":
        return DealWon(**transition, amount=e.amount, currency=e.currency)
    if e.status == "lost":
        return DealLost(**transition, lost_reason=e.lost_reason or "")
    if e.from_status != "open":
        return DealReopened(**transition)
    return DealStageChanged(**transition, lost_reason=e.lost_reason)


def amount_changed(e: Deal.AmountChanged) -> Event:
    return DealAmountChanged(
        **deal_fields(e),
        amount=e.amount,
        currency=e.currency,
        cost=e.cost,
        previous_amount=e.previous_amount,
        expected_close_date=e.expected_close_date,
    )


def assigned(e: Deal.Assigned) -> Event:
    return DealAssigned(
        **deal_fields(e), manager_id=e.manager_id, previous_manager_id=e.previous_manager_id
    )


def invoice_issued(e: Deal.InvoiceIssued) -> Event:
    return DealInvoiceIssued(
        **deal_fields(e),
        invoice_id=e.invoice_id,
        number=e.number,
        amount=e.amount,
        currency=e.currency,
        client_id=e.client_id,
        requisites=Requisites(**e.requisites),
        due_date=e.due_date,
    )


def payment_received(e: Deal.PaymentReceived) -> Event:
    return DealPaymentReceived(
        **deal_fields(e),
        payment_id=e.payment_id,
        invoice_id=e.invoice_id,
        amount=e.amount,
        currency=e.currency,
        paid_at=e.paid_at,
        client_id=e.client_id,
        manager_id=e.manager_id,
        paid_total=e.paid_total,
    )


def task_fields(e: Deal.TaskScheduled | Deal.TaskCompleted | Deal.TaskCancelled) -> TaskFields:
    return TaskFields(
        **envelope(e, e.correlation_id),
        task_id=e.task_id,
        deal_id=str(e.originator_id),
        manager_id=e.manager_id,
        client_id=e.client_id,
    )


def task_scheduled(e: Deal.TaskScheduled) -> Event:
    return TaskScheduled(**task_fields(e), title=e.title, kind=e.kind, due_at=e.due_at)


def task_completed(e: Deal.TaskCompleted) -> Event:
    return TaskCompleted(**task_fields(e))


def task_cancelled(e: Deal.TaskCancelled) -> Event:
    return TaskCancelled(**task_fields(e), reason=e.reason)


def client_registered(e: Client.Registered) -> Event:
    return ClientRegistered(
        **envelope(e, e.lead_id),
        client_id=str(e.originator_id),
        name=e.name,
        phone=e.phone,
        email=e.email,
        lead_id=e.lead_id,
    )


def client_updated(e: Client.Updated) -> Event:
    return ClientUpdated(
        **envelope(e, None),
        client_id=str(e.originator_id),
        name=e.name,
        phones=e.phones,
        emails=e.emails,
        telegram_chat_id=e.telegram_chat_id,
        requisites=Requisites(**e.requisites),
    )


def manager_updated(e: Manager.CardSet) -> Event:
    return ManagerUpdated(
        **envelope(e, None),
        manager_id=e.manager_id,
        name=e.name,
        email=e.email,
        telegram_chat_id=e.telegram_chat_id,
        phone=e.phone,
        timezone=e.timezone,
        active=e.active,
        role=e.role,  # events stored before roles existed read the default
    )


def plan_set(e: Plan.TermsSet) -> Event:
    return PlanSet(
        **envelope(e, None),
        manager_id=e.manager_id,
        month=e.month,
        amount=e.amount,
        currency=e.currency,
    )


def pipeline_defined(e: PipelineDefinition.TermsSet) -> Event:
    return PipelineDefined(
        **envelope(e, None),
        pipeline_id=e.pipeline_id,
        name=e.name,
        stages=[Stage(**s) for s in e.stages],
        lost_reasons=e.lost_reasons,
    )


class Mappings:
    """Each domain event class with the function that maps it. `add` checks each pair's types
    and stores the function behind an `isinstance` that narrows its argument (always true:
    the lookup is by the exact class), so nothing is typed `Any`."""

    def __init__(self) -> None:
        self._by_type: dict[type[object], Callable[[object], Event | None]] = {}

    def add(self, event_type: type[E], mapping: Callable[[E], Event]) -> Mappings:
        def narrowed(event: object) -> Event | None:
            return mapping(event) if isinstance(event, event_type) else None

        self._by_type[event_type] = narrowed
        return self

    def get(self, event_type: type[object]) -> Callable[[object], Event | None] | None:
        return self._by_type.get(event_type)


MAPPINGS = (
    Mappings()
    .add(Deal.Opened, opened)
    .add(Deal.StageChanged, stage_changed)
    .add(Deal.AmountChanged, amount_changed)
    .add(Deal.Assigned, assigned)
    .add(Deal.InvoiceIssued, invoice_issued)
    .add(Deal.PaymentReceived, payment_received)
    .add(Deal.TaskScheduled, task_scheduled)
    .add(Deal.TaskCompleted, task_completed)
    .add(Deal.TaskCancelled, task_cancelled)
    .add(Client.Registered, client_registered)
    .add(Client.Updated, client_updated)
    .add(Manager.Registered, manager_updated)
    .add(Manager.Updated, manager_updated)
    .add(Plan.Set, plan_set)
    .add(Plan.Changed, plan_set)
    .add(PipelineDefinition.Defined, pipeline_defined)
    .add(PipelineDefinition.Redefined, pipeline_defined)
)


def to_contract(domain_event: object) -> Event | None:
    """None for events that stay inside the service."""
    mapping = MAPPINGS.get(type(domain_event))
    return mapping(domain_event) if mapping else None


@lru_cache(maxsize=256)
def relayed(topic: str) -> bool:
    """Whether events of this stored topic go on the bus: the others (a third of a lead's
    events) need not be decoded. A topic that does not resolve is decoded, and fails there."""
    try:
        return MAPPINGS.get(resolve_topic(topic)) is not None
    except Exception:
        return True
