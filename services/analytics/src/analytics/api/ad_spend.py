"""Operator imports: ad spend and currency rates (CSV or JSON), and the spend listing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from analytics.api.operator import bounded_body
from analytics.application.spend import (
    MAX_ROWS,
    RATE_COLUMNS,
    SPEND_COLUMNS,
    SpendStore,
    import_rates,
    import_spend,
    list_spend,
)
from analytics.domain.tabular import Errors, Labelled, a_date, read_rows, require_rows


def build_ad_spend_router(
    store: SpendStore,
    operator: Callable[..., Any],
    base_currency: str,
    max_import_bytes: int,
) -> APIRouter:
    """`operator` is the dependency admitting an operator (key or session)."""
    router = APIRouter(prefix="/v1", tags=["ad spend"], dependencies=[Depends(operator)])

    async def rows_of(request: Request, columns: tuple[str, ...]) -> list[Labelled]:
        body = await bounded_body(request, max_import_bytes)
        rows = read_rows(body, request.headers.get("content-type", ""), columns)
        require_rows(rows, MAX_ROWS)
        return rows

    @router.post("/ad-spend")
    async def post_ad_spend(request: Request) -> dict[str, Any]:
        """Rows `date,source,medium,campaign,cost,currency,clicks,impressions` as text/csv
        (header row) or JSON `{"rows": [...]}`. A re-import of a (date, source, medium,
        campaign) replaces it; costs in other currencies are converted into the base
        currency."""
        rows = await rows_of(request, SPEND_COLUMNS)
        return await asyncio.to_thread(import_spend, store, rows, base_currency)

    @router.post("/currency-rates")
    async def post_currency_rates(request: Request) -> dict[str, Any]:
        """Rows `date,currency,rate`: units of the base currency per one unit of `currency`."""
        rows = await rows_of(request, RATE_COLUMNS)
        return await asyncio.to_thread(import_rates, store, rows, base_currency)

    @router.get("/ad-spend")
    async def get_ad_spend(
        from_: Annotated[str, Query(alias="from", max_length=10)],
        to: Annotated[str, Query(max_length=10)],
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        """Spend rows with `from <= date < to` (dates YYYY-MM-DD)."""
        errors = Errors()
        start = errors.check("query", "from", a_date, from_)
        end = errors.check("query", "to", a_date, to)
        errors.raise_if_any()
        assert start is not None and end is not None  # raise_if_any refused a missing one
        return await asyncio.to_thread(list_spend, store, start, end, limit)

    return router
