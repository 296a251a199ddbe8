"""What intake computed before its quick paths, through the libraries alone: the tests hold the
quick paths to these."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from crm_contracts.runtime.errors import Invalid


def normalise_phone(raw: str, region: str) -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as exc:
        raise Invalid(f"not a phone number ({exc})", "phone") from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid("not a valid phone number", "phone")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def first_values(url: str) -> dict[str, str]:
    try:
        return {name: found[0] for name, found in parse_qs(urlsplit(url).query).items()}
    except ValueError:
        return {}
