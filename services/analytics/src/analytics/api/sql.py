"""`POST /v1/sql`: read-only SQL for analysts, behind the API key."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints

from analytics.api.operator import declared_body_limit, operator_key
from analytics.sql_readonly import Analyst, analyst_client

MAX_BODY = 256_000  # a query and its parameters, not data
router = APIRouter(
    prefix="/v1",
    tags=["sql"],
    dependencies=[Depends(operator_key), Depends(declared_body_limit(MAX_BODY))],
)
ParamName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class SqlRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000)
    params: dict[ParamName, Any] = Field(default_factory=dict, max_length=100)


def _analyst(request: Request) -> Analyst:
    """One analyst connection per app, opened on first use (the database exists by then)."""
    state = request.app.state
    with state.clickhouse.consistent():
        if getattr(state, "analyst", None) is None:
            client = analyst_client(state.clickhouse, state.settings)
            state.analyst = Analyst(client, state.clickhouse, state.settings.sql_max_result_rows)
    return state.analyst


@router.post("/sql")
async def post_sql(request: Request, body: SqlRequest) -> dict[str, Any]:
    """One SELECT / WITH / SHOW / DESCRIBE / EXPLAIN on the analytics database, with
    `{name:Type}` placeholders filled from `params`. Read-only, row- and time-limited; DDL and
    writes are refused with 403, syntax errors are a 400 with ClickHouse's message."""

    def run() -> dict[str, Any]:
        return _analyst(request).run(body.sql, body.params)

    return await asyncio.to_thread(run)
