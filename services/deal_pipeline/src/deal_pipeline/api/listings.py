"""List routes, answered from the read model: deals with filters, clients by contact or
name, all pipelines; and the operator's rebuild of the read model from the event store."""

from __future__ import annotations

from asyncio import to_thread
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from crm_contracts.runtime.errors import Invalid
from deal_pipeline.api.models import (
    ClientPage,
    ClientSummary,
    DealPage,
    DealSummary,
    Moment,
    PipelineView,
    RebuildView,
)
from deal_pipeline.application.listings import Listings
from deal_pipeline.domain.listing import MAX_LIMIT

DEAL_PARAMS = {
    "pipeline", "stage", "status", "manager", "client", "opened_from", "opened_to", "q",
    "sort", "limit", "cursor",
}  # fmt: skip
CLIENT_PARAMS = {"query", "limit", "cursor"}
MAX_QUERY = 200
Name = Annotated[str | None, Query(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of a page")]
SortBy = Literal["opened_at", "-opened_at", "updated_at", "-updated_at", "amount", "-amount"]


def only(request: Request, known: set[str]) -> None:
    """A misspelt filter would silently list everything: refuse it instead. A NUL character
    is refused too: PostgreSQL cannot take it in a text parameter (it was a 500 there)."""
    for name, value in request.query_params.multi_items():
        if name not in known:
            raise Invalid("unknown parameter", name)
        if "\x00" in value:
            raise Invalid("contains a NUL character", name)


def moment(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


def add_listing_routes(router: APIRouter, listings: Listings) -> None:
    @router.get("/deals", response_model=DealPage, tags=["deals"])
    async def list_deals(
        request: Request,
        pipeline: Name = None,
        stage: Name = None,
        status: Literal["open", "won", "lost"] | None = None,
        manager: Name = None,
        client: Name = None,
        opened_from: Annotated[Moment | None, Query(description="Inclusive")] = None,
        opened_to: Annotated[Moment | None, Query(description="Exclusive")] = None,
        q: Annotated[str | None, Query(max_length=200, description="Text in the title")] = None,
        sort: Annotated[SortBy, Query(description="`-` for descending; ties by id")] = "-opened_at",
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> DealPage:
        """Deals by pipeline, stage, status, manager, client, opening time and title text,
        e.g. a manager's open deals: `?manager=anna&status=open`. Page on with `next_cursor`."""
        only(request, DEAL_PARAMS)
        page = await to_thread(
            lambda: listings.deals(
                sort=sort,
                limit=limit,
                cursor=cursor,
                text=q,
                opened_from=opened_from,
                opened_to=opened_to,
                pipeline_id=pipeline,
                stage=stage,
                status=status,
                manager_id=manager,
                client_id=client,
            )
        )
        deals = [
            DealSummary(
                **row
                | {"opened_at": moment(row["opened_at"]), "updated_at": moment(row["updated_at"])}
            )
            for row in page.rows
        ]
        return DealPage(deals=deals, next_cursor=page.next_cursor)

    @router.get("/clients", response_model=ClientPage, tags=["clients"])
    async def search_clients(
        request: Request,
        # Checked here, not by Query(max_length): a parameter called "query" would be reported
        # without its name (the shared handler drops location names from the field path).
        query: Annotated[
            str | None, Query(description="A phone in any format, e-mail or name; ≤ 200 chars")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ClientPage:
        """Clients whose phone or e-mail is the query (normalised as at intake) or whose name
        contains it; all clients without a query."""
        only(request, CLIENT_PARAMS)
        if query is not None and len(query) > MAX_QUERY:
            raise Invalid(f"at most {MAX_QUERY} characters", "query")
        page = await to_thread(listings.clients, query, limit, cursor)
        return ClientPage(
            clients=[ClientSummary(**row) for row in page.rows], next_cursor=page.next_cursor
        )

    @router.get("/pipelines", response_model=list[PipelineView], tags=["pipelines"])
    async def list_pipelines() -> list[PipelineView]:
        return [PipelineView(**p) for p in await to_thread(listings.pipelines)]

    @router.post("/admin/read-model/rebuild", response_model=RebuildView, tags=["admin"])
    async def rebuild_read_model() -> RebuildView:
        """Replay the whole event store into the list tables (one transaction: lists keep
        answering from the old rows meanwhile)."""
        return RebuildView(position=await to_thread(listings.rebuild))
