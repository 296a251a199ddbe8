"""`POST /v1/leads` without the per-request machinery of FastAPI and the middleware, for the
requests that need none of it: right key, a JSON body within the size limit that parses as a
`LeadIn`, headers within limits. Resolving the route's dependencies and headers, and passing
every layer of middleware, cost more CPU than the lead itself (validation, normalisation and
the publish), and integrations post leads in bulk.

It wraps the whole middleware stack, so it does for its requests what the layers inside would:
counts them in the request metrics, answers a refusal of the use case as the error handlers
would, and an unexpected error as a 500. Anything else (a missing or wrong key, another content
type, a body over the limit or that does not parse, an over-long header) goes on to the stack,
body and all, and the route in `leads.py` and `BodyGuard` answer exactly as before; the route
is also what the OpenAPI document shows."""

from __future__ import annotations

import hmac
import time

from pydantic import ValidationError
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_contracts.runtime.errors import ServiceError
from crm_contracts.runtime.http_errors import Observer, response
from crm_contracts.runtime.metrics import HTTP_REQUESTS, HTTP_SECONDS
from lead_intake.api.leads import IDEMPOTENCY_KEY_MAX, PATH, accepted_body, answer_lead
from lead_intake.application.submit_lead import SubmitLead
from lead_intake.domain import LeadIn

JSON_HEADERS = [(b"content-type", b"application/json")]
# The request metrics' series of this route, resolved once (a label lookup per lead adds up).
ANSWERED = HTTP_REQUESTS.labels("POST", PATH, "202")
TIMED = HTTP_SECONDS.labels("POST", PATH)


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
        started = time.perf_counter()
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
        first = await receive()
        body = first.get("body", b"")
        lead = None
        if first["type"] == "http.request" and not first.get("more_body", False):
            lead = parsed(body) if len(body) <= self.max_body_bytes else None
        if lead is None:
            return await self.app(scope, again(first, receive), send)
        status = 500
        try:
            outcome = await answer_lead(self.submit, lead, idempotency_key, referer)
            content = accepted_body(outcome)
            headers = [*JSON_HEADERS, (b"content-length", str(len(content)).encode())]
            status = 202
            await send({"type": "http.response.start", "status": 202, "headers": headers})
            await send({"type": "http.response.body", "body": content})
        except ServiceError as refusal:
            self.observe(refusal)
            status = refusal.http_status
            await response(refusal)(scope, receive, send)
        except Exception:
            # As Starlette's ServerErrorMiddleware: a 500 unless an answer was begun, and the
            # error raised on to the server, which logs it.
            if status == 500:
                await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)
            raise
        finally:
            if status == 202:
                ANSWERED.inc()
            else:
                HTTP_REQUESTS.labels("POST", PATH, str(status)).inc()
            TIMED.observe(time.perf_counter() - started)


def parsed(body: bytes) -> LeadIn | None:
    try:
        return LeadIn.model_validate_json(body)
    except ValidationError:
        return None  # the route answers with the 422 it words


def is_json(content_type: bytes | None) -> bool:
    """`application/json` with or without parameters, as `BodyGuard` reads the header."""
    media_type = (content_type or b"").split(b";", 1)[0].strip().lower()
    return media_type == b"application/json"


def again(first: Message, receive: Receive) -> Receive:
    """The body message already read, then the rest as it comes."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
