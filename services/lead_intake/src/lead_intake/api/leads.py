"""`POST /v1/leads`: the JSON API for integrations (call tracking, chats, imports). Requests
that pass every check take `lead_fast_path` instead of this route; both answer through
`answer_lead`."""

from __future__ import annotations

from json.encoder import encode_basestring as json_text  # json.dumps(str, ensure_ascii=False)
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel

from crm_contracts.runtime.security import api_key_required
from lead_intake.application.submit_lead import Outcome, SubmitLead
from lead_intake.domain import LeadIn
from lead_intake.metrics import RECEIVED

PATH = "/v1/leads"
IDEMPOTENCY_KEY_MAX = 200
RECEIVED_HERE = RECEIVED.labels("leads")  # resolved once: a label lookup per lead adds up


class Accepted(BaseModel):
    lead_id: str
    status: str  # "accepted": on the bus; "queued": in the spool, published when NATS is back
    duplicate: bool = False  # a repeated submission: the lead it made the first time


async def answer_lead(
    submit: SubmitLead, lead: LeadIn, idempotency_key: str | None, referer: str | None
) -> Outcome:
    RECEIVED_HERE.inc()
    return await submit.accept(lead, idempotency_key, referer)


def accepted(outcome: Outcome) -> Accepted:
    return Accepted(lead_id=outcome.lead_id, status=outcome.status, duplicate=outcome.duplicate)


def accepted_body(outcome: Outcome) -> bytes:
    """The JSON FastAPI makes of `accepted(outcome)` (compact, fields in order), without
    building and dumping the model per lead (a test holds the two equal)."""
    duplicate = "true" if outcome.duplicate else "false"
    lead_id, status = json_text(outcome.lead_id), json_text(outcome.status)
    return f'{{"lead_id":{lead_id},"status":{status},"duplicate":{duplicate}}}'.encode()


def build_router(submit: SubmitLead, integration_api_key: str) -> APIRouter:
    # Integrations post with a key; browsers use forms.
    key = Depends(api_key_required(integration_api_key))
    router = APIRouter(tags=["leads"], dependencies=[key])

    @router.post(PATH, status_code=202, response_model=Accepted)
    async def post_lead(
        lead: LeadIn,
        idempotency_key: Annotated[str | None, Header(max_length=IDEMPOTENCY_KEY_MAX)] = None,
        referer: Annotated[str | None, Header()] = None,
    ) -> Accepted:
        return accepted(await answer_lead(submit, lead, idempotency_key, referer))

    return router
