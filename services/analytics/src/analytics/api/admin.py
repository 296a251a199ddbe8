"""Operator actions on the projection: rebuild from the stream, and its progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from analytics.application.rebuild import Rebuilder
from crm_contracts.runtime.errors import NotFound, Unavailable


def build_admin_router(
    rebuilder: Rebuilder, bus_ready: Callable[[], bool], operator: Callable[..., Any]
) -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(operator)])

    @router.post("/rebuild", status_code=202)
    async def post_rebuild() -> JSONResponse:
        """Replay the `CRM` stream into fresh tables and swap them in atomically. Answers at
        once with a job id; follow it at `GET /v1/admin/rebuild/{job_id}`."""
        if not bus_ready():
            raise Unavailable("not connected to NATS yet")
        job = rebuilder.start()
        return JSONResponse(
            job.view() | {"url": f"/v1/admin/rebuild/{job.id}"},
            status_code=202,
            headers={"Location": f"/v1/admin/rebuild/{job.id}"},
        )

    @router.get("/rebuild/{job_id}")
    async def get_rebuild(job_id: str) -> dict[str, Any]:
        job = rebuilder.jobs.get(job_id)
        if job is None:
            raise NotFound("no such rebuild job", "job_id")
        return job.view()

    return router
