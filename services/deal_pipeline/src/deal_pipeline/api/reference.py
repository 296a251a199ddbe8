"""Reference data routes: pipelines, managers, plans and client cards."""

from __future__ import annotations

from asyncio import to_thread
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

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
from deal_pipeline.application.client_cards import ClientCards
from deal_pipeline.application.reference_data import ReferenceData
from deal_pipeline.domain.people import ManagerCard

IdPath = Annotated[str, Path(pattern=ID_PATTERN)]
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")]


def add_reference_routes(router: APIRouter, reference: ReferenceData, clients: ClientCards) -> None:
    @router.put("/pipelines/{pipeline_id}", response_model=PipelineView, tags=["pipelines"])
    async def define_pipeline(pipeline_id: IdPath, body: DefinePipeline) -> PipelineView:
        """Ordered stages, each open/won/lost with a win probability: unique names, at least
        one won and one lost stage, an open first stage. A new definition applies to later
        commands; the deals' stored history keeps the stage names it had."""
        stages = [s.model_dump() for s in body.stages]
        definition = await to_thread(
            reference.define_pipeline,
            pipeline_id,
            body.name,
            stages,
            body.lost_reasons,
            body.manager_ids,
        )
        return PipelineView(**definition)

    @router.get("/pipelines/{pipeline_id}", response_model=PipelineView, tags=["pipelines"])
    async def get_pipeline(pipeline_id: IdPath) -> PipelineView:
        return PipelineView(**await to_thread(reference.pipeline_definition, pipeline_id))

    @router.put("/managers/{manager_id}", response_model=ManagerView, tags=["managers"])
    async def put_manager(manager_id: IdPath, body: PutManager) -> ManagerView:
        """Create or update a manager card; inactive managers get no new deals."""
        card = ManagerCard.checked(**body.model_dump())
        return ManagerView.of(await to_thread(reference.put_manager, manager_id, card))

    @router.get("/managers/{manager_id}", response_model=ManagerView, tags=["managers"])
    async def get_manager(manager_id: IdPath) -> ManagerView:
        return ManagerView.of(await to_thread(reference.get_manager, manager_id))

    @router.get("/managers", response_model=list[ManagerView], tags=["managers"])
    async def list_managers() -> list[ManagerView]:
        return [ManagerView.of(m) for m in await to_thread(reference.managers)]

    @router.put("/plans/{manager_id}/{month}", response_model=PlanView, tags=["plans"])
    async def put_plan(manager_id: IdPath, month: MonthPath, body: PutPlan) -> PlanView:
        """A manager's revenue plan for a month; setting it again replaces it."""
        plan = await to_thread(reference.set_plan, manager_id, month, body.amount, body.currency)
        return PlanView.of(plan)

    @router.get("/plans/{manager_id}/{month}", response_model=PlanView, tags=["plans"])
    async def get_plan(manager_id: IdPath, month: MonthPath) -> PlanView:
        return PlanView.of(await to_thread(reference.get_plan, manager_id, month))

    @router.post("/clients", response_model=ClientView, status_code=201, tags=["clients"])
    async def register_client(body: PutClient) -> ClientView:
        """A client card by hand; 409 when a phone or e-mail belongs to another client."""
        card = body.model_dump()
        return ClientView.of(await to_thread(lambda: clients.register(**card)))

    @router.get("/clients/{client_id}", response_model=ClientView, tags=["clients"])
    async def get_client(client_id: UUID) -> ClientView:
        return ClientView.of(await to_thread(clients.get, client_id))

    @router.put("/clients/{client_id}", response_model=ClientView, tags=["clients"])
    async def update_client(client_id: UUID, body: PutClient) -> ClientView:
        """The whole card: contacts (unique across clients) and requisites for invoices."""
        card = body.model_dump()
        return ClientView.of(await to_thread(lambda: clients.update(client_id, **card)))
