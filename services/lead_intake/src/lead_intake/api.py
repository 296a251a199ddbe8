"""HTTP API of lead-intake."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm_contracts.envelope import utcnow
from crm_contracts.runtime.bus import publish_event
from crm_contracts.runtime.errors import rejection
from crm_contracts.runtime.logs import correlation_id
from lead_intake.domain import LeadIn, build_lead_received, lead_id_for

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["leads"])


class Accepted(BaseModel):
    lead_id: str
    status: str


@router.post("/leads", status_code=202, response_model=Accepted)
async def post_lead(
    lead: LeadIn,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    referer: Annotated[str | None, Header()] = None,
) -> Accepted | JSONResponse:
    state = request.app.state
    lead_id = lead_id_for(lead.form_id, idempotency_key)
    correlation_id.set(str(lead_id))
    event = build_lead_received(
        lead, lead_id, utcnow(), state.settings.default_phone_region, referer
    )
    try:
        await publish_event(state.broker, event, timeout=state.settings.publish_timeout)
    except Exception as exc:
        log.warning("publish failed: %s", exc)
        return rejection(503, "bus_unavailable", [{"field": "", "reason": "try again later"}])
    log.info("lead accepted", extra={"lead_id": str(lead_id), "form_id": lead.form_id})
    return Accepted(lead_id=str(lead_id), status="accepted")
