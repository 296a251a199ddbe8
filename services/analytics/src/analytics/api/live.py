"""`GET /v1/live`: server-sent events telling a dashboard that new events were projected, so
it refetches what it shows. One `projection` event per stored batch (a burst arrives as
several; the page coalesces them), a comment as heartbeat, and an end after a while so that
proxies and shutdowns never hold a stream forever (EventSource reconnects by itself)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from analytics.application.live import Pulse

HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 300.0


def build_live_router(pulse: Pulse) -> APIRouter:
    router = APIRouter(tags=["dashboard"])

    @router.get(
        "/v1/live",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def live(request: Request) -> StreamingResponse:
        """A `text/event-stream` of `projection` events ({seq, events, at}) as batches land."""

        async def stream() -> AsyncIterator[str]:
            yield f"retry: 2000\nevent: hello\ndata: {json.dumps(pulse.state())}\n\n"
            seq, ends = pulse.seq, time.monotonic() + STREAM_SECONDS
            while time.monotonic() < ends and not await request.is_disconnected():
                now = await pulse.wait_after(seq, HEARTBEAT_SECONDS)
                if now == seq:
                    yield ": heartbeat\n\n"
                    continue
                seq = now
                yield f"event: projection\ndata: {json.dumps(pulse.state())}\n\n"

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return router
