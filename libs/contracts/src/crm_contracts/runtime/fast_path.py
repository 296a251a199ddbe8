"""What a service's fast path shares: an ASGI layer around the whole middleware stack that
answers its hottest route's ordinary requests itself (resolving a route's dependencies and
passing every layer of middleware cost more CPU than the work) and hands every other request,
body and all, to the stack, whose route answers it exactly as before.

For the requests it answers it does what the layers inside would: counts them in the request
metrics under the route's template, answers a refusal of the use case as the error handlers
would, and an unexpected error as a 500."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import cache

from prometheus_client import Counter, Histogram
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_contracts.runtime.errors import ServiceError
from crm_contracts.runtime.http_errors import Observer, response
from crm_contracts.runtime.metrics import HTTP_REQUESTS, HTTP_SECONDS

JSON_HEADERS = [(b"content-type", b"application/json")]
Work = Callable[[], Awaitable[tuple[int, bytes]]]  # the answer's status and JSON body


async def answer_json(
    scope: Scope,
    receive: Receive,
    send: Send,
    route: str,
    work: Work,
    observe: Observer | None = None,
) -> None:
    """Runs `work` and sends its JSON answer, counted under `route` (the route's template)."""

    async def answer() -> tuple[int, ASGIApp]:
        status, content = await work()
        return status, JsonAnswer(status, content)

    await answer_with(scope, receive, send, route, answer, observe)


async def answer_response(
    scope: Scope,
    receive: Receive,
    send: Send,
    route: str,
    work: Callable[[], Awaitable[Response]],
    observe: Observer | None = None,
) -> None:
    """Runs `work` and sends the response it makes, counted under `route`."""

    async def answer() -> tuple[int, ASGIApp]:
        made = await work()
        return made.status_code, made

    await answer_with(scope, receive, send, route, answer, observe)


async def answer_with(
    scope: Scope,
    receive: Receive,
    send: Send,
    route: str,
    work: Callable[[], Awaitable[tuple[int, ASGIApp]]],
    observe: Observer | None,
) -> None:
    """Runs `work` and sends the answer it makes (its status, and what sends it), a refusal
    as the error handlers answer it, counted under `route`."""
    started = time.perf_counter()
    status = 500
    try:
        status, answer = await work()
        await answer(scope, receive, send)
    except ServiceError as refusal:
        if observe is not None:
            observe(refusal)
        status = refusal.http_status
        await response(refusal)(scope, receive, send)
    except Exception:
        # As Starlette's ServerErrorMiddleware: a 500 unless an answer was begun, and the
        # error raised on to the server, which logs it.
        if status == 500:
            await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)
        raise
    finally:
        counted, timed = series(scope["method"], route, status)
        counted.inc()
        timed.observe(time.perf_counter() - started)


class JsonAnswer:
    """A JSON body with its status, sent as two ASGI messages (no Response object made)."""

    __slots__ = ("status", "content")

    def __init__(self, status: int, content: bytes) -> None:
        self.status, self.content = status, content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [*JSON_HEADERS, (b"content-length", str(len(self.content)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.content})


@cache
def series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """The request metrics' series, resolved once (a label lookup per request adds up)."""
    return HTTP_REQUESTS.labels(method, route, str(status)), HTTP_SECONDS.labels(method, route)


def is_json(content_type: bytes | None) -> bool:
    """`application/json` with or without parameters."""
    media_type = (content_type or b"").split(b";", 1)[0].strip().lower()
    return media_type == b"application/json"


async def whole_body(receive: Receive) -> tuple[Message, bytes | None]:
    """The first body message, and the body if that message holds all of it."""
    first = await receive()
    if first["type"] != "http.request" or first.get("more_body", False):
        return first, None
    body: bytes = first.get("body", b"")
    return first, body


def again(first: Message, receive: Receive) -> Receive:
    """The body message already read, then the rest as it comes."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
