"""Reports API: `GET /v1/reports/{name}` with `from`, `to`, `tz`, the filters and `compare`.

No `from __future__ import annotations` here: the routes are built inside a factory and
annotated with its local `Query_`, which FastAPI can only see as an object, not a string."""

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.report_cache import ReportCache
from analytics.application.reports.attribution import attribution
from analytics.application.reports.cohorts import amount_distribution, cohorts, parse_edges
from analytics.application.reports.compare import compared
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.leads import lead_funnel
from analytics.application.reports.list_page import MAX_LIMIT, ListPage, paged_answer
from analytics.application.reports.money import (
    ABC_ORDER,
    PROFITABILITY_ORDER,
    WIN_BACK_ORDER,
    abc,
    active_clients,
    client_profitability,
    dynamics,
    repeat_sales,
)
from analytics.application.reports.period import Period
from analytics.application.reports.query import Compare, ReportQuery
from analytics.application.reports.sales import managers, weighted_pipeline
from analytics.application.reports.serialize import report_bytes
from analytics.domain.channels import classify
from analytics.domain.projection.config import ProjectionConfig
from analytics.metrics import REPORT_ANSWERS
from analytics.settings import AnalyticsSettings
from crm_contracts.events import Touch
from crm_contracts.runtime.errors import NotFound

PREFIX = "/v1/reports"
Name = Annotated[str | None, Query(max_length=200)]
GroupBy = Annotated[Literal["channel", "source", "campaign"], Query()]
Model = Literal[
    "first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay"
]
Bucket = Literal["day", "week", "month"]
Compute = Callable[[ClickHouse, ReportQuery], dict[str, Any]]
Listed = Callable[[ClickHouse, ReportQuery, ListPage], dict[str, Any]]


def list_page(
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_LIMIT, description="rows of the list; none: every row")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sort: Annotated[
        str | None,
        Query(max_length=64, description="a field of the list's rows, -field for descending"),
    ] = None,
) -> ListPage:
    """The part of a report's client list to give (application/reports/list_page.py)."""
    return ListPage(limit, offset, sort)


def report_query(tz: str, base_currency: str) -> Callable[..., ReportQuery]:
    """The dependency reading a report's period, filters and comparison from the query string
    (`tz` when the request names none; money in `base_currency`)."""

    def read(
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
        tz_: Annotated[str | None, Query(alias="tz", max_length=64)] = None,
        pipeline: Name = None,
        manager: Name = None,
        channel: Name = None,
        source: Name = None,
        campaign: Name = None,
        compare: Compare | None = None,
    ) -> ReportQuery:
        period = Period.parse(from_, to, tz_ or tz, compare)
        return ReportQuery(
            period, pipeline, manager, channel, source, campaign, compare, base_currency
        )

    return read


def report_names(router: APIRouter) -> list[str]:
    """The reports a router serves, read from its routes (never a second list to keep)."""
    prefix = f"{PREFIX}/"
    paths = (getattr(route, "path", "") for route in router.routes)
    return sorted(p.removeprefix(prefix) for p in paths if p.startswith(prefix) and "{" not in p)


SIMPLE = {
    "repeat-sales": (repeat_sales, "Share of won deals and clients that are repeat purchases."),
    "weighted-pipeline": (weighted_pipeline, "Σ amount × stage probability of open deals."),
    "cohorts": (cohorts, "Clients by month of first payment and their repeat payments."),
}
# The reports with a list of clients, given a page at a time when asked (`limit`, `offset`,
# `sort`): the report, the key of its list and the fields the list sorts by.
CLIENT_LISTS: dict[str, tuple[Listed, str, tuple[str, ...], str]] = {
    "active-clients": (
        active_clients,
        "win_back",
        tuple(WIN_BACK_ORDER),
        "Clients who paid in the period, and the win-back list.",
    ),
    "abc": (abc, "rows", tuple(ABC_ORDER), "ABC classes of clients by revenue in the period."),
    "client-profitability": (
        client_profitability,
        "rows",
        tuple(PROFITABILITY_ORDER),
        "Revenue, cost and margin per client.",
    ),
}


def cache_key(request: Request) -> str:
    """A report's request as the key of its answer: the path and every parameter, in one order
    whatever order they were given in."""
    return f"{request.url.path}?{sorted(request.query_params.multi_items())}"


