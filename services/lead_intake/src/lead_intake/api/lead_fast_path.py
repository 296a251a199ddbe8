"""`POST /v1/leads` without the per-request machinery of FastAPI and the middleware
(`crm_contracts.runtime.fast_path`), for the requests that need none of it: right key, a JSON
body within the size limit that parses as a `LeadIn`, headers within limits. Integrations post
leads in bulk, and the layers cost more CPU than the lead itself (validation, normalisation and
the publish). Anything else (a missing or wrong key, another content type, a body over the
limit or that does not parse, an over-long header) goes on to the stack, body and all, and the
route in `leads.py` and `BodyGuard` answer exactly as before; the route is also what the
OpenAPI document shows."""

from __future__ import annotations

import hmac

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_contracts.runtime.fast_path import again, answer_json, is_json, whole_body
from crm_contracts.runtime.http_errors import Observer
from lead_intake.api.leads import IDEMPOTENCY_KEY_MAX, PATH, accepted_body, answer_lead
from lead_intake.application.submit_lead import SubmitLead
from lead_intake.domain import LeadIn


class LeadFastPath:
    def __init__(
        self,
        app: ASGIApp,
        submit: SubmitLead,
        integration_api_key: str,
        max_body_bytes: int,
        observe: Observer,
    ) -> None:
        self.app = app
        self.submit = submit
        self.key = integration_api_key.encode()
        self.max_body_bytes = max_body_bytes
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        key = idempotency_key = referer = content_type = length = None
        # The first of repeated headers, as Starlette reads them; content type and length are
        # the last, as BodyGuard reads them.
        for name, value in scope["headers"]:
            if name == b"x-api-key" and key is None:
                key = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
            elif name == b"idempotency-key" and idempotency_key is None:
                idempotency_key = value.decode("latin-1")
            elif name == b"referer" and referer is None:
                referer = value.decode("latin-1")
        if (
            key is None
            or not hmac.compare_digest(key, self.key)
            or not is_json(content_type)
            or not (length and length.isdigit() and int(length) <= self.max_body_bytes)
            or (idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX)
        ):
            return await self.app(scope, receive, send)
        first, body = await whole_body(receive)
        lead = parsed(body) if body is not None and len(body) <= self.max_body_bytes else None
        if lead is None:
            return await self.app(scope, again(first, receive), send)

        async def accept() -> tuple[int, bytes]:
            outcome = await answer_lead(self.submit, lead, idempotency_key, referer)
            return 202, accepted_body(outcome)

        await answer_json(scope, receive, send, PATH, accept, self.observe)


def parsed(body: bytes) -> LeadIn | None:
    try:
        return LeadIn.model_validate_json(body)
    except ValidationError:
        return None  # the route answers with the 422 it words
