"""The operators' live page: `GET /ops` (a signed-in operator; a browser without a session is
sent to `/login?next=/ops`), its data `GET /v1/ops/status`, and the dead-letter actions
`GET /v1/ops/dlq/{seq}` (inspect), `POST /v1/ops/dlq/{seq}/replay` and
`POST /v1/ops/dlq/replay` `{"subject": "crm.…"}` (all of a subject), each logged with who."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from analytics.application.ops_status import DeadLetterActions, OpsStatus
from crm_contracts.runtime.errors import NotFound

STATIC = Path(__file__).resolve().parent / "dashboard" / "static"
FILES = {"ops.js": "text/javascript; charset=utf-8", "ops.css": "text/css; charset=utf-8"}
# Nothing but this origin, and no inline script or style at all.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
FORBIDDEN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Operators only</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/ops/ops.css"></head><body>
<main class="denied"><h1>Operators only</h1><p>This page needs an account with the
operator role.</p><form method="post" action="/logout"><button>Sign out</button></form>
</main></body></html>"""


class ReplaySubject(BaseModel):
    subject: str = Field(min_length=5, max_length=200, examples=["crm.leads.received"])


def _who(principal: Any) -> str:
    user = getattr(principal, "user", None)
    return str(user) if user else f"{getattr(principal, 'via', 'key')}:operator"


def ops_router(
    status: OpsStatus,
    actions: DeadLetterActions,
    browser: Callable[..., Any],
    operator: Callable[..., Any],
    static_dir: Path = STATIC,
) -> APIRouter:
    """`browser` is the HTML routes' sign-in dependency (`Auth.browser_viewer`, which sends a
    browser without a session to the sign-in page); `operator` is `Auth.operator` for the
    data and the actions (the operator key, or an operator's session from this site)."""
    router = APIRouter()
    # The page asks for new data as often as the services are scraped: sooner shows nothing new.
    every_ms = str(max(1000, round(status.interval * 1000)))
    page = (static_dir / "ops.html").read_text().replace("__REFRESH_MS__", every_ms)
    files = {name: (static_dir / name).read_bytes() for name in FILES}
    etags = {
        name: '"' + hashlib.sha256(body).hexdigest()[:20] + '"' for name, body in files.items()
    }

    @router.get("/ops", include_in_schema=False, response_class=HTMLResponse)
    async def ops_page(principal: Any = Depends(browser)) -> HTMLResponse:
        headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
        if getattr(principal, "role", None) != "operator":
            return HTMLResponse(FORBIDDEN, status_code=403, headers=headers)
        user = str(getattr(principal, "user", "") or "")
        safe = user.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        return HTMLResponse(page.replace("__USER__", safe), headers=headers)

    @router.get("/ops/{name}", include_in_schema=False)
    async def ops_file(name: str, request: Request) -> Response:
        if name not in files:
            raise NotFound("no such file", "name")
        headers = {"ETag": etags[name], "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etags[name]:
            return Response(status_code=304, headers=headers)
        return Response(files[name], media_type=FILES[name], headers=headers)

    api = APIRouter(prefix="/v1/ops", tags=["ops"])

    @api.get("/status")
    async def ops_status(_: Any = Depends(operator)) -> dict[str, Any]:
        """Everything the page shows: services (up, ready, version, uptime, request rate, 4xx,
        5xx and p95 over the last 5 minutes), JetStream streams and consumers, the DLQ, the
        projection's freshness, the intake spool, notifications and the latest rebuild."""
        return await status.collect()

    @api.get("/dlq/{seq}")
    async def inspect_dead_letter(seq: int, principal: Any = Depends(operator)) -> dict[str, Any]:
        """One parked message: its headers and payload (logged)."""
        return await actions.inspect(seq, _who(principal))

    @api.post("/dlq/{seq}/replay")
    async def replay_dead_letter(seq: int, principal: Any = Depends(operator)) -> dict[str, Any]:
        """Publish the message again to its original subject under a new message id, then
        remove it from the DLQ. Consumers are idempotent by event id, so it is applied once."""
        return await actions.replay(seq, _who(principal))

    @api.post("/dlq/replay")
    async def replay_subject(
        body: ReplaySubject, principal: Any = Depends(operator)
    ) -> dict[str, Any]:
        """Replay every parked message first published on `subject` (up to 1000)."""
        return await actions.replay_subject(body.subject, _who(principal))

    router.include_router(api)
    return router