def build_reports_router(
    ch: ClickHouse,
    settings: AnalyticsSettings,
    query: Callable[..., ReportQuery],
    cache: ReportCache,
) -> APIRouter:
    """`query` is the `report_query` dependency; `cache` keeps answers while the data is
    unchanged."""
    router = APIRouter(prefix=PREFIX, tags=["reports"])
    Query_ = Annotated[ReportQuery, Depends(query)]
    config: ProjectionConfig = settings.projection_config()

    # Each route answers with the JSON it wrote (`run_report`); the OpenAPI still shows an object.
    get = partial(router.get, response_model=dict[str, Any])

    async def run_report(
        request: Request,
        q: ReportQuery,
        compute: Compute,
        after: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Response:
        """Computed and written in a worker thread: a long client list must not hold the event
        loop (health, live updates) while it is turned into JSON. `after`: what is done to the
        answer once compared (a page of a compared list). `X-Report-Cache` says whether the
        answer was computed for this request (see `ReportCache.answer`)."""

        def answer() -> bytes:
            made = compared(q, lambda query: compute(ch, query))
            return report_bytes(after(made) if after else made)

        body, outcome = await cache.answer(cache_key(request), lambda: asyncio.to_thread(answer))
        REPORT_ANSWERS.labels(outcome).inc()
        return Response(body, media_type="application/json", headers={"X-Report-Cache": outcome})

    @get("/sales-funnel")
    async def get_sales_funnel(request: Request, q: Query_) -> Response:
        """Deals opened in `[from, to)` and how far they went through the pipeline's stages."""
        return await run_report(request, q, sales_funnel)

    @get("/lead-funnel")
    async def get_lead_funnel(
        request: Request, q: Query_, group_by: GroupBy = "channel"
    ) -> Response:
        """Leads received in the period → deals → stages → won → paid, by the leads' own
        touch."""
        return await run_report(request, q, lambda ch, qq: lead_funnel(ch, qq, group_by))

    @get("/attribution")
    async def get_attribution(
        request: Request,
        q: Query_,
        model: Annotated[Model, Query()] = "last_touch",
        group_by: GroupBy = "channel",
        lookback_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
        half_life_days: Annotated[float | None, Query(gt=0, le=365)] = None,
    ) -> Response:
        """Credit for won deals and revenue by channel / source / campaign under a model."""
        lookback = lookback_days or settings.attribution_lookback_days
        half_life = half_life_days or settings.time_decay_half_life_days

        def spend_channel(touch: Touch) -> str:
            return classify(touch, config.own_hosts, config.medium_map, config.source_map)

        return await run_report(
            request,
            q,
            lambda ch, qq: attribution(ch, qq, model, group_by, lookback, half_life, spend_channel),
        )

    @get("/dynamics")
    async def get_dynamics(
        request: Request, q: Query_, bucket: Annotated[Bucket, Query()] = "day"
    ) -> Response:
        """Revenue (payments) and won deals per day, week or month."""
        return await run_report(request, q, lambda ch, qq: dynamics(ch, qq, bucket))

    @get("/amount-distribution")
    async def get_amount_distribution(
        request: Request,
        q: Query_,
        edges: Annotated[
            str, Query(max_length=1000, description="e.g. 0,10000,50000,100000")
        ] = "0,10000,50000,100000,500000",
    ) -> Response:
        """Histogram of won-deal amounts over the given bucket edges, per month."""
        parsed = parse_edges(edges)
        return await run_report(request, q, lambda ch, qq: amount_distribution(ch, qq, parsed))

    @get("/managers")
    async def get_managers(request: Request, q: Query_) -> Response:
        """Per manager: deals, conversion, revenue, cycle, tasks, plan and run-rate forecast."""
        return await run_report(request, q, managers)

    def simple_route(name: str, compute: Compute, doc: str) -> None:
        async def endpoint(request: Request, q: Query_) -> Response:
            return await run_report(request, q, compute)

        endpoint.__doc__ = doc
        router.add_api_route(
            f"/{name}", endpoint, methods=["GET"], name=name, response_model=dict[str, Any]
        )

    for name, (compute, doc) in SIMPLE.items():
        simple_route(name, compute, doc)

    Page_ = Annotated[ListPage, Depends(list_page)]

    def list_route(name: str, listed: Listed, key: str, fields: tuple[str, ...], doc: str) -> None:
        async def endpoint(request: Request, q: Query_, page: Page_) -> Response:
            page.check(fields)
            if page.whole or q.compare is None:  # the engine writes only the page's rows
                return await run_report(request, q, lambda c, qq: listed(c, qq, page))
            # Both periods' whole lists are merged, then paged.
            return await run_report(
                request,
                q,
                lambda c, qq: listed(c, qq, ListPage()),
                lambda answer: paged_answer(answer, key, page),
            )

        endpoint.__doc__ = doc
        router.add_api_route(
            f"/{name}", endpoint, methods=["GET"], name=name, response_model=dict[str, Any]
        )

    for name, (listed, key, fields, doc) in CLIENT_LISTS.items():
        list_route(name, listed, key, fields, doc)

    @router.get("/{name}", include_in_schema=False)
    async def unknown_report(name: Annotated[str, Path(max_length=200)]) -> None:
        """Registered last: a name no route above took. Says which names there are."""
        reason = f"unknown report {name!r}; one of: {', '.join(report_names(router))}"
        raise NotFound(reason, "name")

    return router
