"""`GET /v1/dimensions`: the values the report filters take (pipelines, managers, channels,
sources, campaigns), for a dashboard's filter lists. Read from the projected tables, so a
new campaign shows up as soon as its first lead lands."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.pipelines import load_pipelines

LIMIT = 500  # a filter list longer than this is no longer a list a person picks from
TOUCH_VALUES = (
    "SELECT groupUniqArray({limit:UInt32})(channel) AS channels, "
    "groupUniqArray({limit:UInt32})(source) AS sources, "
    "groupUniqArray({limit:UInt32})(campaign) AS campaigns "
    "FROM {db}.touchpoints WHERE kind = 'lead'"
)
# Managers with a card, and those that deals name without one (assigned by settings).
MANAGERS = (
    "SELECT manager_id, max(name) AS name FROM ("
    " SELECT manager_id, argMax(name, updated_at) AS name FROM {db}.managers GROUP BY manager_id"
    " UNION ALL SELECT DISTINCT manager_id, '' AS name FROM {db}.deals WHERE manager_id != ''"
    ") GROUP BY manager_id ORDER BY manager_id LIMIT {limit:UInt32}"
)


def dimensions(ch: ClickHouse) -> dict[str, Any]:
    with ch.consistent():
        touches = ch.rows(TOUCH_VALUES, {"limit": LIMIT})[0]
        managers = ch.rows(MANAGERS, {"limit": LIMIT})
        pipelines = load_pipelines(ch)
    return {
        "pipelines": [{"id": p.id, "name": p.name} for p in pipelines.values()],
        "managers": [{"id": m["manager_id"], "name": m["name"]} for m in managers],
        **{key: sorted(v for v in touches[key] if v) for key in touches},
    }


def build_dimensions_router(ch: ClickHouse) -> APIRouter:
    router = APIRouter(tags=["dashboard"])

    @router.get("/v1/dimensions")
    async def get_dimensions() -> dict[str, Any]:
        """Pipelines, managers and the channels, sources and campaigns of leads so far."""
        return await asyncio.to_thread(dimensions, ch)

    return router
