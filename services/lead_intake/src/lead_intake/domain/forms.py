"""Forms as data: what a form accepts, and turning one HTML submission into a `LeadIn`."""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from crm_contracts.runtime.errors import Invalid
from crm_contracts.text import NUL, NulFree
from lead_intake.domain.emails import normalise_email
from lead_intake.domain.leads import (
    CLICK_IDS,
    UTM_FIELDS,
    LeadIn,
    TouchIn,
)
from lead_intake.domain.phones import normalise_phone

FORM_ID = r"^[A-Za-z0-9_-]{1,64}$"  # also a NATS KV key, so no dots
FieldType = Literal["string", "phone", "email", "number", "choice", "bool"]

# Hidden fields the embed script fills; any form accepts them.
TOUCH_FIELDS = (*UTM_FIELDS, *CLICK_IDS, "referrer", "landing_url", "visitor_id")
FIRST_PREFIX = "first_"
FORM_KEY, HONEYPOT, RENDERED_AT, SUBMISSION_ID = (
    "_form_key",
    "_hp",
    "_rendered_at",
    "_submission_id",
)
SERVICE_FIELDS = (FORM_KEY, HONEYPOT, RENDERED_AT, SUBMISSION_ID)
# Form field names that fill the contract's own fields rather than `custom_fields`.
CONTRACT_FIELDS: dict[str, FieldType] = {
    "name": "string",
    "phone": "phone",
    "email": "email",
    "message": "string",
    "consent": "bool",
}
RESERVED = {*TOUCH_FIELDS, *(FIRST_PREFIX + f for f in (*TOUCH_FIELDS, "at")), *SERVICE_FIELDS}
TRUE, FALSE = {"1", "true", "on", "yes"}, {"", "0", "false", "off", "no"}


class FieldSpec(NulFree):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    type: FieldType = "string"
    required: bool = False
    max_length: int = Field(default=500, ge=1, le=5000)
    choices: list[str] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.name in RESERVED:
            raise ValueError(f"{self.name!r} is reserved for the embed script")
        if self.name in CONTRACT_FIELDS and self.type != CONTRACT_FIELDS[self.name]:
            raise ValueError(f"field {self.name!r} must be of type {CONTRACT_FIELDS[self.name]}")
        if (self.type == "choice") != bool(self.choices):
            raise ValueError("choices are given exactly for fields of type choice")
        return self


class FormIn(NulFree):
    """A form as the operator defines it (`PUT /v1/forms/{form_id}`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(default="", max_length=200)
    enabled: bool = True
    fields: list[FieldSpec] = Field(min_length=1, max_length=40)
    hidden_fields: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Extra hidden inputs kept in custom_fields (touch fields are always read)",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=50,
        description='Origins allowed to post, e.g. "https://shop.example"; empty: any',
    )
    thank_you_url: HttpUrl | None = None
    public_key: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,128}$",
        description="Sent by the page as _form_key; generated when absent",
    )

    @field_validator("hidden_fields")
    @classmethod
    def _hidden_names(cls, names: list[str]) -> list[str]:
        for name in names:
            FieldSpec(name=name)  # same naming rules as visible fields
        return names

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        return [normalise_origin(o) for o in origins]

    @model_validator(mode="after")
    def _unique_names(self) -> FormIn:
        names = [f.name for f in self.fields] + self.hidden_fields
        if len(names) != len(set(names)):
            raise ValueError("field names must be unique")
        if not {"phone", "email"} & set(names):
            raise ValueError("a form needs a phone or an email field: a lead needs a contact")
        return self


class Form(FormIn):
    form_id: str = Field(pattern=FORM_ID)
    public_key: str


def define_form(form_id: str, data: FormIn) -> Form:
    key = data.public_key or secrets.token_urlsafe(16)
    return Form(**data.model_dump(exclude={"public_key"}), form_id=form_id, public_key=key)


def normalise_origin(origin: str) -> str:
    origin = origin.strip().rstrip("/").lower()
    if origin != "*" and not origin.startswith(("http://", "https://")):
        raise ValueError(f"{origin!r} is not an origin like https://shop.example")
    return origin


def origin_allowed(form: Form, origin: str | None) -> bool:
    """An empty list (or "*") allows any origin; otherwise the browser's Origin must match."""
    if not form.allowed_origins or "*" in form.allowed_origins:
        return True
    return origin is not None and origin.rstrip("/").lower() in form.allowed_origins


