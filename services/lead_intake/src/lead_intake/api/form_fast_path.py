"""`POST /v1/forms/{form_id}/submit` without FastAPI's routing, dependencies and middleware, for
the posts that need none of them: a content type the route reads, a body within the size
limit that came in one piece, an Idempotency-Key within its length, the headers the route and
`BodyGuard` read given once. Those layers cost more CPU than the submission (a form post took
2.5 times a JSON lead's). The answer is the route's own (`FormSubmission.answer`, the same
Request), counted in the request metrics under the route's template, with refusals answered
as the error handlers answer them; anything else goes on to the stack, body and all."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_contracts.runtime.fast_path import again, answer_response, whole_body
from crm_contracts.runtime.http_errors import Observer
from lead_intake.api.guard import FORM_TYPES
from lead_intake.api.public import IDEMPOTENCY_KEY_MAX, ROUTE, FormSubmission

SUBMIT = re.compile(r"/v1/forms/([^/]+)/submit\Z")
# The headers read on the way, each taken only when given at most once (Starlette reads the
# first of repeated headers, `BodyGuard` the last).
READ = frozenset(
    {b"content-type", b"content-length", b"accept", b"origin", b"referer", b"idempotency-key"}
    | {b"x-form-key"}
)


class FormFastPath:
    def __init__(
        self, app: ASGIApp, submission: FormSubmission, max_body_bytes: int, observe: Observer
    ) -> None:
        self.app = app
        self.submission = submission
        self.max_body_bytes = max_body_bytes
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = (
            SUBMIT.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        headers = self.headers(scope) if matched else None
        if matched is None or headers is None:
            return await self.app(scope, receive, send)
        first, body = await whole_body(receive)
        if body is None or len(body) > self.max_body_bytes:
            return await self.app(scope, again(first, receive), send)
        request = Request(scope, again(first, receive))

        async def answer() -> Response:
            return await self.submission.answer(
                matched.group(1),
                request,
                headers.get(b"accept"),
                headers.get(b"origin"),
                headers.get(b"referer"),
                headers.get(b"idempotency-key"),
                headers.get(b"x-form-key"),
            )

        await answer_response(scope, receive, send, ROUTE, answer, self.observe)

    def headers(self, scope: Scope) -> dict[bytes, str] | None:
        """The headers read, as text; None when the stack must answer."""
        read: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in READ:
                if name in read:
                    return None
                read[name] = value.decode("latin-1")
        media_type = read.get(b"content-type", "").split(";")[0].strip().lower()
        length = read.get(b"content-length", "")
        key = read.get(b"idempotency-key")
        if (
            media_type not in FORM_TYPES
            or not (length.isdigit() and int(length) <= self.max_body_bytes)
            or (key is not None and len(key) > IDEMPOTENCY_KEY_MAX)
        ):
            return None
        return read
