"""`POST /v1/sql`: read-only SQL for analysts, behind the API key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StringConstraints

from analytics.adapters.sql_readonly import Analyst
from analytics.api.operator import declared_body_limit

MAX_BODY = 256_000  # a query and its parameters, not data
ParamName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class SqlRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000)
    params: dict[ParamName, Any] = Field(default_factory=dict, max_length=100)


def build_sql_router(analyst: Callable[[], Analyst], operator: Callable[..., Any]) -> APIRouter:
    """`analyst` gives the read-only connection (opened on first use, so the database
    exists by then; a refusal to open one is the request's answer)."""
    router = APIRouter(
        prefix="/v1",
        tags=["sql"],
        dependencies=[Depends(operator), Depends(declared_body_limit(MAX_BODY))],
    )

    @router.post("/sql")
    async def post_sql(body: SqlRequest) -> dict[str, Any]:
        """One SELECT / WITH / SHOW / DESCRIBE / EXPLAIN on the analytics database, with
        `{name:Type}` placeholders filled from `params`. Read-only, row- and time-limited; DDL
        and writes are refused with 403, syntax errors are a 400 with ClickHouse's message."""

        def run() -> dict[str, Any]:
            return analyst().run(body.sql, body.params)

        return await asyncio.to_thread(run)

    return router
