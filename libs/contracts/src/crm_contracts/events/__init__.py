"""All event contracts, the union used to parse any of them, and their subjects."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from crm_contracts.envelope import Event
from crm_contracts.events.deals import DealOpened, DealStageChanged, DealStatus
from crm_contracts.events.leads import Contact, LeadReceived, Touch

EVENT_TYPES: tuple[type[Event], ...] = (LeadReceived, DealOpened, DealStageChanged)

AnyEvent = Annotated[
    LeadReceived | DealOpened | DealStageChanged, Field(discriminator="event_type")
]
ANY_EVENT = TypeAdapter(AnyEvent)


def event_type_of(cls: type[Event]) -> str:
    return cls.model_fields["event_type"].default


BY_TYPE: dict[str, type[Event]] = {event_type_of(cls): cls for cls in EVENT_TYPES}

__all__ = [
    "ANY_EVENT",
    "BY_TYPE",
    "EVENT_TYPES",
    "AnyEvent",
    "Contact",
    "DealOpened",
    "DealStageChanged",
    "DealStatus",
    "LeadReceived",
    "Touch",
    "event_type_of",
]
