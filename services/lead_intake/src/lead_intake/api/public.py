"""Public form endpoints as pages call them: submit (HTML form posts), CORS preflight, and the
embed script. Checks run cheapest first: form, origin, rate, body, key, spam, fields."""

from __future__ import annotations

import hmac
import html
import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile

from crm_contracts.envelope import utcnow
from crm_contracts.runtime.errors import Invalid, NotFound, Refused, ServiceError
from lead_intake.api.form_body import urlencoded_fields
from lead_intake.application.ports import FormsStore, RateLimit
from lead_intake.application.submit_lead import SubmitLead
from lead_intake.domain.abuse import retry_after_header
from lead_intake.domain.forms import (
    FORM_ID,
    FORM_KEY,
    Form,
    lead_from_submission,
    origin_allowed,
    spam_reason,
)
from lead_intake.metrics import RECEIVED, SPAM_DROPPED

EMBED_JS = files("lead_intake").joinpath("static/embed.js").read_text(encoding="utf-8")
MAX_FIELDS = 200
IDEMPOTENCY_KEY_MAX = 200
SUBMIT_PATH = "/{form_id}/submit"
ROUTE = "/v1/forms" + SUBMIT_PATH  # the route's template, as the request metrics name it
RECEIVED_FORM = RECEIVED.labels("form")  # resolved once
SUBMIT_BODY = {  # documented for OpenAPI (and schemathesis); the route parses it itself
    "required": True,
    "content": {
        media: {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}
        for media in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/json",
        )
    },
}


async def live_form(forms: FormsStore, form_id: str) -> Form:
    """The enabled form, from this replica's cache first (it keeps working while NATS is down)."""
    form = None
    if re.match(FORM_ID, form_id):
        form = forms.cached(form_id) or await forms.get(form_id)
    if form is None or not form.enabled:
        raise NotFound("no such form, or disabled", "form_id", error="form_not_found")
    return form


def origin_of(origin: str | None, referer: str | None) -> str | None:
    """Browsers send Origin on POST; an old one may send only Referer."""
    if origin:
        return origin
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def cors(origin: str | None) -> dict[str, str]:
    # "null" (sandboxed frames, file://) is never echoed: any such page would match it
    if not origin or origin == "null":
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def check_origin(form: Form, origin: str | None) -> dict[str, str]:
    if not origin_allowed(form, origin):
        raise Refused(f"{origin} may not post here", "origin", error="origin_not_allowed")
    return cors(origin)


@contextmanager
def cors_on_refusals(headers: dict[str, str]) -> Iterator[None]:
    """Once the origin is allowed, refusals carry its CORS headers too, so that the page's
    script can read why it was refused."""
    try:
        yield
    except ServiceError as refusal:
        refusal.headers = refusal.headers | headers
        raise


async def check_rate(limits: tuple[RateLimit, RateLimit], client: str, form: Form) -> None:
    per_ip, per_form = limits
    for limit, key, field in ((per_ip, client, "ip"), (per_form, form.form_id, "form_id")):
        wait = await limit.take(key)
        if wait is not None:
            raise Refused(
                "too many submissions",
                field,
                status=429,
                error="rate_limited",
                headers={"Retry-After": retry_after_header(wait)},
            )


