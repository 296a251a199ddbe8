"""Pure rules of lead intake: no I/O here."""

from lead_intake.domain.emails import normalise_email
from lead_intake.domain.leads import (
    LeadIn,
    TouchIn,
    build_lead_received,
    lead_id_for,
    touch_from,
)
from lead_intake.domain.phones import normalise_phone

__all__ = [
    "LeadIn",
    "TouchIn",
    "build_lead_received",
    "lead_id_for",
    "normalise_email",
    "normalise_phone",
    "touch_from",
]
