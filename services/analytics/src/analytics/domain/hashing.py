"""Contact identifiers for analysts: salted SHA-256, never the raw phone or e-mail."""

from __future__ import annotations

import hashlib
import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\+?\d[\d\s().-]{8,}\d")


def contact_hash(value: str | None, salt: str) -> str:
    if not value:
        return ""
    return hashlib.sha256(f"{salt}:{value.strip().lower()}".encode()).hexdigest()


def mask_contacts(text: str, salt: str) -> str:
    """Free text (a deal title, a message, a custom field) with any e-mail or phone number in
    it replaced by a short salted hash."""

    def masked(match: re.Match[str]) -> str:
        return f"[{contact_hash(match.group(0), salt)[:12]}]"

    if "@" in text:
        text = EMAIL.sub(masked, text)
    return PHONE.sub(masked, text) if len(text) >= 10 else text


CONTACT_KEYS = {"phone", "email"}
CONTACT_LISTS = {"phones", "emails"}
# In an event of a known type these hold a validated id, date-time or amount, never free text:
# masking them would only take dates and long amounts for phone numbers (and cost time).
NOT_TEXT = {"event_id", "event_type", "amount", "cost", "paid_total", "previous_amount", "at"}


def _is_uuid(value: str) -> bool:
    """Shaped like a UUID (a validated id, whose all-digit runs are no phone number)."""
    return len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-"


def scrub(data: object, salt: str, personal: bool = False, known: bool = False) -> object:
    """A copy of an event payload with phones and e-mails hashed and people's names dropped
    (inside `contact` and in client events), for the raw `events` table. `known`: the payload
    was validated as a known event type, so its typed fields are left as they are."""
    if isinstance(data, list):
        return [scrub(item, salt, personal, known) for item in data]
    if not isinstance(data, dict):
        return data
    personal = personal or str(data.get("event_type", "")).startswith("client.")
    out: dict[str, object] = {}
    for key, value in data.items():
        kind = type(value)
        if kind is str:  # the common case first: one event is mostly short strings
            if key in CONTACT_KEYS:
                out[f"{key}_hash"] = contact_hash(value, salt)
            elif key == "name" and personal:
                continue
            elif known and (key in NOT_TEXT or key.endswith("_at") or _is_uuid(value)):
                out[key] = value
            else:
                out[key] = mask_contacts(value, salt)
        elif value is None or kind is int or kind is bool or kind is float:
            out[key] = value
        elif key in CONTACT_LISTS and kind is list:
            out[f"{key}_hashes"] = [contact_hash(v, salt) for v in value if isinstance(v, str)]
        elif key == "name" and personal:
            continue
        else:
            out[key] = scrub(value, salt, personal or key == "contact", known)
    return out