async def read_values(request: Request) -> dict[str, str]:
    """The submitted fields as text, first value of each name; files are not taken."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("a JSON object is expected")
            items = [(str(k), v) for k, v in data.items()]
        elif content_type.lower().startswith("application/x-www-form-urlencoded"):
            items = urlencoded_fields(await request.body(), content_type)
        else:
            items = list((await request.form(max_files=0, max_fields=MAX_FIELDS)).multi_items())
    except Exception as exc:
        raise ServiceError(str(exc)[:200], "body", error="malformed_body") from None
    values: dict[str, str] = {}
    for name, value in items[:MAX_FIELDS]:
        if isinstance(value, UploadFile | dict | list):
            raise Invalid("must be plain text", name)
        values.setdefault(name, "" if value is None else str(value))
    return values


def check_key(form: Form, values: dict[str, str], header: str | None) -> None:
    given = (values.get(FORM_KEY) or header or "").encode()
    if not hmac.compare_digest(given, form.public_key.encode()):
        raise Refused("missing or wrong form key", FORM_KEY, error="wrong_form_key")


def success(
    form: Form, lead_id: str, status: str, wants_json: bool, headers: dict[str, str]
) -> Response:
    if wants_json:
        return JSONResponse({"lead_id": lead_id, "status": status}, 202, headers)
    if form.thank_you_url:
        return RedirectResponse(str(form.thank_you_url), 303, headers)
    title = html.escape(form.title or "Thank you")
    page = f"<!doctype html><title>{title}</title><p>Thank you! We will contact you soon.</p>"
    return HTMLResponse(page, 200, headers)


@dataclass(frozen=True)
class FormSubmission:
    """What a form post gets, on the route below or on `form_fast_path`."""

    forms: FormsStore
    submit_lead: SubmitLead
    limits: tuple[RateLimit, RateLimit]  # per client IP, per form
    min_fill_seconds: float
    phone_region: str

    async def answer(
        self,
        form_id: str,
        request: Request,
        accept: str | None,
        origin: str | None,
        referer: str | None,
        idempotency_key: str | None,
        x_form_key: str | None,
    ) -> Response:
        RECEIVED_FORM.inc()
        form = await live_form(self.forms, form_id)
        headers = check_origin(form, origin_of(origin, referer))
        with cors_on_refusals(headers):
            client = request.client.host if request.client else "unknown"
            await check_rate(self.limits, client, form)
            values = await read_values(request)
            check_key(form, values, x_form_key)
            wants_json = "application/json" in (accept or "")
            if reason := spam_reason(values, utcnow(), self.min_fill_seconds):
                SPAM_DROPPED.labels(reason).inc()  # a bot learns nothing from the answer
                return success(form, str(uuid.uuid4()), "accepted", wants_json, headers)
            # Without the script, the page that posted (Referer) is the landing page: a plain
            # form on a tagged landing page still yields its UTM. It is a referrer only when
            # from another site.
            if referer and not values.get("landing_url"):
                values["landing_url"] = referer
            page_origin = origin_of(origin, referer)
            foreign = referer if referer and origin_of(None, referer) != page_origin else None
            lead, errors = lead_from_submission(form, values, self.phone_region)
            if lead is None:
                raise Invalid.of((e.field, e.reason) for e in errors)
            outcome = await self.submit_lead.accept(lead, idempotency_key, foreign)
        return success(form, outcome.lead_id, outcome.status, wants_json, headers)


def build_router(submission: FormSubmission) -> APIRouter:
    forms = submission.forms
    router = APIRouter(prefix="/v1/forms", tags=["public forms"])

    @router.post(
        SUBMIT_PATH,
        openapi_extra={"requestBody": SUBMIT_BODY},
        responses={202: {"description": "Accepted (Accept: application/json)"}, 303: {}},
    )
    async def submit(
        form_id: str,
        request: Request,
        accept: Annotated[str | None, Header()] = None,
        origin: Annotated[str | None, Header()] = None,
        referer: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header(max_length=IDEMPOTENCY_KEY_MAX)] = None,
        x_form_key: Annotated[str | None, Header()] = None,
    ) -> Response:
        """What an HTML `<form method="post">` posts. Answers 303 to the thank-you URL, or 202
        JSON when the request accepts application/json."""
        return await submission.answer(
            form_id, request, accept, origin, referer, idempotency_key, x_form_key
        )

    @router.options("/{form_id}/submit", include_in_schema=False)
    async def preflight(form_id: str, origin: Annotated[str | None, Header()] = None) -> Response:
        """CORS preflight for pages that post with fetch()."""
        form = await live_form(forms, form_id)
        headers = check_origin(form, origin) | {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type, Accept, Idempotency-Key, X-Form-Key",
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    @router.get("/{form_id}/embed.js", response_class=Response)
    async def embed_js(form_id: str) -> Response:
        """The snippet a page includes: keeps first and last touch in a first-party cookie (90
        days), fills the form's hidden fields, adds the honeypot and the render time."""
        form = await live_form(forms, form_id)
        config = {
            "formId": form.form_id,
            "key": form.public_key,
            "serverNow": int(time.time() * 1000),
        }
        script = EMBED_JS.replace("__CONFIG__", json.dumps(config).replace("<", "\\u003c"))
        return Response(
            script,
            media_type="text/javascript",
            headers={"Cache-Control": "no-store"},  # it carries the server's clock
        )

    return router
