"""The Deal aggregate: an event stream from its opening to won or lost, with the manager's
tasks, the invoices issued and the payments received on the way.

Every event carries the context a reader of the bus needs (lead id as correlation id,
manager, client), as it was at that moment, so that publishing it needs no other state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, get_args
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from crm_contracts.events.deals import DealStatus, TaskKind
from crm_contracts.pipelines import Pipeline, Stage
from deal_pipeline.domain import values
from deal_pipeline.domain.errors import (
    DealClosed,
    DealIsLost,
    DealNotClosed,
    InvalidValue,
    TaskClosed,
    TaskNotFound,
    UnknownInvoice,
    UnknownLostReason,
    UnknownStage,
)
from deal_pipeline.domain.ids import derived

TaskStatus = Literal["scheduled", "completed", "cancelled"]
TASK_KINDS: tuple[TaskKind, ...] = get_args(TaskKind)
Requisites = Mapping[str, str | None]


# Value objects of a deal's state. Their fields are the keys of the dicts older code kept
# (snapshots hold them): `Deal.upcast_v1_v2` turns those dicts into these.


@dataclass(frozen=True)
class Task:
    title: str
    kind: TaskKind
    due_at: datetime
    status: TaskStatus = "scheduled"


@dataclass(frozen=True)
class Invoice:
    number: str
    amount: Decimal
    currency: str
    requisites: Requisites
    due_date: date | None
    issued_at: datetime


@dataclass(frozen=True)
class Payment:
    invoice_id: str | None
    amount: Decimal
    currency: str
    paid_at: datetime


class Deal(Aggregate):
    # 2: tasks, invoices and payments are value objects (snapshots of 1 hold dicts).
    class_version = 2

    class Event(Aggregate.Event):
        """Context every deal event carries."""

        correlation_id: str | None
        pipeline_id: str
        manager_id: str | None
        client_id: str | None

    class Opened(Event, Aggregate.Created):
        lead_id: str | None
        stage: str
        title: str
        amount: Decimal
        currency: str
        # Absent from events stored before these existed: the defaults are read instead.
        source: str | None = None
        cost: Decimal = Decimal("0")
        expected_close_date: date | None = None

    class StageChanged(Event):
        """Any change of stage; on the bus it is deal.won / deal.lost / deal.reopened /
        deal.stage_changed depending on `status` and `from_status`."""

        from_stage: str
        to_stage: str
        status: DealStatus
        lost_reason: str | None
        from_stage_entered_at: datetime
        from_stage_entered_version: int
        from_status: DealStatus = "open"
        amount: Decimal = Decimal("0")
        currency: str = "RUB"

        def apply(self, deal: Deal) -> None:
            if self.status != "open" and deal.status == "open":
                deal.reopen_stage = deal.stage  # where a reopen returns to
            deal.stage = self.to_stage
            deal.status = self.status
            deal.lost_reason = self.lost_reason
            deal.stage_entered_at = self.timestamp
            deal.stage_entered_version = self.originator_version

    class AmountChanged(Event):
        amount: Decimal
        currency: str
        cost: Decimal
        previous_amount: Decimal
        expected_close_date: date | None

        def apply(self, deal: Deal) -> None:
            deal.amount, deal.currency, deal.cost = self.amount, self.currency, self.cost
            deal.expected_close_date = self.expected_close_date

    class Assigned(Event):
        previous_manager_id: str | None

        def apply(self, deal: Deal) -> None:
            deal.manager_id = self.manager_id

    class TaskScheduled(Event):
        """Also a reschedule: the latest one for a task id is in force."""

        task_id: str
        title: str
        kind: TaskKind
        due_at: datetime

        def apply(self, deal: Deal) -> None:
            deal.tasks[self.task_id] = Task(self.title, self.kind, self.due_at)

    class TaskCompleted(Event):
        task_id: str

        def apply(self, deal: Deal) -> None:
            deal.tasks[self.task_id] = replace(deal.tasks[self.task_id], status="completed")

    class TaskCancelled(Event):
        task_id: str
        reason: str | None

        def apply(self, deal: Deal) -> None:
            deal.tasks[self.task_id] = replace(deal.tasks[self.task_id], status="cancelled")

    class InvoiceIssued(Event):
        invoice_id: str
        number: str
        amount: Decimal
        currency: str
        requisites: dict[str, str | None]
        due_date: date | None

        def apply(self, deal: Deal) -> None:
            deal.invoices[self.invoice_id] = Invoice(
                number=self.number,
                amount=self.amount,
                currency=self.currency,
                requisites=dict(self.requisites),
                due_date=self.due_date,
                issued_at=self.timestamp,
            )

    class PaymentReceived(Event):
        payment_id: str
        invoice_id: str | None
        amount: Decimal
        currency: str
        paid_at: datetime
        paid_total: Decimal

        def apply(self, deal: Deal) -> None:
            deal.payments[self.payment_id] = Payment(
                self.invoice_id, self.amount, self.currency, self.paid_at
            )
            deal.paid_total = self.paid_total

    @staticmethod
    def create_id(lead_id: str | None = None, **_: object) -> UUID:
        """A deal opened from a lead gets an id derived from it: redelivery opens nothing new."""
        return derived("deal", lead_id) if lead_id else uuid4()

    def __init__(
        self,
        lead_id: str | None,
        pipeline_id: str,
        stage: str,
        title: str,
        manager_id: str | None,
        amount: Decimal,
        currency: str,
        client_id: str | None = None,
        source: str | None = None,
        cost: Decimal = Decimal("0"),
        expected_close_date: date | None = None,
    ) -> None:
        self.lead_id = lead_id
        self.pipeline_id = pipeline_id
        self.stage = stage
        self.title = title
        self.manager_id = manager_id
        self.client_id = client_id
        self.source = source
        self.amount = amount
        self.currency = currency
        self.cost = cost
        self.expected_close_date = expected_close_date
        self.status: DealStatus = "open"
        self.lost_reason: str | None = None
        self.reopen_stage: str | None = None
        self.stage_entered_at = self.created_on
        self.stage_entered_version = 1
        self.tasks: dict[str, Task] = {}
        self.invoices: dict[str, Invoice] = {}
        self.payments: dict[str, Payment] = {}
        self.paid_total = Decimal("0")

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot taken by older code holds dicts with the value objects' keys."""
        state["tasks"] = {k: Task(**v) for k, v in state["tasks"].items()}
        state["invoices"] = {k: Invoice(**v) for k, v in state["invoices"].items()}
        state["payments"] = {k: Payment(**v) for k, v in state["payments"].items()}

    @classmethod
    def open(
        cls,
        pipeline: Pipeline,
        lead_id: str | None,
        title: str,
        manager_id: str | None,
        amount: Decimal = Decimal("0"),
        currency: str = "RUB",
        *,
        client_id: str | None = None,
        source: str | None = None,
        cost: Decimal = Decimal("0"),
        expected_close_date: date | None = None,
    ) -> Deal:
        return cls._create(
            cls.Opened,
            id=cls.create_id(lead_id),
            lead_id=lead_id,
            pipeline_id=pipeline.id,
            stage=pipeline.first_stage.name,
            title=title,
            manager_id=manager_id,
            amount=values.money(amount, "amount"),
            currency=values.currency(currency),
            correlation_id=lead_id,
            client_id=client_id,
            source=source,
            cost=values.money(cost, "cost"),
            expected_close_date=expected_close_date,
        )

    # -- rules -------------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.status != "open":
            raise DealClosed(f"deal is {self.status}; reopen it first")

    def _context(self) -> dict[str, Any]:
        return {
            "correlation_id": self.lead_id,
            "pipeline_id": self.pipeline_id,
            "manager_id": self.manager_id,
            "client_id": self.client_id,
        }

    @staticmethod
    def _stage(pipeline: Pipeline, name: str) -> Stage:
        stage = pipeline.stage(name)
        if stage is None:
            known = ", ".join(s.name for s in pipeline.stages)
            raise UnknownStage(f"unknown stage {name!r}; pipeline has {known}", "stage")
        return stage

    # -- stages ------------------------------------------------------------------------------

    def move_to(
        self,
        pipeline: Pipeline,
        stage_name: str,
        lost_reason: str | None = None,
        lost_reasons: Sequence[str] = (),
    ) -> None:
        """Forward, back or skipping stages; a won/lost stage closes the deal. A lost stage
        needs a reason, from `lost_reasons` when that list is not empty."""
        self.check_open()
        stage = self._stage(pipeline, stage_name)
        if stage.name == self.stage:
            return
        if stage.kind == "lost":
            if not lost_reason:
                raise UnknownLostReason("a lost deal needs a lost_reason", "lost_reason")
            if lost_reasons and lost_reason not in lost_reasons:
                allowed = ", ".join(lost_reasons)
                raise UnknownLostReason(
                    f"unknown lost reason {lost_reason!r}; allowed: {allowed}", "lost_reason"
                )
        self._transition(stage, lost_reason if stage.kind == "lost" else None)

    def win(self, pipeline: Pipeline) -> None:
        self.move_to(pipeline, next(s.name for s in pipeline.stages if s.kind == "won"))

    def lose(self, pipeline: Pipeline, reason: str, lost_reasons: Sequence[str] = ()) -> None:
        lost = next(s.name for s in pipeline.stages if s.kind == "lost")
        self.move_to(pipeline, lost, reason, lost_reasons)

    def reopen(self, pipeline: Pipeline, stage_name: str | None = None) -> None:
        """Back to an open stage: the given one, else the one the deal was closed from."""
        if self.status == "open":
            raise DealNotClosed("deal is open; only a won or lost deal can be reopened")
        if stage_name:
            stage = self._stage(pipeline, stage_name)
        else:  # the stage it was closed from, unless the pipeline has dropped it since
            stage = pipeline.stage(self.reopen_stage or "") or pipeline.first_stage
        if stage.kind != "open":
            raise UnknownStage(f"a deal reopens into an open stage, not {stage.name!r}", "stage")
        self._transition(stage, None)

    def _transition(self, stage: Stage, lost_reason: str | None) -> None:
        self.trigger_event(
            self.StageChanged,
            **self._context(),
            from_stage=self.stage,
            to_stage=stage.name,
            status=stage.kind,
            lost_reason=lost_reason,
            from_stage_entered_at=self.stage_entered_at,
            from_stage_entered_version=self.stage_entered_version,
            from_status=self.status,
            amount=self.amount,
            currency=self.currency,
        )

    # -- money -------------------------------------------------------------------------------

    def set_amount(
        self,
        amount: Decimal,
        currency: str | None = None,
        cost: Decimal | None = None,
        expected_close_date: date | None = None,
    ) -> None:
        self.check_open()
        amount = values.money(amount, "amount")
        currency = values.currency(currency) if currency else self.currency
        cost = values.money(cost, "cost") if cost is not None else self.cost
        close = expected_close_date or self.expected_close_date
        if (amount, currency, cost, close) == (
            self.amount,
            self.currency,
            self.cost,
            self.expected_close_date,
        ):
            return
        self.trigger_event(
            self.AmountChanged,
            **self._context(),
            amount=amount,
            currency=currency,
            cost=cost,
            previous_amount=self.amount,
            expected_close_date=close,
        )

    def issue_invoice(
        self,
        number: str,
        amount: Decimal,
        requisites: Requisites,
        currency: str | None = None,
        due_date: date | None = None,
        invoice_id: str | None = None,
    ) -> str:
        if self.status == "lost":
            raise DealIsLost("deal is lost; reopen it before invoicing")
        invoice_id = invoice_id or str(uuid4())
        self.trigger_event(
            self.InvoiceIssued,
            **self._context(),
            invoice_id=invoice_id,
            number=number,
            amount=values.money(amount, "amount", positive=True),
            currency=values.currency(currency) if currency else self.currency,
            requisites=dict(requisites),
            due_date=due_date,
        )
        return invoice_id

    def check_payment(self, amount: Decimal, invoice_id: str | None) -> None:
        """Checked before an invoice number is drawn, so a refused payment costs nothing."""
        values.money(amount, "amount", positive=True)
        if self.status == "lost":
            raise DealIsLost("deal is lost; a payment needs it reopened first")
        if invoice_id is not None and invoice_id not in self.invoices:
            raise UnknownInvoice(f"deal has no invoice {invoice_id!r}", "invoice_id")

    def record_payment(
        self,
        amount: Decimal,
        paid_at: datetime,
        invoice_id: str | None = None,
        payment_id: str | None = None,
    ) -> str:
        """Partial payments add up; a payment id already recorded is not recorded again."""
        self.check_payment(amount, invoice_id)
        amount = values.money(amount, "amount", positive=True)
        values.aware(paid_at, "paid_at")
        if payment_id is not None and payment_id in self.payments:
            return payment_id
        payment_id = payment_id or str(uuid4())
        currency = self.invoices[invoice_id].currency if invoice_id else self.currency
        self.trigger_event(
            self.PaymentReceived,
            **self._context(),
            payment_id=payment_id,
            invoice_id=invoice_id,
            amount=amount,
            currency=currency,
            paid_at=paid_at,
            paid_total=self.paid_total + amount,
        )
        return payment_id

    # -- people and tasks --------------------------------------------------------------------

    def assign(self, manager_id: str) -> None:
        """The manager's existence and activity are checked by the application."""
        if manager_id == self.manager_id:
            return
        context = self._context() | {"manager_id": manager_id}
        self.trigger_event(self.Assigned, **context, previous_manager_id=self.manager_id)

    def schedule_task(
        self, title: str, kind: str, due_at: datetime, task_id: str | None = None
    ) -> str:
        if not title.strip():
            raise InvalidValue("a task needs a title", "title")
        if kind not in TASK_KINDS:
            raise InvalidValue(f"task kind must be one of {', '.join(TASK_KINDS)}", "kind")
        values.aware(due_at, "due_at")
        if task_id is not None and task_id in self.tasks:
            self._open_task(task_id)
        task_id = task_id or str(uuid4())
        self.trigger_event(
            self.TaskScheduled,
            **self._context(),
            task_id=task_id,
            title=title,
            kind=kind,
            due_at=due_at,
        )
        return task_id

    def complete_task(self, task_id: str) -> None:
        self._open_task(task_id)
        self.trigger_event(self.TaskCompleted, **self._context(), task_id=task_id)

    def cancel_task(self, task_id: str, reason: str | None = None) -> None:
        self._open_task(task_id)
        self.trigger_event(self.TaskCancelled, **self._context(), task_id=task_id, reason=reason)

    def _open_task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"deal has no task {task_id!r}", "task_id")
        if task.status != "scheduled":
            raise TaskClosed(f"task is {task.status}", "task_id")
        return task
