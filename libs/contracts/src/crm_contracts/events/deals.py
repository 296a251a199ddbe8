"""Events of the deal-pipeline context: deals, their tasks, invoices and payments.

Every change of stage is a *transition* and carries where the deal came from (the previous
stage and when/at which version the deal entered it), so that a projection can close the
previous stay without reading its own state. A transition into a won stage is `deal.won`,
into a lost stage `deal.lost`, out of a won/lost stage `deal.reopened`, anything else
`deal.stage_changed`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from crm_contracts.envelope import Contract, Event

DealStatus = Literal["open", "won", "lost"]
Money = Decimal
TaskKind = Literal["call", "meeting", "email", "other"]


class DealEvent(Event):
    deal_id: str = Field(description="The deal (equal to aggregate_id).")
    pipeline_id: str = Field(default="default", description="The deal's pipeline.")


class DealOpened(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.opened"

    event_type: Literal["deal.opened"] = "deal.opened"
    lead_id: str | None = Field(default=None, description="The lead that opened it, if any")
    stage: str = Field(description="The first stage of the pipeline.")
    title: str = Field(
        default="", description="The deal's title (for a lead: its name and form, never a contact)."
    )
    manager_id: str | None = Field(default=None, description="The manager assigned at opening.")
    client_id: str | None = Field(
        default=None, description="The client found or registered for it."
    )
    source: str | None = Field(default=None, description="form, api, call, manual, ...")
    amount: Money = Field(default=Decimal("0"), ge=0, description="Expected amount.")
    currency: str = Field(default="RUB", description="Currency of amount and cost.")
    cost: Money = Field(default=Decimal("0"), ge=0, description="Cost of the deal (for margins).")
    expected_close_date: date | None = Field(default=None, description="Forecast close date.")


class StageTransition(DealEvent):
    from_stage: str = Field(description="The stage the deal leaves.")
    to_stage: str = Field(description="The stage it enters.")
    from_stage_entered_at: AwareDatetime = Field(description="When the deal entered from_stage.")
    from_stage_entered_version: int = Field(
        ge=1, description="The deal's version at that entry (key of the stay)."
    )
    status: DealStatus = Field(default="open", description="The deal's status after the move.")
    manager_id: str | None = Field(default=None, description="The deal's manager at the move.")


class DealStageChanged(StageTransition):
    SUBJECT: ClassVar[str] = "crm.deals.stage_changed"

    event_type: Literal["deal.stage_changed"] = "deal.stage_changed"
    lost_reason: str | None = Field(
        default=None, description="Normally empty: a move into a lost status is deal.lost."
    )


class DealWon(StageTransition):
    SUBJECT: ClassVar[str] = "crm.deals.won"

    event_type: Literal["deal.won"] = "deal.won"
    status: DealStatus = Field(default="won", description="The deal's status after the move.")
    amount: Money = Field(ge=0, description="The deal's amount at winning.")
    currency: str = Field(default="RUB", description="Its currency.")


class DealLost(StageTransition):
    SUBJECT: ClassVar[str] = "crm.deals.lost"

    event_type: Literal["deal.lost"] = "deal.lost"
    status: DealStatus = Field(default="lost", description="The deal's status after the move.")
    lost_reason: str = Field(description="One of the pipeline's lost reasons.")


class DealReopened(StageTransition):
    SUBJECT: ClassVar[str] = "crm.deals.reopened"

    event_type: Literal["deal.reopened"] = "deal.reopened"
    status: DealStatus = Field(default="open", description="The deal's status after the move.")


class DealAmountChanged(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.amount_changed"

    event_type: Literal["deal.amount_changed"] = "deal.amount_changed"
    amount: Money = Field(ge=0, description="The new amount.")
    currency: str = Field(default="RUB", description="Its currency (also of cost).")
    cost: Money = Field(default=Decimal("0"), ge=0, description="The new cost.")
    previous_amount: Money = Field(default=Decimal("0"), ge=0, description="The amount before.")
    expected_close_date: date | None = Field(
        default=None, description="The forecast close date set with the amount, if any"
    )


class DealAssigned(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.assigned"

    event_type: Literal["deal.assigned"] = "deal.assigned"
    manager_id: str = Field(description="The new manager.")
    previous_manager_id: str | None = Field(default=None, description="The manager before.")


class Requisites(Contract):
    """A client's legal details as copied onto an invoice."""

    legal_name: str | None = Field(default=None, description="Legal name.")
    inn: str | None = Field(default=None, description="Tax id (INN).")
    kpp: str | None = Field(default=None, description="Tax registration reason code (KPP).")
    bank: str | None = Field(default=None, description="Bank name.")
    bik: str | None = Field(default=None, description="Bank id code (BIK).")
    account: str | None = Field(default=None, description="Account number.")
    address: str | None = Field(default=None, description="Legal address.")


class DealInvoiceIssued(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.invoice_issued"

    event_type: Literal["deal.invoice_issued"] = "deal.invoice_issued"
    invoice_id: str = Field(description="The invoice's id.")
    number: str = Field(description="Its human number (INV-000001).")
    amount: Money = Field(gt=0, description="Amount invoiced.")
    currency: str = Field(default="RUB", description="Its currency.")
    client_id: str | None = Field(default=None, description="The client invoiced.")
    requisites: Requisites = Field(
        default_factory=Requisites, description="The client's legal details, copied at issue time."
    )
    due_date: date | None = Field(default=None, description="Payment due date.")


class DealPaymentReceived(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.payment_received"

    event_type: Literal["deal.payment_received"] = "deal.payment_received"
    payment_id: str = Field(description="The payment's id.")
    invoice_id: str | None = Field(default=None, description="The invoice it pays, if any.")
    amount: Money = Field(gt=0, description="Amount paid.")
    currency: str = Field(default="RUB", description="Its currency.")
    paid_at: AwareDatetime = Field(description="When it was paid: the date revenue reports use.")
    client_id: str | None = Field(default=None, description="The paying client.")
    manager_id: str | None = Field(default=None, description="The deal's manager at the time.")
    paid_total: Money = Field(ge=0, description="All payments of the deal so far, this included")


class TaskEvent(Event):
    task_id: str = Field(description="The task.")
    deal_id: str = Field(description="Its deal.")
    manager_id: str | None = Field(default=None, description="Who is to do it.")
    client_id: str | None = Field(default=None, description="The deal's client.")


class TaskScheduled(TaskEvent):
    """Also sent when a task is rescheduled: the latest one for a task id is in force."""

    SUBJECT: ClassVar[str] = "crm.tasks.scheduled"

    event_type: Literal["task.scheduled"] = "task.scheduled"
    title: str = Field(description="What is to be done.")
    kind: TaskKind = Field(default="call", description="What kind of task.")
    due_at: AwareDatetime = Field(description="When it is due.")


class TaskCompleted(TaskEvent):
    SUBJECT: ClassVar[str] = "crm.tasks.completed"

    event_type: Literal["task.completed"] = "task.completed"
    due_at: AwareDatetime | None = Field(default=None, description="The due time it had.")


class TaskCancelled(TaskEvent):
    SUBJECT: ClassVar[str] = "crm.tasks.cancelled"

    event_type: Literal["task.cancelled"] = "task.cancelled"
    reason: str | None = Field(default=None, description="Why, if given.")
