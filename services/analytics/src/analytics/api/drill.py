"""Drill-down API: `GET /v1/drill/{deals|leads|clients}` with a report's period, filters and
selection returns the rows behind the number, paged."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from analytics.api.reports import Query_
from analytics.reports.drill import drill_clients, drill_deals, drill_leads
from analytics.reports.pipelines import load_pipeline
from analytics.reports.serialize import jsonable

router = APIRouter(prefix="/v1/drill", tags=["drill-down"])
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/deals")
async def get_deals(
    request: Request,
    q: Query_,
    basis: Literal["opened", "won", "lost", "paid", "open_now"] = "opened",
    stage: Text = None,
    status: Literal["open", "won", "lost"] | None = None,
    reached_stage: Text = None,
    client: Text = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    ch = request.app.state.clickhouse

    def run() -> dict[str, Any]:
        selection = {
            "stage": stage,
            "status": status,
            "reached_stage": reached_stage,
            "client": client,
        }
        if reached_stage:
            selection["stages_order"] = [
                s.name for s in load_pipeline(ch, q.pipeline).stages if s.kind != "lost"
            ]
        return drill_deals(ch, q, basis, selection, limit, offset)

    return jsonable(await asyncio.to_thread(run))


@router.get("/leads")
async def get_leads(
    request: Request, q: Query_, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    ch = request.app.state.clickhouse
    return jsonable(await asyncio.to_thread(drill_leads, ch, q, limit, offset))


@router.get("/clients")
async def get_clients(
    request: Request, q: Query_, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    ch = request.app.state.clickhouse
    return jsonable(await asyncio.to_thread(drill_clients, ch, q, limit, offset))
