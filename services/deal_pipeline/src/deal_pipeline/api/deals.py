"""Deal routes: open by hand, read with history, and every command."""

from __future__ import annotations

from enum import Enum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel

from deal_pipeline.adapters.event_mapping import to_contract
from deal_pipeline.api.models import (
    Assign,
    CancelTask,
    CreateDeal,
    DealView,
    HistoryView,
    InvoiceIssuedView,
    IssueInvoice,
    Lose,
    MoveStage,
    PaymentRecordedView,
    RecordPayment,
    Reopen,
    ScheduleTask,
    SetAmount,
    TaskScheduledView,
)
from deal_pipeline.application.deal_commands import DealCommands
from deal_pipeline.application.open_deal import OpenDeal
from deal_pipeline.application.ports import StoreCall
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import UnknownClient

TaskId = Annotated[str, Path(max_length=64)]
TAGS: list[str | Enum] = ["deals"]


def as_json(view: BaseModel, status_code: int = 200) -> Response:
    """The view serialised once, as FastAPI would: a returned model is validated against the
    route's `response_model` again first, a cost on every command (the `response_model` stays
    on each route for the OpenAPI document)."""
    return Response(view_json(view), status_code, media_type="application/json")


def view_json(view: BaseModel) -> bytes:
    return view.__pydantic_serializer__.to_json(view)


def add_deal_routes(
    router: APIRouter, deals: DealCommands, opening: OpenDeal, run: StoreCall
) -> None:
    @router.post("/deals", response_model=DealView, tags=TAGS, status_code=201)
    async def create_deal(body: CreateDeal) -> Response:
        """A deal by hand, for a client card (`client_id`) or for contacts found or registered
        like a lead's; the manager by round robin unless given."""
        fields = body.model_dump(exclude={"client_id"})
        client_id = None
        if body.client_id is not None:
            try:
                client_id = UUID(body.client_id)
            except ValueError:
                raise UnknownClient(f"no client {body.client_id!r}", "client_id") from None
        deal = await run(lambda: opening.by_hand(client_id=client_id, **fields))
        return as_json(DealView.of(deal), 201)

    @router.get("/deals/by-lead/{lead_id}", response_model=DealView, tags=TAGS)
    async def get_deal_by_lead(lead_id: Annotated[str, Path(max_length=200)]) -> Response:
        """The deal a lead opened (its id is derived from the lead id)."""
        return as_json(DealView.of(await run(deals.get, Deal.create_id(lead_id))))

    @router.get("/deals/{deal_id}", response_model=DealView, tags=TAGS)
    async def get_deal(deal_id: UUID) -> Response:
        return as_json(DealView.of(await run(deals.get, deal_id)))

    @router.get("/deals/{deal_id}/history", response_model=HistoryView, tags=TAGS)
    async def deal_history(deal_id: UUID) -> Response:
        """Every stored event of the deal, as it was published on the bus."""
        published = [to_contract(e) for e in await run(deals.history, deal_id)]
        events = [e.model_dump(mode="json") for e in published if e is not None]
        return as_json(HistoryView(deal_id=str(deal_id), events=events))

    @router.post("/deals/{deal_id}/stage", response_model=DealView, tags=TAGS)
    async def move_stage(deal_id: UUID, body: MoveStage) -> Response:
        """Forward, back or skipping; into a won/lost stage closes the deal (lost needs a
        `lost_reason` from the configured list)."""
        deal = await run(deals.move_stage, deal_id, body.stage, body.lost_reason)
        return as_json(DealView.of(deal))

    @router.post("/deals/{deal_id}/win", response_model=DealView, tags=TAGS)
    async def win(deal_id: UUID) -> Response:
        return as_json(DealView.of(await run(deals.win, deal_id)))

    @router.post("/deals/{deal_id}/lose", response_model=DealView, tags=TAGS)
    async def lose(deal_id: UUID, body: Lose) -> Response:
        return as_json(DealView.of(await run(deals.lose, deal_id, body.reason)))

    @router.post("/deals/{deal_id}/reopen", response_model=DealView, tags=TAGS)
    async def reopen(deal_id: UUID, body: Annotated[Reopen | None, Body()] = None) -> Response:
        """Into the given open stage, else the stage the deal was closed from."""
        stage = body.stage if body else None
        return as_json(DealView.of(await run(deals.reopen, deal_id, stage)))

    @router.post("/deals/{deal_id}/amount", response_model=DealView, tags=TAGS)
    async def set_amount(deal_id: UUID, body: SetAmount) -> Response:
        deal = await run(
            deals.set_amount,
            deal_id,
            body.amount,
            body.currency,
            body.cost,
            body.expected_close_date,
        )
        return as_json(DealView.of(deal))

    @router.post("/deals/{deal_id}/assign", response_model=DealView, tags=TAGS)
    async def assign(deal_id: UUID, body: Assign) -> Response:
        return as_json(DealView.of(await run(deals.assign, deal_id, body.manager_id)))

    @router.post(
        "/deals/{deal_id}/tasks", response_model=TaskScheduledView, tags=TAGS, status_code=201
    )
    async def schedule_task(deal_id: UUID, body: ScheduleTask) -> Response:
        """Schedule a task; the same `task_id` again reschedules it."""
        scheduled = await run(
            deals.schedule_task, deal_id, body.title, body.kind, body.due_at, body.task_id
        )
        view = TaskScheduledView(task_id=scheduled.task_id, deal=DealView.of(scheduled.deal))
        return as_json(view, 201)

    @router.post("/deals/{deal_id}/tasks/{task_id}/complete", response_model=DealView, tags=TAGS)
    async def complete_task(deal_id: UUID, task_id: TaskId) -> Response:
        return as_json(DealView.of(await run(deals.complete_task, deal_id, task_id)))

    @router.post("/deals/{deal_id}/tasks/{task_id}/cancel", response_model=DealView, tags=TAGS)
    async def cancel_task(
        deal_id: UUID,
        task_id: TaskId,
        body: Annotated[CancelTask | None, Body()] = None,
    ) -> Response:
        reason = body.reason if body else None
        return as_json(DealView.of(await run(deals.cancel_task, deal_id, task_id, reason)))

    @router.post(
        "/deals/{deal_id}/invoices", response_model=InvoiceIssuedView, tags=TAGS, status_code=201
    )
    async def issue_invoice(deal_id: UUID, body: IssueInvoice) -> Response:
        """The number comes from a sequence; the requisites are copied from the client card."""
        issued = await run(deals.issue_invoice, deal_id, body.amount, body.currency, body.due_date)
        view = InvoiceIssuedView(
            invoice_id=issued.invoice_id,
            number=issued.deal.invoices[issued.invoice_id].number,
            deal=DealView.of(issued.deal),
        )
        return as_json(view, 201)

    @router.post(
        "/deals/{deal_id}/payments", response_model=PaymentRecordedView, tags=TAGS, status_code=201
    )
    async def record_payment(deal_id: UUID, body: RecordPayment) -> Response:
        """Partial payments add up (`paid_total`); a repeated `payment_id` is recorded once."""
        paid = await run(
            deals.record_payment,
            deal_id,
            body.amount,
            body.paid_at,
            body.invoice_id,
            body.payment_id,
        )
        view = PaymentRecordedView(payment_id=paid.payment_id, deal=DealView.of(paid.deal))
        return as_json(view, 201)
