"""`POST /v1/leads` without FastAPI's per-request machinery, for the requests that need none of
it: right key, a body that parses as a `LeadIn`, headers within limits. Resolving the route's
dependencies and headers cost more CPU than the lead itself (validation, normalisation and the
publish), and integrations post leads in bulk.

Anything else (a missing or wrong key, a body that does not parse, an over-long header) goes on
to the route in `leads.py`, which answers exactly as before; the route is also what the OpenAPI
document shows. A lead refused by the use case is answered here as the error handlers would."""

from __future__ import annotations

import hmac

from pydantic import ValidationError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_contracts.runtime.errors import ServiceError
from crm_contracts.runtime.http_errors import Observer, response
from lead_intake.api.leads import IDEMPOTENCY_KEY_MAX, PATH, accepted_body, answer_lead
from lead_intake.application.submit_lead import SubmitLead
from lead_intake.domain import LeadIn

JSON_HEADERS = [(b"content-type", b"application/json")]


class LeadFastPath:
    """Sits inside `BodyGuard`, so the body here is within the size limit, JSON and whole."""

    def __init__(
        self,
        app: ASGIApp,
        submit: SubmitLead,
        integration_api_key: str,
        route: BaseRoute,
        observe: Observer,
    ) -> None:
        self.app = app
        self.submit = submit
        self.key = integration_api_key.encode()
        self.route = route  # the route's object, for the request metrics' label
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        key = idempotency_key = referer = None
        for name, value in scope["headers"]:  # the first of repeated headers, as Starlette
            if name == b"x-api-key" and key is None:
                key = value
            elif name == b"idempotency-key" and idempotency_key is None:
                idempotency_key = value.decode("latin-1")
            elif name == b"referer" and referer is None:
                referer = value.decode("latin-1")
        if key is None or not hmac.compare_digest(key, self.key):
            return await self.app(scope, receive, send)
        if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
            return await self.app(scope, receive, send)
        first = await receive()
        if first["type"] != "http.request" or first.get("more_body", False):
            return await self.app(scope, again(first, receive), send)
        try:
            lead = LeadIn.model_validate_json(first.get("body", b""))
        except ValidationError:
            return await self.app(scope, again(first, receive), send)
        scope["route"] = self.route
        try:
            answer = await answer_lead(self.submit, lead, idempotency_key, referer)
        except ServiceError as refusal:
            self.observe(refusal)
            return await response(refusal)(scope, receive, send)
        content = accepted_body(answer)
        headers = [*JSON_HEADERS, (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def again(first: Message, receive: Receive) -> Receive:
    """The body message already read, then the rest as it comes."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
