"""Pure ASGI middleware in front of the intake routes: refuses bodies over the limit (413) and
content types a route does not read (415) before any parsing, and buffers the (small) body
so the route reads it as usual."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_contracts.runtime.errors import Refused, ServiceError
from crm_contracts.runtime.http_errors import Observer, response

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")
# (method, path pattern) → content types the route reads
ROUTES = {
    ("POST", re.compile(r"^/v1/leads$")): ("application/json",),
    ("POST", re.compile(r"^/v1/forms/[^/]+/submit$")): FORM_TYPES,
    ("PUT", re.compile(r"^/v1/forms/[^/]+$")): ("application/json",),
}


class BodyGuard:
    """Middleware sits outside FastAPI's exception handlers, so it answers its refusals itself
    and shows them to `observe` as the handlers would."""

    def __init__(self, app: ASGIApp, max_bytes: int, observe: Observer) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.observe = observe

    def refuse(self, refusal: ServiceError) -> ASGIApp:
        self.observe(refusal)
        return response(refusal)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        accepted = next(
            (
                types
                for (m, p), types in ROUTES.items()
                if scope["method"] == m and p.match(scope["path"])
            ),
            None,
        )
        if accepted is None:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in accepted:
            reason = f"send one of: {', '.join(accepted)}"
            refusal = Refused(reason, "content-type", status=415, error="unsupported_media_type")
            return await self.refuse(refusal)(scope, receive, send)

        def too_large() -> ASGIApp:
            reason = f"over {self.max_bytes} bytes"
            return self.refuse(Refused(reason, "body", status=413, error="payload_too_large"))

        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await too_large()(scope, receive, send)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return await too_large()(scope, receive, send)
            if not message.get("more_body", False):
                break

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # the app waiting for a disconnect
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)
