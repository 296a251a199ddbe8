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

    return PHONE.sub(masked, EMAIL.sub(masked, text))


CONTACT_KEYS = {"phone", "email"}
CONTACT_LISTS = {"phones", "emails"}


def scrub(data: object, salt: str, personal: bool = False) -> object:
    """A copy of an event payload with phones and e-mails hashed and people's names dropped
    (inside `contact` and in client events), for the raw `events` table."""
    if isinstance(data, list):
        return [scrub(item, salt, personal) for item in data]
    if not isinstance(data, dict):
        return data
    personal = personal or str(data.get("event_type", "")).startswith("client.")
    out: dict[str, object] = {}
    for key, value in data.items():
        if key in CONTACT_KEYS and isinstance(value, str):
            out[f"{key}_hash"] = contact_hash(value, salt)
        elif key in CONTACT_LISTS and isinstance(value, list):
            out[f"{key}_hashes"] = [contact_hash(v, salt) for v in value if isinstance(v, str)]
        elif key == "name" and personal:
            continue
        elif isinstance(value, str):
            out[key] = mask_contacts(value, salt)
        else:
            out[key] = scrub(value, salt, personal or key == "contact")
    return out
