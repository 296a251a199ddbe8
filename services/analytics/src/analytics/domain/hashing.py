"""Contact identifiers for analysts: salted SHA-256, never the raw phone or e-mail."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import AwareDatetime, BaseModel

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\+?\d[\d\s().-]{8,}\d")


def contact_hash(value: str | None, salt: str) -> str:
    if not value:
        return ""
    return hashlib.sha256(f"{salt}:{value.strip().lower()}".encode()).hexdigest()


def mask_contacts(text: str, salt: str) -> str:
    """Free text (a deal title, a message, a custom field) with any e-mail or phone number in
    it replaced by a short salted hash."""
    key = (text, salt)
    done = _MASKED.get(key)
    if done is None:
        done = _mask(text, salt)
        if len(_MASKED) >= MASKED_KEPT:
            _MASKED.clear()
        _MASKED[key] = done
    return done


# The same texts come again and again (landing pages, titles, visitor ids, campaign names):
# their masked form is kept, so each is searched for contacts once, not at every event.
MASKED_KEPT = 65_536
_MASKED: dict[tuple[str, str], str] = {}


def _mask(text: str, salt: str) -> str:
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


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _is_uuid(value: str) -> bool:
    """A UUID (a validated id, whose all-digit runs are no phone number)."""
    return len(value) == 36 and value[8] == "-" and _UUID.fullmatch(value) is not None


def scrub(data: object, salt: str, personal: bool = False, known: bool = False) -> object:
    """A copy of an event payload with phones and e-mails hashed and people's names dropped
    (inside `contact` and in client events), for the raw `events` table. `known`: the payload
    was validated as a known event type, so its typed fields are left as they are."""
    if isinstance(data, list):  # a list's own strings are text too (reasons, stage names)
        return [
            _masked(item, salt, known) if type(item) is str else scrub(item, salt, personal, known)
            for item in data
        ]
    if not isinstance(data, dict):
        return data
    personal = personal or str(data.get("event_type", "")).startswith("client.")
    out: dict[str, object] = {}
    for key, value in data.items():
        _scrub_item(out, key, value, salt, personal, known)
    return out


def _masked(text: str, salt: str, known: bool) -> str:
    return text if known and _is_uuid(text) else mask_contacts(text, salt)


def _scrub_item(
    out: dict[str, object], key: str, value: object, salt: str, personal: bool, known: bool
) -> None:
    kind = type(value)
    if kind is str:  # the common case first: one event is mostly short strings
        text = str(value)
        if key in CONTACT_KEYS:
            out[f"{key}_hash"] = contact_hash(text, salt)
        elif key == "name" and personal:
            return
        elif known and (key in NOT_TEXT or key.endswith("_at")):
            out[key] = value
        else:
            out[key] = _masked(text, salt, known)
    elif value is None or kind is int or kind is bool or kind is float:
        out[key] = value
    elif key in CONTACT_LISTS and isinstance(value, list):
        out[f"{key}_hashes"] = [contact_hash(v, salt) for v in value if isinstance(v, str)]
    elif key == "name" and personal:
        return
    else:
        out[key] = scrub(value, salt, personal or key == "contact", known)


@dataclass(frozen=True)
class ScrubPlan:
    """What a known event type's validation already proves about its keys, so that most of
    them skip `scrub`'s checks: `keep` holds the fields typed as numbers, ids, dates, times,
    enums or literals (no contact can hide there) and the named time and amount fields;
    `text` the other plain strings; `nested` the fields holding one model, scrubbed by its
    own plan. Any other key takes `scrub`'s way; the result is the same as `scrub`'s."""

    keep: frozenset[str]
    text: frozenset[str]
    nested: Mapping[str, ScrubPlan]
    numbers: frozenset[str]  # in `keep`; lax validation takes "79123456789" for an int
    fields: frozenset[str]  # every field of the model: any other key was never validated
    # The keys `untouched` can vouch for (`keep`, `text`, `nested`), and the ones it looks at.
    plain: frozenset[str] = field(init=False)
    looked_at: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", self.keep | self.text | self.nested.keys())
        object.__setattr__(self, "looked_at", (*self.numbers, *self.text, *self.nested))

    def apply(self, data: dict[str, Any], salt: str, personal: bool = False) -> dict[str, Any]:
        """The payload scrubbed; `data` itself when nothing in it would change (most events:
        a deal's or a task's, or a lead's without contacts), so that its JSON can be reused."""
        personal = personal or str(data.get("event_type", "")).startswith("client.")
        return data if self.untouched(data, salt) else self._scrubbed(data, salt, personal)

    def untouched(self, data: dict[str, Any], salt: str) -> bool:
        """Nothing in `data` is one to scrub: every key is one of the plan's own (never a
        name or a contact, so whose payload it is does not matter), with a value `_scrubbed`
        keeps as it is. Only the text, number and nested keys are looked at, and anything
        unusual (a number as a string, a nested list) answers no, to be safe."""
        if not data.keys() <= self.plain:
            return False
        text, numbers = self.text, self.numbers
        for key in self.looked_at:
            value = data.get(key)
            if value is None:
                continue
            kind = type(value)
            if key in numbers:
                if kind is str:
                    return False
            elif key in text:
                if kind is not str or not _unmasked(value, salt):
                    return False
            elif kind is not dict or not self.nested[key].untouched(value, salt):
                return False
        return True

    def _scrubbed(self, data: dict[str, Any], salt: str, personal: bool) -> dict[str, Any]:
        keep, text, nested = self.keep, self.text, self.nested
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in keep and not (key in self.numbers and type(value) is str):
                out[key] = value
            elif key in text and type(value) is str:
                out[key] = value if _unmasked(value, salt) else mask_contacts(value, salt)
            elif key in nested and type(value) is dict:
                out[key] = nested[key].apply(value, salt, personal or key == "contact")
            else:
                _scrub_item(out, key, value, salt, personal, key in self.fields)
        return out


def _unmasked(text: str, salt: str) -> bool:
    """`mask_contacts` leaves this text as it is: shorter than any phone and no "@", or a
    UUID (a validated id), or found so before (with any salt: the salt changes a contact's
    mask, not whether there is one). Ids and names come again and again: a set lookup is a
    fraction of the UUID pattern's match."""
    if (len(text) < 10 and "@" not in text) or text in _CLEAN:
        return True
    if _is_uuid(text) or mask_contacts(text, salt) == text:
        if len(_CLEAN) >= MASKED_KEPT:
            _CLEAN.clear()
        _CLEAN.add(text)
        return True
    return False


_CLEAN: set[str] = set()  # texts found to hold no contact


_PLANS: dict[type[BaseModel], ScrubPlan] = {}
_TYPED = (int, float, bool, Decimal, UUID, datetime, date, time, Enum, AwareDatetime)
_ALWAYS_SCRUBBED = CONTACT_KEYS | CONTACT_LISTS | {"name"}


def scrub_plan(model: type[BaseModel]) -> ScrubPlan:
    """The plan of one model class (built once, from its fields' annotations)."""
    plan = _PLANS.get(model)
    if plan is None:
        keep, text, nested, numbers = set(), set(), {}, set()
        for name, info in model.model_fields.items():
            aliased = info.alias not in (None, name) or info.validation_alias not in (None, name)
            if name in _ALWAYS_SCRUBBED or aliased:
                continue
            shape = _shape(info.annotation)
            if shape == "number":
                numbers.add(name)
            if shape in ("typed", "number") or (
                shape == "str" and (name in NOT_TEXT or name.endswith("_at"))
            ):
                keep.add(name)
            elif shape == "str":
                text.add(name)
            elif isinstance(shape, type):
                nested[name] = scrub_plan(shape)
        plan = _PLANS[model] = ScrubPlan(
            frozenset(keep),
            frozenset(text),
            nested,
            frozenset(numbers),
            frozenset(model.model_fields),
        )
    return plan


def _shape(annotation: Any) -> str | type[BaseModel] | None:
    """ "number" for an int, float or bool; "typed" when every value of the annotation is a
    string that `mask_contacts` leaves alone by its type (or null); "str" for a plain string
    (or null); a model class; else None (lists, dicts, unions of several shapes)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _shape(get_args(annotation)[0])
    if origin in (Union, UnionType):
        shapes = {_shape(a) for a in get_args(annotation) if a is not NoneType}
        return shapes.pop() if len(shapes) == 1 else None
    if origin is Literal:
        values = [str(v) for v in get_args(annotation)]
        return "typed" if all(mask_contacts(v, "") == v for v in values) else None
    if isinstance(annotation, type):
        if issubclass(annotation, int | float):  # bool too
            return "number"
        if issubclass(annotation, _TYPED):
            return "typed"
        if annotation is str:
            return "str"
        if issubclass(annotation, BaseModel):
            return annotation
    return None
