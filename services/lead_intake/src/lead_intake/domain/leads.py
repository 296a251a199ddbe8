"""Turning a submitted lead into a `LeadReceived` event: validation and normalisation, no I/O."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, ConfigDict, Field

from crm_contracts.envelope import derived_id
from crm_contracts.events import Contact, LeadReceived, Touch
from crm_contracts.runtime.errors import Invalid
from crm_contracts.text import NulFree
from lead_intake.domain.emails import normalise_email
from lead_intake.domain.phones import normalise_phone
from lead_intake.domain.url_query import first_values

PRODUCER = "lead-intake"
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
CLICK_IDS = ("gclid", "yclid", "fbclid")
FROM_QUERY = UTM_FIELDS + CLICK_IDS
Short = Field(default=None, max_length=512)


class TouchIn(NulFree):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    utm_source: str | None = Short
    utm_medium: str | None = Short
    utm_campaign: str | None = Short
    utm_content: str | None = Short
    utm_term: str | None = Short
    referrer: str | None = Field(default=None, max_length=2048)
    landing_url: str | None = Field(default=None, max_length=2048)
    gclid: str | None = Short
    yclid: str | None = Short
    fbclid: str | None = Short
    visitor_id: str | None = Field(default=None, max_length=128)
    at: AwareDatetime | None = None  # with its offset: a touch time must be unambiguous


class LeadIn(TouchIn):
    """A lead as integrations post it; the touch of this visit is given in flat fields."""

    form_id: str = Field(default="api", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    source: str = Field(default="api", pattern=r"^[a-z_]{1,32}$")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    message: str | None = Field(default=None, max_length=5000)
    custom_fields: dict[str, str] = Field(default_factory=dict, max_length=50)
    consent: bool = False
    first_touch: TouchIn | None = None
    submission_id: str | None = Field(
        default=None, max_length=200, description="Repeats with the same id make one lead"
    )


# The contract's touch fields, each read from the form's touch (a test checks TouchIn has them).
TOUCH_FIELDS: tuple[str, ...] = tuple(Touch.model_fields)


def touch_from(
    data: TouchIn, referer_header: str | None = None, default_at: datetime | None = None
) -> Touch:
    """Fields win; UTM and click ids missing from fields are read from the landing URL."""
    # What model_dump(include=..., exclude_none=True) gives (plain values), at a third of the cost
    values = {name: v for name in TOUCH_FIELDS if (v := getattr(data, name)) is not None}
    if data.landing_url:
        query = first_values(data.landing_url)  # a URL that does not parse: keep it, read none
        for key in FROM_QUERY:
            if key not in values and key in query:
                values[key] = query[key][:512]
    if "referrer" not in values and referer_header:
        values["referrer"] = referer_header[:2048]
    if default_at is not None:
        values.setdefault("at", default_at)
    return Touch(**values)


def lead_id_for(form_id: str, idempotency_key: str | None) -> uuid.UUID:
    """A repeated submission with the same key gets the same lead id (and so the same msg id)."""
    return derived_id("lead", form_id, idempotency_key) if idempotency_key else uuid.uuid4()


def build_lead_received(
    lead: LeadIn,
    lead_id: uuid.UUID,
    received_at: datetime,
    phone_region: str,
    referer_header: str | None = None,
) -> LeadReceived:
    phone = normalise_phone(lead.phone, phone_region) if lead.phone else None
    email = normalise_email(lead.email) if lead.email else None
    if not (phone or email):
        raise Invalid("give at least a phone or an email", "contact")
    touch = touch_from(lead, referer_header, default_at=received_at)
    lead_text = str(lead_id)
    return LeadReceived(
        event_id=lead_id,
        occurred_at=received_at,
        aggregate_id=lead_text,
        correlation_id=lead_text,
        producer=PRODUCER,
        lead_id=lead_text,
        form_id=lead.form_id,
        source=lead.source,
        received_at=received_at,
        contact=Contact(name=lead.name or None, phone=phone, email=email),
        message=lead.message or None,
        custom_fields=lead.custom_fields,
        consent=lead.consent,
        touch=touch,
        first_touch=touch_from(lead.first_touch) if lead.first_touch else None,
    )
