"""Operator API: `GET /v1/deliveries`, the delivery log with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from crm_contracts.runtime.security import api_key_required
from notification.application.ports import DeliverySearch


def deliveries_router(api_key: str, log: DeliverySearch) -> APIRouter:
    router = APIRouter(
        prefix="/v1/deliveries",
        tags=["deliveries"],
        dependencies=[Depends(api_key_required(api_key))],
    )

    @router.get("")
    async def list_deliveries(
        status: Literal["scheduled", "sending", "sent", "failed", "skipped"] | None = None,
        rule_id: str | None = None,
        channel: Literal["email", "telegram", "sms", "webhook"] | None = None,
        trigger_event_id: str | None = None,
        since: datetime | None = Query(default=None, description="updated at or after (ISO 8601)"),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> dict[str, Any]:
        found = await log.find(
            status=status,
            rule_id=rule_id,
            channel=channel,
            trigger_event_id=trigger_event_id,
            since=since,
            limit=limit,
        )
        return {"deliveries": [d.model_dump(mode="json") for d in found], "count": len(found)}

    return router
