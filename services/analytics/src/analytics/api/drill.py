"""Drill-down API: `GET /v1/drill/{deals|leads|clients}` with a report's period, filters and
selection returns the rows behind the number, paged (`limit`, `offset`), sorted (`sort`:
a column, `-column` descending) as JSON or, with `format=csv`, every row (up to 100 000) as a
CSV file. A query parameter a list does not know is refused (422 naming it): ignoring it
would list other rows. `GET /v1/drill/deals/{deal_id}` is one deal's card.

No `from __future__ import annotations`: the routes are annotated with the factory's local
`Query_` (see api/reports.py)."""

import asyncio
import csv
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import StringConstraints

from analytics.adapters.clickhouse import ClickHouse
from analytics.api.reports import Model
from analytics.application.reports.deal_card import deal_card
from analytics.application.reports.drill import (
    EXPORT_CAP,
    Listing,
    clients_listing,
    deals_listing,
    export,
    leads_listing,
    page,
)
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.serialize import report_json
from analytics.settings import AnalyticsSettings
from crm_contracts.runtime.errors import Invalid, NotFound


def known_params_only(request: Request) -> None:
    """Refuses a query parameter the route does not declare (a typo would widen the list)."""
    route = request.scope.get("route")
    if route is None:
        return
    known = _query_names(route.dependant)
    for name in request.query_params:
        if name not in known:
            raise Invalid("unknown parameter", name)


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    return names.union(*(_query_names(d) for d in dependant.dependencies))


KNOWN_ONLY = [Depends(known_params_only)]  # the lists: a parameter there selects rows
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Text = Annotated[str | None, Query(max_length=200)]
Amount = Annotated[str | None, Query(max_length=40, description="e.g. 10000 or 99.50")]
Groups = Annotated[
    list[Annotated[str, StringConstraints(max_length=200)]] | None,
    Query(max_length=50, description="values of group_by (repeat for several; may be empty)"),
]
Reason = Annotated[str | None, Query(max_length=200, description="'unspecified': none given")]
Format = Literal["json", "csv"]
GroupBy = Literal["channel", "source", "campaign"] | None


@dataclass
class Output:
    """How the rows come back: a page of JSON, or every row as CSV."""

    sort: Annotated[
        str | None,
        Query(max_length=64, description="a column of the rows; -column for descending"),
    ] = None
    format: Annotated[Format, Query(description="csv: every row, up to 100 000")] = "json"
    limit: Limit = 100
    offset: Offset = 0


Output_ = Annotated[Output, Depends()]


@dataclass
class DealSelection:
    stage: Text = None
    status: Literal["open", "won", "lost"] | None = None
    reached_stage: Text = None
    client: Text = None
    lost_at_stage: Text = None
    lost_reason: Reason = None
    amount_min: Amount = None
    amount_max: Annotated[str | None, Query(max_length=40, description="exclusive")] = None
    repeat: Annotated[bool | None, Query(description="basis=won: the client won before")] = None
    with_client: Annotated[bool | None, Query(description="deals with a client")] = None
    paid_ever: Annotated[bool | None, Query(description="any payment, ever")] = None
    open_stage: Annotated[bool | None, Query(description="an open stage of its pipeline")] = None
    group_by: GroupBy = None
    group: Groups = None
    model: Annotated[Model | None, Query(description="attribution: the path credits")] = None
    lookback_days: Annotated[int | None, Query(ge=1, le=3650)] = None
    half_life_days: Annotated[float | None, Query(gt=0, le=365)] = None


@dataclass
class ClientSelection:
    cohort: Annotated[str | None, Query(max_length=7, description="YYYY-MM")] = None
    cohort_offset: Annotated[int | None, Query(ge=0, le=1200)] = None
    abc_class: Literal["A", "B", "C"] | None = None


@dataclass
class LeadSelection:
    group_by: GroupBy = None
    group: Groups = None


