"""The intake bench's baseline: the least an HTTP endpoint taking leads can do. A bare ASGI app
that parses the JSON body and publishes it to JetStream awaiting the ack, served by uvicorn with
the options the services use (`crm_contracts.runtime.service.serve`).

`python -m bench.bare_intake` with BENCH_NATS_URL and BENCH_PORT set."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import nats
import uvicorn
from nats.aio.client import Client
from nats.js.client import JetStreamContext

from crm_contracts import subjects
from crm_contracts.streams import CRM

ACCEPTED_HEADERS = [(b"content-type", b"application/json")]


class BareIntake:
    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["method"] != "POST":  # a readiness probe
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        lead = json.loads(body)
        lead_id = str(uuid.uuid4())
        assert self.js is not None
        await self.js.publish(
            subjects.LEADS_RECEIVED,
            json.dumps(lead).encode(),
            timeout=2.0,
            stream=CRM,
            headers={"Nats-Msg-Id": lead_id},
        )
        answer = json.dumps({"lead_id": lead_id, "status": "accepted"}).encode()
        await send({"type": "http.response.start", "status": 202, "headers": ACCEPTED_HEADERS})
        await send({"type": "http.response.body", "body": answer})

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.nc = await nats.connect(self.nats_url)
                self.js = self.nc.jetstream()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.nc is not None:
                    await self.nc.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main() -> None:
    # The same uvicorn options as every service's `serve` (loop and HTTP parser left on auto).
    uvicorn.run(
        BareIntake(os.environ["BENCH_NATS_URL"]),
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        log_config=None,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
