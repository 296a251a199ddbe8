"""Reference data routes: pipelines, managers, plans and client cards."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request

from deal_pipeline.api.common import run
from deal_pipeline.api.models import (
    ID_PATTERN,
    MONTH_PATTERN,
    ClientView,
    DefinePipeline,
    ManagerView,
    PipelineView,
    PlanView,
    PutClient,
    PutManager,
    PutPlan,
)

router = APIRouter()
IdPath = Annotated[str, Path(pattern=ID_PATTERN)]
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")]


@router.put("/pipelines/{pipeline_id}", response_model=PipelineView, tags=["pipelines"])
async def define_pipeline(
    pipeline_id: IdPath, body: DefinePipeline, request: Request
) -> PipelineView:
    """Ordered stages, each open/won/lost with a win probability: unique names, at least one
    won and one lost stage, an open first stage. A new definition applies to later commands;
    the deals' stored history keeps the stage names it had."""
    stages = [s.model_dump() for s in body.stages]
    definition = await run(
        request,
        lambda app: app.define_pipeline(
            pipeline_id, body.name, stages, body.lost_reasons, body.manager_ids
        ),
    )
    return PipelineView(**definition)


@router.get("/pipelines/{pipeline_id}", response_model=PipelineView, tags=["pipelines"])
async def get_pipeline(pipeline_id: IdPath, request: Request) -> PipelineView:
    return PipelineView(**await run(request, lambda app: app.pipeline_definition(pipeline_id)))


def manager_view(manager) -> ManagerView:  # type: ignore[no-untyped-def]
    fields = {k: getattr(manager, k) for k in ManagerView.model_fields}
    return ManagerView(**fields)


@router.put("/managers/{manager_id}", response_model=ManagerView, tags=["managers"])
async def put_manager(manager_id: IdPath, body: PutManager, request: Request) -> ManagerView:
    """Create or update a manager card; inactive managers get no new deals."""
    manager = await run(request, lambda app: app.put_manager(manager_id, **body.model_dump()))
    return manager_view(manager)


@router.get("/managers/{manager_id}", response_model=ManagerView, tags=["managers"])
async def get_manager(manager_id: IdPath, request: Request) -> ManagerView:
    return manager_view(await run(request, lambda app: app.get_manager(manager_id)))


@router.get("/managers", response_model=list[ManagerView], tags=["managers"])
async def list_managers(request: Request) -> list[ManagerView]:
    managers = await run(request, lambda app: [app.get_manager(m) for m in app.roster()])
    return [manager_view(m) for m in managers]


@router.put("/plans/{manager_id}/{month}", response_model=PlanView, tags=["plans"])
async def put_plan(
    manager_id: IdPath, month: MonthPath, body: PutPlan, request: Request
) -> PlanView:
    """A manager's revenue plan for a month; setting it again replaces it."""
    plan = await run(
        request, lambda app: app.set_plan(manager_id, month, body.amount, body.currency)
    )
    return PlanView(**{k: getattr(plan, k) for k in PlanView.model_fields})


@router.get("/plans/{manager_id}/{month}", response_model=PlanView, tags=["plans"])
async def get_plan(manager_id: IdPath, month: MonthPath, request: Request) -> PlanView:
    plan = await run(request, lambda app: app.get_plan(manager_id, month))
    return PlanView(**{k: getattr(plan, k) for k in PlanView.model_fields})


@router.post("/clients", response_model=ClientView, status_code=201, tags=["clients"])
async def register_client(body: PutClient, request: Request) -> ClientView:
    """A client card by hand; 409 when a phone or e-mail belongs to another client."""
    card = body.model_dump()
    client = await run(request, lambda app: app.register_client(**card))
    return ClientView.of(client)


@router.get("/clients/{client_id}", response_model=ClientView, tags=["clients"])
async def get_client(client_id: UUID, request: Request) -> ClientView:
    return ClientView.of(await run(request, lambda app: app.get_client(client_id)))


@router.put("/clients/{client_id}", response_model=ClientView, tags=["clients"])
async def update_client(client_id: UUID, body: PutClient, request: Request) -> ClientView:
    """The whole card: contacts (unique across clients) and requisites for invoices."""
    card = body.model_dump()
    client = await run(request, lambda app: app.update_client(client_id, **card))
    return ClientView.of(client)
