"""HTTP command and query API of the deal pipeline (every route needs the API key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from crm_contracts.runtime.security import api_key_required
from deal_pipeline.api import deals, listings, reference
from deal_pipeline.api.common import domain_error_response


def build_router(api_key: str) -> APIRouter:
    router = APIRouter(prefix="/v1", dependencies=[Depends(api_key_required(api_key))])
    router.include_router(listings.router)
    router.include_router(deals.router)
    router.include_router(reference.router)
    return router


__all__ = ["build_router", "domain_error_response"]
