"""Deal routes: open by hand, read with history, and every command."""

from __future__ import annotations

from asyncio import to_thread
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Path

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
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import UnknownClient

TaskId = Annotated[str, Path(max_length=64)]


def deals_router(deals: DealCommands, opening: OpenDeal) -> APIRouter:
    router = APIRouter(tags=["deals"])

    @router.post("/deals", response_model=DealView, status_code=201)
    async def create_deal(body: CreateDeal) -> DealView:
        """A deal by hand, for a client card (`client_id`) or for contacts found or registered
        like a lead's; the manager by round robin unless given."""
        fields = body.model_dump(exclude={"client_id"})
        client_id = None
        if body.client_id is not None:
            try:
                client_id = UUID(body.client_id)
            except ValueError:
                raise UnknownClient(f"no client {body.client_id!r}", "client_id") from None
        deal = await to_thread(lambda: opening.by_hand(client_id=client_id, **fields))
        return DealView.of(deal)

    @router.get("/deals/by-lead/{lead_id}", response_model=DealView)
    async def get_deal_by_lead(lead_id: Annotated[str, Path(max_length=200)]) -> DealView:
        """The deal a lead opened (its id is derived from the lead id)."""
        return DealView.of(await to_thread(deals.get, Deal.create_id(lead_id)))

    @router.get("/deals/{deal_id}", response_model=DealView)
    async def get_deal(deal_id: UUID) -> DealView:
        return DealView.of(await to_thread(deals.get, deal_id))

    @router.get("/deals/{deal_id}/history", response_model=HistoryView)
    async def deal_history(deal_id: UUID) -> HistoryView:
        """Every stored event of the deal, as it was published on the bus."""
        published = [to_contract(e) for e in await to_thread(deals.history, deal_id)]
        return HistoryView(
            deal_id=str(deal_id),
            events=[e.model_dump(mode="json") for e in published if e is not None],
        )

    @router.post("/deals/{deal_id}/stage", response_model=DealView)
    async def move_stage(deal_id: UUID, body: MoveStage) -> DealView:
        """Forward, back or skipping; into a won/lost stage closes the deal (lost needs a
        `lost_reason` from the configured list)."""
        deal = await to_thread(deals.move_stage, deal_id, body.stage, body.lost_reason)
        return DealView.of(deal)

    @router.post("/deals/{deal_id}/win", response_model=DealView)
    async def win(deal_id: UUID) -> DealView:
        return DealView.of(await to_thread(deals.win, deal_id))

    @router.post("/deals/{deal_id}/lose", response_model=DealView)
    async def lose(deal_id: UUID, body: Lose) -> DealView:
        return DealView.of(await to_thread(deals.lose, deal_id, body.reason))

    @router.post("/deals/{deal_id}/reopen", response_model=DealView)
    async def reopen(deal_id: UUID, body: Annotated[Reopen | None, Body()] = None) -> DealView:
        """Into the given open stage, else the stage the deal was closed from."""
        stage = body.stage if body else None
        return DealView.of(await to_thread(deals.reopen, deal_id, stage))

    @router.post("/deals/{deal_id}/amount", response_model=DealView)
    async def set_amount(deal_id: UUID, body: SetAmount) -> DealView:
        deal = await to_thread(
            deals.set_amount,
            deal_id,
            body.amount,
            body.currency,
            body.cost,
            body.expected_close_date,
        )
        return DealView.of(deal)

    @router.post("/deals/{deal_id}/assign", response_model=DealView)
    async def assign(deal_id: UUID, body: Assign) -> DealView:
        return DealView.of(await to_thread(deals.assign, deal_id, body.manager_id))

    @router.post("/deals/{deal_id}/tasks", response_model=TaskScheduledView, status_code=201)
    async def schedule_task(deal_id: UUID, body: ScheduleTask) -> TaskScheduledView:
        """Schedule a task; the same `task_id` again reschedules it."""
        scheduled = await to_thread(
            deals.schedule_task, deal_id, body.title, body.kind, body.due_at, body.task_id
        )
        return TaskScheduledView(task_id=scheduled.task_id, deal=DealView.of(scheduled.deal))

    @router.post("/deals/{deal_id}/tasks/{task_id}/complete", response_model=DealView)
    async def complete_task(deal_id: UUID, task_id: TaskId) -> DealView:
        return DealView.of(await to_thread(deals.complete_task, deal_id, task_id))

    @router.post("/deals/{deal_id}/tasks/{task_id}/cancel", response_model=DealView)
    async def cancel_task(
        deal_id: UUID,
        task_id: TaskId,
        body: Annotated[CancelTask | None, Body()] = None,
    ) -> DealView:
        reason = body.reason if body else None
        return DealView.of(await to_thread(deals.cancel_task, deal_id, task_id, reason))

    @router.post("/deals/{deal_id}/invoices", response_model=InvoiceIssuedView, status_code=201)
    async def issue_invoice(deal_id: UUID, body: IssueInvoice) -> InvoiceIssuedView:
        """The number comes from a sequence; the requisites are copied from the client card."""
        issued = await to_thread(
            deals.issue_invoice, deal_id, body.amount, body.currency, body.due_date
        )
        return InvoiceIssuedView(
            invoice_id=issued.invoice_id,
            number=issued.deal.invoices[issued.invoice_id].number,
            deal=DealView.of(issued.deal),
        )

    @router.post("/deals/{deal_id}/payments", response_model=PaymentRecordedView, status_code=201)
    async def record_payment(deal_id: UUID, body: RecordPayment) -> PaymentRecordedView:
        """Partial payments add up (`paid_total`); a repeated `payment_id` is recorded once."""
        paid = await to_thread(
            deals.record_payment,
            deal_id,
            body.amount,
            body.paid_at,
            body.invoice_id,
            body.payment_id,
        )
        return PaymentRecordedView(payment_id=paid.payment_id, deal=DealView.of(paid.deal))

    return router
