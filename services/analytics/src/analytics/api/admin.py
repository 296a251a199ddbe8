"""Operator actions on the projection: rebuild from the stream, and its progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from analytics.api.operator import operator_key
from analytics.tabular import Rejected
from crm_contracts.runtime.bus import bus_connected

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(operator_key)])


@router.post("/rebuild", status_code=202)
async def post_rebuild(request: Request) -> JSONResponse:
    """Replay the `CRM` stream into fresh tables and swap them in atomically. Answers at once
    with a job id; follow it at `GET /v1/admin/rebuild/{job_id}`."""
    state = request.app.state
    if not bus_connected(state.broker):
        reason = "not connected to NATS yet"
        raise Rejected(503, "unavailable", [{"field": "", "reason": reason}])
    job = state.rebuilder.start()
    return JSONResponse(
        job.view() | {"url": f"/v1/admin/rebuild/{job.id}"},
        status_code=202,
        headers={"Location": f"/v1/admin/rebuild/{job.id}"},
    )


@router.get("/rebuild/{job_id}")
async def get_rebuild(request: Request, job_id: str) -> dict[str, Any]:
    job = request.app.state.rebuilder.jobs.get(job_id)
    if job is None:
        raise Rejected(404, "not_found", [{"field": "job_id", "reason": "no such rebuild job"}])
    return job.view()
