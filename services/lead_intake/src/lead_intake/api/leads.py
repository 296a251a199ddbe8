"""`POST /v1/leads`: the JSON API for integrations (call tracking, chats, imports)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from lead_intake.domain import LeadIn
from lead_intake.metrics import RECEIVED

router = APIRouter(prefix="/v1", tags=["leads"])


class Accepted(BaseModel):
    lead_id: str
    status: str  # "accepted": on the bus; "queued": in the spool, published when NATS is back
    duplicate: bool = False  # a repeated submission: the lead it made the first time


@router.post("/leads", status_code=202, response_model=Accepted)
async def post_lead(
    lead: LeadIn,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    referer: Annotated[str | None, Header()] = None,
) -> Accepted:
    RECEIVED.labels("leads").inc()
    outcome = await request.app.state.intake.accept(lead, idempotency_key, referer)
    return Accepted(lead_id=outcome.lead_id, status=outcome.status, duplicate=outcome.duplicate)
