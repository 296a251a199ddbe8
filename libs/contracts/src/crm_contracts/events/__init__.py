"""All event contracts, the union used to parse any of them, and their subjects."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from crm_contracts.envelope import Event
from crm_contracts.events.crm import (
    ClientRegistered,
    ClientUpdated,
    ManagerRole,
    ManagerUpdated,
    PipelineDefined,
    PlanSet,
)
from crm_contracts.events.deals import (
    DealAmountChanged,
    DealAssigned,
    DealEvent,
    DealInvoiceIssued,
    DealLost,
    DealOpened,
    DealPaymentReceived,
    DealReopened,
    DealStageChanged,
    DealStatus,
    DealWon,
    Requisites,
    StageTransition,
    TaskCancelled,
    TaskCompleted,
    TaskEvent,
    TaskKind,
    TaskScheduled,
)
from crm_contracts.events.leads import Contact, LeadReceived, Touch
from crm_contracts.events.notifications import NotificationFailed, NotificationSent

EVENT_TYPES: tuple[type[Event], ...] = (
    LeadReceived,
    DealOpened,
    DealStageChanged,
    DealWon,
    DealLost,
    DealReopened,
    DealAmountChanged,
    DealAssigned,
    DealInvoiceIssued,
    DealPaymentReceived,
    TaskScheduled,
    TaskCompleted,
    TaskCancelled,
    ClientRegistered,
    ClientUpdated,
    ManagerUpdated,
    PlanSet,
    PipelineDefined,
    NotificationSent,
    NotificationFailed,
)

AnyEvent = Annotated[
    LeadReceived
    | DealOpened
    | DealStageChanged
    | DealWon
    | DealLost
    | DealReopened
    | DealAmountChanged
    | DealAssigned
    | DealInvoiceIssued
    | DealPaymentReceived
    | TaskScheduled
    | TaskCompleted
    | TaskCancelled
    | ClientRegistered
    | ClientUpdated
    | ManagerUpdated
    | PlanSet
    | PipelineDefined
    | NotificationSent
    | NotificationFailed,
    Field(discriminator="event_type"),
]
ANY_EVENT = TypeAdapter(AnyEvent)


def event_type_of(cls: type[Event]) -> str:
    return str(cls.model_fields["event_type"].default)


BY_TYPE: dict[str, type[Event]] = {event_type_of(cls): cls for cls in EVENT_TYPES}
BY_SUBJECT: dict[str, type[Event]] = {cls.SUBJECT: cls for cls in EVENT_TYPES}

__all__ = [
    "ANY_EVENT",
    "BY_SUBJECT",
    "BY_TYPE",
    "EVENT_TYPES",
    "AnyEvent",
    "ClientRegistered",
    "ClientUpdated",
    "Contact",
    "DealAmountChanged",
    "DealAssigned",
    "DealEvent",
    "DealInvoiceIssued",
    "DealLost",
    "DealOpened",
    "DealPaymentReceived",
    "DealReopened",
    "DealStageChanged",
    "DealStatus",
    "DealWon",
    "LeadReceived",
    "ManagerRole",
    "ManagerUpdated",
    "NotificationFailed",
    "NotificationSent",
    "PipelineDefined",
    "PlanSet",
    "Requisites",
    "StageTransition",
    "TaskCancelled",
    "TaskCompleted",
    "TaskEvent",
    "TaskKind",
    "TaskScheduled",
    "Touch",
    "event_type_of",
]
