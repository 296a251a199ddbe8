"""`POST /v1/leads`: the JSON API for integrations (call tracking, chats, imports)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel

from crm_contracts.runtime.security import api_key_required
from lead_intake.application.submit_lead import SubmitLead
from lead_intake.domain import LeadIn
from lead_intake.metrics import RECEIVED


class Accepted(BaseModel):
    lead_id: str
    status: str  # "accepted": on the bus; "queued": in the spool, published when NATS is back
    duplicate: bool = False  # a repeated submission: the lead it made the first time


def build_router(submit: SubmitLead, integration_api_key: str) -> APIRouter:
    # Integrations post with a key; browsers use forms.
    router = APIRouter(
        prefix="/v1", tags=["leads"], dependencies=[Depends(api_key_required(integration_api_key))]
    )

    @router.post("/leads", status_code=202, response_model=Accepted)
    async def post_lead(
        lead: LeadIn,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
        referer: Annotated[str | None, Header()] = None,
    ) -> Accepted:
        RECEIVED.labels("leads").inc()
        outcome = await submit.accept(lead, idempotency_key, referer)
        return Accepted(lead_id=outcome.lead_id, status=outcome.status, duplicate=outcome.duplicate)

    return router