DealBasis = Literal["opened", "won", "lost", "paid", "open_now", "lead_received"]
ClientBasis = Literal["paid", "won", "repeat", "win_back", "first_paid"]
LeadBasis = Literal["received", "opened_deal"]


def _csv(columns: tuple[str, ...], result: dict[str, Any], filename: str) -> Response:
    """Money as plain decimals, times as ISO 8601 (UTC), nothing as an empty cell;
    `X-Total-Count` says how many rows matched (more than the file holds past the cap)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in report_json(result["rows"]):
        writer.writerow([_cell(row[c]) for c in columns])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Total-Count": str(result["total"]),
        },
    )


def _cell(value: Any) -> Any:
    """A text a spreadsheet would run as a formula (a title of `=HYPERLINK(...)`) is quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _filename(kind: str, q: ReportQuery) -> str:
    start = q.period.local(q.period.start).date().isoformat()
    end = q.period.local(q.period.end).date().isoformat()
    return f"{kind}_{start}_{end}.csv"


DealId = Annotated[
    str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]


def build_drill_router(
    ch: ClickHouse, settings: AnalyticsSettings, query: Callable[..., ReportQuery]
) -> APIRouter:
    """`query` is the reports' `report_query` dependency: the same period and filters."""
    router = APIRouter(prefix="/v1/drill", tags=["drill-down"])
    Query_ = Annotated[ReportQuery, Depends(query)]

    async def respond(
        q: ReportQuery, kind: str, out: Output, listing: Callable[[], Listing]
    ) -> Any:
        def run() -> Any:
            made = listing()
            if out.format == "csv":
                return made, export(ch, made, out.sort, EXPORT_CAP)
            return made, page(ch, made, out.limit, out.offset, out.sort)

        made, result = await asyncio.to_thread(run)
        if out.format == "csv":
            return _csv(made.columns, result, _filename(kind, q))
        return report_json(result)

    @router.get("/deals", response_model=None, dependencies=KNOWN_ONLY)
    async def get_deals(
        q: Query_,
        sel: Annotated[DealSelection, Depends()],
        out: Output_,
        basis: DealBasis = "opened",
    ) -> Any:
        """Deals of a basis (opened / won / lost in the period, with a payment in it, open
        now, opened from a lead received in it) narrowed by the selection."""
        selection = asdict(sel)
        if sel.model is not None:  # the report's defaults, unless the link names its own
            selection["lookback_days"] = sel.lookback_days or settings.attribution_lookback_days
            selection["half_life_days"] = sel.half_life_days or settings.time_decay_half_life_days
        return await respond(q, "deals", out, lambda: deals_listing(ch, q, basis, selection))

    @router.get("/leads", response_model=None, dependencies=KNOWN_ONLY)
    async def get_leads(
        q: Query_,
        sel: Annotated[LeadSelection, Depends()],
        out: Output_,
        basis: LeadBasis = "received",
    ) -> Any:
        """Leads received in the period (or that opened a deal in it) by their own touch."""
        return await respond(q, "leads", out, lambda: leads_listing(q, basis, asdict(sel)))

    @router.get("/clients", response_model=None, dependencies=KNOWN_ONLY)
    async def get_clients(
        q: Query_,
        sel: Annotated[ClientSelection, Depends()],
        out: Output_,
        basis: ClientBasis = "paid",
    ) -> Any:
        """Clients of a basis with their revenue, payments and won deals in the period."""
        return await respond(q, "clients", out, lambda: clients_listing(ch, q, basis, asdict(sel)))

    @router.get("/deals/{deal_id}", response_model=None)
    async def get_deal_card(
        deal_id: DealId,
        lookback_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    ) -> Any:
        """One deal: its row, stage timeline, amount changes, invoices, payments, tasks and
        the touches of its attribution path (lookback in days, the attribution's by
        default)."""
        lookback = lookback_days or settings.attribution_lookback_days
        card = await asyncio.to_thread(deal_card, ch, deal_id, lookback)
        if card is None:
            raise NotFound("no such deal", "deal_id")
        return JSONResponse(report_json(card))

    return router
