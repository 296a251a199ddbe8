"""Reports API: `GET /v1/reports/{name}` with `from`, `to`, `tz`, the filters and `compare`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from analytics.adapters.clickhouse import ClickHouse
from analytics.domain.channels import classify
from analytics.reports.attribution import attribution
from analytics.reports.cohorts import amount_distribution, cohorts, parse_edges
from analytics.reports.compare import compared
from analytics.reports.funnel import sales_funnel
from analytics.reports.leads import lead_funnel
from analytics.reports.money import (
    abc,
    active_clients,
    client_profitability,
    dynamics,
    repeat_sales,
)
from analytics.reports.period import Period
from analytics.reports.query import Compare, ReportQuery
from analytics.reports.sales import managers, weighted_pipeline
from analytics.reports.serialize import jsonable
from analytics.tabular import Rejected

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Name = Annotated[str | None, Query(max_length=200)]
GroupBy = Annotated[Literal["channel", "source", "campaign"], Query()]
Model = Literal[
    "first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay"
]
Bucket = Literal["day", "week", "month"]


def report_query(
    request: Request,
    from_: Annotated[
        str,
        Query(
            alias="from",
            min_length=10,
            max_length=40,
            description="YYYY-MM-DD (midnight in tz) or ISO 8601",
        ),
    ],
    to: Annotated[str, Query(min_length=10, max_length=40, description="exclusive")],
    tz: Annotated[str | None, Query(max_length=64)] = None,
    pipeline: Name = None,
    manager: Name = None,
    channel: Name = None,
    source: Name = None,
    campaign: Name = None,
    compare: Compare | None = None,
) -> ReportQuery:
    period = Period.parse(from_, to, tz or request.app.state.settings.tz, compare)
    base = request.app.state.settings.base_currency
    return ReportQuery(period, pipeline, manager, channel, source, campaign, compare, base)


Query_ = Annotated[ReportQuery, Depends(report_query)]


async def run_report(
    request: Request, q: ReportQuery, compute: Callable[[ClickHouse, ReportQuery], dict[str, Any]]
) -> dict[str, Any]:
    ch = request.app.state.clickhouse
    result = await asyncio.to_thread(compared, q, lambda query: compute(ch, query))
    return jsonable(result)


@router.get("/sales-funnel")
async def get_sales_funnel(request: Request, q: Query_) -> dict[str, Any]:
    """Deals opened in `[from, to)` and how far they went through the pipeline's stages."""
    return await run_report(request, q, sales_funnel)


@router.get("/lead-funnel")
async def get_lead_funnel(
    request: Request, q: Query_, group_by: GroupBy = "channel"
) -> dict[str, Any]:
    """Leads received in the period → deals → stages → won → paid, by the leads' own touch."""
    return await run_report(request, q, lambda ch, qq: lead_funnel(ch, qq, group_by))


@router.get("/attribution")
async def get_attribution(
    request: Request,
    q: Query_,
    model: Annotated[Model, Query()] = "last_touch",
    group_by: GroupBy = "channel",
    lookback_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    half_life_days: Annotated[float | None, Query(gt=0, le=365)] = None,
) -> dict[str, Any]:
    """Credit for won deals and revenue by channel / source / campaign under a model."""
    settings = request.app.state.settings
    lookback = lookback_days or settings.attribution_lookback_days
    half_life = half_life_days or settings.time_decay_half_life_days
    config = settings.projection_config()

    def spend_channel(touch):  # type: ignore[no-untyped-def]
        return classify(touch, config.own_hosts, config.medium_map, config.source_map)

    return await run_report(
        request,
        q,
        lambda ch, qq: attribution(ch, qq, model, group_by, lookback, half_life, spend_channel),
    )


@router.get("/dynamics")
async def get_dynamics(
    request: Request, q: Query_, bucket: Annotated[Bucket, Query()] = "day"
) -> dict[str, Any]:
    """Revenue (payments) and won deals per day, week or month."""
    return await run_report(request, q, lambda ch, qq: dynamics(ch, qq, bucket))


@router.get("/amount-distribution")
async def get_amount_distribution(
    request: Request,
    q: Query_,
    edges: Annotated[str, Query(max_length=1000, description="e.g. 0,10000,50000,100000")] = (
        "0,10000,50000,100000,500000"
    ),
) -> dict[str, Any]:
    """Histogram of won-deal amounts over the given bucket edges, per month."""
    parsed = parse_edges(edges)
    return await run_report(request, q, lambda ch, qq: amount_distribution(ch, qq, parsed))


@router.get("/managers")
async def get_managers(request: Request, q: Query_) -> dict[str, Any]:
    """Per manager: deals, conversion, revenue, cycle, tasks, plan and run-rate forecast."""
    return await run_report(request, q, managers)


SIMPLE = {
    "repeat-sales": (repeat_sales, "Share of won deals and clients that are repeat purchases."),
    "active-clients": (active_clients, "Clients who paid in the period, and the win-back list."),
    "weighted-pipeline": (weighted_pipeline, "Σ amount × stage probability of open deals."),
    "abc": (abc, "ABC classes of clients by revenue in the period."),
    "cohorts": (cohorts, "Clients by month of first payment and their repeat payments."),
    "client-profitability": (client_profitability, "Revenue, cost and margin per client."),
}


def _simple_route(name: str, compute, doc: str) -> None:  # type: ignore[no-untyped-def]
    async def endpoint(request: Request, q: Query_) -> dict[str, Any]:
        return await run_report(request, q, compute)

    endpoint.__doc__ = doc
    router.add_api_route(f"/{name}", endpoint, methods=["GET"], name=name)


for _name, (_compute, _doc) in SIMPLE.items():
    _simple_route(_name, _compute, _doc)


def report_names() -> list[str]:
    """The reports this router serves, read from its routes (never a second list to keep)."""
    prefix = f"{router.prefix}/"
    paths = (getattr(route, "path", "") for route in router.routes)
    return sorted(p.removeprefix(prefix) for p in paths if p.startswith(prefix) and "{" not in p)


@router.get("/{name}", include_in_schema=False)
async def unknown_report(name: Annotated[str, Path(max_length=200)]) -> None:
    """Registered last: a name no route above took. Says which names there are."""
    reason = f"unknown report {name!r}; one of: {', '.join(report_names())}"
    raise Rejected(404, "not_found", [{"field": "name", "reason": reason}])
