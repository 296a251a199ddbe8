"""HTTP command and query API of the deal pipeline (every route needs the API key). Each
group of routes is added from the use-case objects it serves. The deal commands run their store
work through `run` (in place on SQLite, in a worker thread on PostgreSQL); the lists and
reference data, which may read many rows, in a worker thread, off the event loop."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from crm_contracts.runtime.security import api_key_required
from deal_pipeline.api.deals import add_deal_routes
from deal_pipeline.api.listings import add_listing_routes
from deal_pipeline.api.reference import add_reference_routes
from deal_pipeline.application.client_cards import ClientCards
from deal_pipeline.application.deal_commands import DealCommands
from deal_pipeline.application.listings import Listings
from deal_pipeline.application.open_deal import OpenDeal
from deal_pipeline.application.ports import StoreCall
from deal_pipeline.application.reference_data import ReferenceData


def build_router(
    api_key: str,
    *,
    deals: DealCommands,
    opening: OpenDeal,
    clients: ClientCards,
    reference: ReferenceData,
    listings: Listings,
    run: StoreCall,
) -> APIRouter:
    router = APIRouter(prefix="/v1", dependencies=[Depends(api_key_required(api_key))])
    # One flat router: FastAPI matches a request against every level of included routers,
    # twice, on every request. Routes are tried in order: the deal commands, most of the
    # traffic, first (no path of theirs overlaps a list's: `/deals` differs by method).
    add_deal_routes(router, deals, opening, run)
    add_listing_routes(router, listings)
    add_reference_routes(router, reference, clients)
    return router


__all__ = ["build_router"]
