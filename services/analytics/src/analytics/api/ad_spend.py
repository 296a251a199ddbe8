"""Operator imports: ad spend and currency rates (CSV or JSON), and the spend listing."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from analytics.api.operator import bounded_body, operator_key
from analytics.spend import (
    MAX_ROWS,
    RATE_COLUMNS,
    SPEND_COLUMNS,
    import_rates,
    import_spend,
    list_spend,
)
from analytics.tabular import Errors, a_date, read_rows, require_rows

router = APIRouter(prefix="/v1", tags=["ad spend"], dependencies=[Depends(operator_key)])


async def _rows(request: Request, columns: tuple[str, ...]) -> list[tuple[str, dict]]:
    body = await bounded_body(request, request.app.state.settings.max_import_bytes)
    rows = read_rows(body, request.headers.get("content-type", ""), columns)
    require_rows(rows, MAX_ROWS)
    return rows


@router.post("/ad-spend")
async def post_ad_spend(request: Request) -> dict[str, Any]:
    """Rows `date,source,medium,campaign,cost,currency,clicks,impressions` as text/csv (header
    row) or JSON `{"rows": [...]}`. A re-import of a (date, source, medium, campaign) replaces
    it; costs in other currencies are converted into the base currency."""
    rows = await _rows(request, SPEND_COLUMNS)
    state = request.app.state
    return await asyncio.to_thread(
        import_spend, state.clickhouse, rows, state.settings.base_currency
    )


@router.post("/currency-rates")
async def post_currency_rates(request: Request) -> dict[str, Any]:
    """Rows `date,currency,rate`: units of the base currency per one unit of `currency`."""
    rows = await _rows(request, RATE_COLUMNS)
    state = request.app.state
    return await asyncio.to_thread(
        import_rates, state.clickhouse, rows, state.settings.base_currency
    )


@router.get("/ad-spend")
async def get_ad_spend(
    request: Request,
    from_: Annotated[str, Query(alias="from", max_length=10)],
    to: Annotated[str, Query(max_length=10)],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Spend rows with `from <= date < to` (dates YYYY-MM-DD)."""
    errors = Errors()
    start, end = (
        errors.check("query", "from", a_date, from_),
        errors.check("query", "to", a_date, to),
    )
    errors.raise_if_any()
    return await asyncio.to_thread(list_spend, request.app.state.clickhouse, start, end, limit)
