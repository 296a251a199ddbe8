"""`POST /v1/leads`: the JSON API for integrations (call tracking, chats, imports)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel

from crm_contracts.runtime.security import api_key_required
from lead_intake.domain import LeadIn
from lead_intake.metrics import RECEIVED


def integration_key(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """Integrations (call tracking, chats, imports) post with a key; browsers use forms."""
    api_key_required(request.app.state.settings.integration_api_key)(x_api_key)


router = APIRouter(prefix="/v1", tags=["leads"], dependencies=[Depends(integration_key)])


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
