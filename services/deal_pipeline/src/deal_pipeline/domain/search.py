"""A client search: one text read as a phone, an e-mail and a piece of a name, each normalised
as lead intake normalises contacts, so a number typed any way finds the stored E.164."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from deal_pipeline.domain.listing import fold


@dataclass(frozen=True)
class ClientTerms:
    phone: str | None
    email: str | None
    name: str


def e164(raw: str, region: str) -> str | None:
    """As lead intake: parsed with the default region, valid numbers only."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def client_terms(query: str, region: str) -> ClientTerms:
    text = query.strip()
    email = text.lower() if "@" in text else None
    phone = e164(text, region) if any(c.isdigit() for c in text) else None
    return ClientTerms(phone=phone, email=email, name=fold(text))
