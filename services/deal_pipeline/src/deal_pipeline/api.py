"""HTTP command and query API of the deal pipeline."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from crm_contracts.runtime.errors import rejection
from crm_contracts.runtime.security import api_key_required
from deal_pipeline.application import DealsApp
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import DealClosed, DealNotFound, DomainError, UnknownStage


class MoveStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str = Field(min_length=1, max_length=64)
    lost_reason: str | None = Field(default=None, max_length=200)


class DealView(BaseModel):
    id: UUID
    lead_id: str | None
    pipeline_id: str
    stage: str
    status: str
    lost_reason: str | None
    title: str
    manager_id: str | None
    amount: Decimal
    currency: str
    version: int
    created_on: datetime
    modified_on: datetime
    stage_entered_at: datetime

    @classmethod
    def of(cls, deal: Deal) -> DealView:
        return cls(id=deal.id, **{k: getattr(deal, k) for k in cls.model_fields if k != "id"})


STATUS_OF = {DealNotFound: 404, DealClosed: 409, UnknownStage: 422}


def domain_error_response(exc: DomainError) -> JSONResponse:
    status = STATUS_OF.get(type(exc), 409)
    return rejection(status, type(exc).__name__, [{"field": "", "reason": str(exc)}])


def build_router(api_key: str) -> APIRouter:
    guard = [Depends(api_key_required(api_key))]
    router = APIRouter(prefix="/v1", tags=["deals"], dependencies=guard)

    def deals(request: Request) -> DealsApp:
        return request.app.state.deals

    @router.get("/deals/{deal_id}", response_model=DealView)
    async def get_deal(deal_id: UUID, request: Request) -> DealView:
        return DealView.of(await asyncio.to_thread(deals(request).get_deal, deal_id))

    @router.get("/deals/by-lead/{lead_id}", response_model=DealView)
    async def get_deal_by_lead(
        lead_id: Annotated[str, Path(max_length=200)], request: Request
    ) -> DealView:
        """The deal a lead opened (its id is derived from the lead id)."""
        deal_id = Deal.create_id(lead_id)
        return DealView.of(await asyncio.to_thread(deals(request).get_deal, deal_id))

    @router.post("/deals/{deal_id}/stage", response_model=DealView)
    async def move_stage(deal_id: UUID, body: MoveStage, request: Request) -> DealView:
        deal = await asyncio.to_thread(
            deals(request).move_stage, deal_id, body.stage, body.lost_reason
        )
        return DealView.of(deal)

    return router
