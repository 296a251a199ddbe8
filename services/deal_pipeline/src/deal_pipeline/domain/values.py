"""Checks of plain values shared by the aggregates (pure functions, no I/O)."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from deal_pipeline.domain.errors import InvalidValue

CURRENCY = re.compile(r"^[A-Z]{3}$")
PHONE = re.compile(r"^\+\d{7,15}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")  # local domains (anna@localhost) too
T = TypeVar("T", bound="DataclassInstance")


def money(value: Decimal | int, field: str, *, positive: bool = False) -> Decimal:
    value = Decimal(value)  # whole numbers are welcome too
    if not value.is_finite() or value < 0 or (positive and value == 0):
        rule = "greater than 0" if positive else "0 or more"
        raise InvalidValue(f"{field} must be {rule}, got {value}", field)
    return value


def currency(value: str, field: str = "currency") -> str:
    if not CURRENCY.match(value):
        raise InvalidValue(
            f"{field} must be three capital letters (ISO 4217), got {value!r}", field
        )
    return value


def aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(f"{field} needs a time zone", field)
    return value


def phone(value: str, field: str = "phone") -> str:
    """E.164: `+` and 7-15 digits; spaces, dashes and brackets are dropped."""
    cleaned = re.sub(r"[\s\-()]", "", value)
    if cleaned and not cleaned.startswith("+"):
        cleaned = "+" + cleaned
    if not PHONE.match(cleaned):
        raise InvalidValue(f"not a phone number in international form: {value!r}", field)
    return cleaned


def email(value: str, field: str = "email") -> str:
    cleaned = value.strip().lower()
    if not EMAIL.match(cleaned):
        raise InvalidValue(f"not an e-mail address: {value!r}", field)
    return cleaned


def part_of(cls: type[T], whole: object) -> T:
    """The `cls` dataclass made of the same-named attributes of `whole` (an event that
    carries its fields), so that those fields are listed once, on `cls`."""
    return cls(**{f.name: getattr(whole, f.name) for f in fields(cls)})
