"""HTTP command and query API of the deal pipeline (every route needs the API key). Each
router is built from the use-case objects it serves; blocking store work runs in a worker
thread, off the event loop."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from crm_contracts.runtime.security import api_key_required
from deal_pipeline.api.deals import deals_router
from deal_pipeline.api.listings import listings_router
from deal_pipeline.api.reference import reference_router
from deal_pipeline.application.client_cards import ClientCards
from deal_pipeline.application.deal_commands import DealCommands
from deal_pipeline.application.listings import Listings
from deal_pipeline.application.open_deal import OpenDeal
from deal_pipeline.application.reference_data import ReferenceData


def build_router(
    api_key: str,
    *,
    deals: DealCommands,
    opening: OpenDeal,
    clients: ClientCards,
    reference: ReferenceData,
    listings: Listings,
) -> APIRouter:
    router = APIRouter(prefix="/v1", dependencies=[Depends(api_key_required(api_key))])
    router.include_router(listings_router(listings))
    router.include_router(deals_router(deals, opening))
    router.include_router(reference_router(reference, clients))
    return router


__all__ = ["build_router"]