def spam_reason(values: Mapping[str, str], now: datetime, min_fill_seconds: float) -> str | None:
    """Why this submission looks like a bot (honeypot filled, or posted too soon after the
    page rendered the form), or None. The render time is the server's clock (see embed.js)."""
    if values.get(HONEYPOT, "").strip():
        return "honeypot"
    rendered = values.get(RENDERED_AT, "").strip()
    if rendered:
        try:
            rendered_ms = float(rendered)
        except ValueError:
            return "bad_render_time"
        if not math.isfinite(rendered_ms):
            return "bad_render_time"
        if now.timestamp() - rendered_ms / 1000 < min_fill_seconds:
            return "too_fast"
    return None


def max_length(model: type[BaseModel], name: str, default: int) -> int:
    for rule in model.model_fields[name].metadata if name in model.model_fields else ():
        if hasattr(rule, "max_length"):
            return int(rule.max_length)
    return default


def _typed(spec: FieldSpec, raw: str, phone_region: str) -> str | bool:
    # a contract field cannot hold more than the contract's model allows, whatever the form says
    limit = min(spec.max_length, max_length(LeadIn, spec.name, spec.max_length))
    if len(raw) > limit:
        raise Invalid(f"longer than {limit} characters", spec.name)
    match spec.type:
        case "phone":
            return normalise_phone(raw, phone_region)
        case "email":
            return normalise_email(raw)
        case "number":
            try:
                number = float(raw.replace(",", "."))
            except ValueError:
                raise Invalid("not a number", spec.name) from None
            if not math.isfinite(number):
                raise Invalid("not a number", spec.name)
            return raw
        case "choice":
            if raw not in spec.choices:
                raise Invalid(f"not one of {', '.join(spec.choices)}", spec.name)
            return raw
        case "bool":
            if raw.lower() not in TRUE | FALSE:
                raise Invalid("not a yes/no value", spec.name)
            return raw.lower() in TRUE
    return raw


def _touch(values: Mapping[str, str], prefix: str = "") -> dict[str, str]:
    """Touch fields are filled by a script, not typed: too long is cut, never a rejection."""
    touch = {}
    for name in TOUCH_FIELDS:
        value = values.get(prefix + name, "").strip()
        if value:
            touch[name] = value[: max_length(TouchIn, name, 512)]
    return touch


def _first_touch(values: Mapping[str, str]) -> TouchIn | None:
    touch: dict[str, object] = dict(_touch(values, FIRST_PREFIX))
    at = values.get(FIRST_PREFIX + "at", "").strip()
    if at:
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            pass  # a broken timestamp loses the time, not the lead
        else:
            touch["at"] = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    return TouchIn.model_validate(touch) if touch else None


def lead_from_submission(
    form: Form, values: Mapping[str, str], phone_region: str
) -> tuple[LeadIn | None, list[Invalid]]:
    """Check every field against the form; all problems are reported at once."""
    errors = [Invalid("contains a NUL character", name) for name, v in values.items() if NUL in v]
    if errors:  # every other value, hidden and tracking ones included, is then NUL-free
        return None, errors
    lead: dict[str, object] = {"form_id": form.form_id, "source": "form"}
    custom: dict[str, str] = {}
    for spec in form.fields:
        raw = values.get(spec.name, "").strip()
        if not raw:
            if spec.required:
                errors.append(Invalid("required", spec.name))
            continue
        try:
            value = _typed(spec, raw, phone_region)
        except Invalid as exc:
            errors.append(exc)
            continue
        if spec.name in CONTRACT_FIELDS:
            lead[spec.name] = value
        else:
            custom[spec.name] = str(value).lower() if isinstance(value, bool) else str(value)
    for name in form.hidden_fields:
        if value := values.get(name, "").strip():
            custom[name] = value[:500]
    if errors:
        return None, errors
    lead |= _touch(values)
    submission_id = values.get(SUBMISSION_ID, "").strip()
    return (
        LeadIn(
            **lead,
            custom_fields=custom,
            first_touch=_first_touch(values),
            submission_id=submission_id[:200] or None,
        ),
        [],
    )
