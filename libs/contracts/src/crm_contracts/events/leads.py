"""Events of the lead-intake context."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from crm_contracts.envelope import Contract, Event


class Touch(Contract):
    """One marketing touch: where a visitor came from (UTM, referrer, click ids)."""

    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    referrer: str | None = None
    landing_url: str | None = None
    gclid: str | None = None
    yclid: str | None = None
    fbclid: str | None = None
    visitor_id: str | None = None
    at: AwareDatetime | None = Field(default=None, description="When the touch happened")


class Contact(Contract):
    name: str | None = None
    phone: str | None = Field(default=None, description="E.164")
    email: str | None = Field(default=None, description="Lower-cased")


class LeadReceived(Event):
    SUBJECT: ClassVar[str] = "crm.leads.received"

    event_type: Literal["lead.received"] = "lead.received"
    lead_id: str
    form_id: str
    source: str = Field(default="form", description="form, api, call, chat, import, ...")
    received_at: datetime
    contact: Contact
    message: str | None = None
    custom_fields: dict[str, str] = Field(default_factory=dict)
    consent: bool = False
    touch: Touch = Field(default_factory=Touch)
    first_touch: Touch | None = None
