"""Reports API of the analytics service."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from analytics.reports.funnel import sales_funnel
from analytics.reports.period import Period
from crm_contracts.pipelines import DEFAULT_PIPELINE
from crm_contracts.runtime.errors import FieldError

router = APIRouter(prefix="/v1/reports", tags=["reports"])
PIPELINES = {DEFAULT_PIPELINE.id: DEFAULT_PIPELINE}


@router.get("/sales-funnel")
async def get_sales_funnel(
    request: Request,
    from_: Annotated[str, Query(alias="from", min_length=10, max_length=40)],
    to: Annotated[str, Query(min_length=10, max_length=40)],
    tz: Annotated[str | None, Query(max_length=64)] = None,
    pipeline: Annotated[str, Query(max_length=64)] = DEFAULT_PIPELINE.id,
) -> dict[str, Any]:
    """Deals opened in `[from, to)` and how far they went through the pipeline's stages."""
    state = request.app.state
    period = Period.parse(from_, to, tz or state.settings.tz)
    if pipeline not in PIPELINES:
        raise FieldError("pipeline", f"unknown pipeline {pipeline!r}")
    return await asyncio.to_thread(sales_funnel, state.clickhouse, PIPELINES[pipeline], period)
