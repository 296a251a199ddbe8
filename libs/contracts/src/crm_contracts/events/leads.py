"""Events of the lead-intake context."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from crm_contracts.envelope import Contract, Event


class Touch(Contract):
    """One marketing touch: where a visitor came from (UTM, referrer, click ids)."""

    utm_source: str | None = Field(default=None, description="utm_source of the visit.")
    utm_medium: str | None = Field(default=None, description="utm_medium of the visit.")
    utm_campaign: str | None = Field(default=None, description="utm_campaign of the visit.")
    utm_content: str | None = Field(default=None, description="utm_content of the visit.")
    utm_term: str | None = Field(default=None, description="utm_term of the visit.")
    referrer: str | None = Field(default=None, description="The referring page.")
    landing_url: str | None = Field(default=None, description="The page the visitor landed on.")
    gclid: str | None = Field(default=None, description="Google Ads click id.")
    yclid: str | None = Field(default=None, description="Yandex Direct click id.")
    fbclid: str | None = Field(default=None, description="Facebook click id.")
    visitor_id: str | None = Field(
        default=None, description="The embed script's first-party visitor id."
    )
    at: AwareDatetime | None = Field(default=None, description="When the touch happened")


class Contact(Contract):
    name: str | None = Field(default=None, description="As given.")
    phone: str | None = Field(default=None, description="E.164")
    email: str | None = Field(default=None, description="Lower-cased")


class LeadReceived(Event):
    SUBJECT: ClassVar[str] = "crm.leads.received"

    event_type: Literal["lead.received"] = "lead.received"
    lead_id: str = Field(description="The lead's id (a UUID).")
    form_id: str = Field(
        description="The form it came through; `api` by default for POST /v1/leads."
    )
    source: str = Field(default="form", description="form, api, call, chat, import, ...")
    received_at: datetime = Field(description="When intake accepted it.")
    contact: Contact = Field(
        description="Name, phone, e-mail: at least a phone or an e-mail is present."
    )
    message: str | None = Field(default=None, description="Free text the visitor wrote.")
    custom_fields: dict[str, str] = Field(
        default_factory=dict, description="Form fields that are not lead fields, and hidden fields."
    )
    consent: bool = Field(default=False, description="The visitor agreed to be contacted.")
    touch: Touch = Field(
        default_factory=Touch,
        description="The visit that posted the lead (last touch); `at` defaults to received_at.",
    )
    first_touch: Touch | None = Field(
        default=None, description="The visitor's first known touch, when the embed script knew it."
    )
