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
    deal_id: str
    pipeline_id: str = "default"


class DealOpened(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.opened"

    event_type: Literal["deal.opened"] = "deal.opened"
    lead_id: str | None = Field(default=None, description="The lead that opened it, if any")
    stage: str
    title: str = ""
    manager_id: str | None = None
    client_id: str | None = None
    source: str | None = Field(default=None, description="form, api, call, manual, ...")
    amount: Money = Field(default=Decimal("0"), ge=0)
    currency: str = "RUB"
    cost: Money = Field(default=Decimal("0"), ge=0)
    expected_close_date: date | None = None


class StageTransition(DealEvent):
    from_stage: str
    to_stage: str
    from_stage_entered_at: AwareDatetime
    from_stage_entered_version: int = Field(ge=1)
    status: DealStatus = "open"
    manager_id: str | None = None


class DealStageChanged(StageTransition):
    SUBJECT: ClassVar[str] = "crm.deals.stage_changed"

    event_type: Literal["deal.stage_changed"] = "deal.stage_changed"
    lost_reason: str | None = None


class DealWon(StageTransition):
    SUBJECT: ClassVar[str] = "crm.deals.won"

    event_type: Literal["deal.won"] = "deal.won"
    status: DealStatus = "won"
    amount: Money = Field(ge=0)
    currency: str = "RUB"


class DealLost(StageTransition):
    SUBJECT: ClassVar[str] = "crm.deals.lost"

    event_type: Literal["deal.lost"] = "deal.lost"
    status: DealStatus = "lost"
    lost_reason: str


class DealReopened(StageTransition):
    SUBJECT: ClassVar[str] = "crm.deals.reopened"

    event_type: Literal["deal.reopened"] = "deal.reopened"
    status: DealStatus = "open"


class DealAmountChanged(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.amount_changed"

    event_type: Literal["deal.amount_changed"] = "deal.amount_changed"
    amount: Money = Field(ge=0)
    currency: str = "RUB"
    cost: Money = Field(default=Decimal("0"), ge=0)
    previous_amount: Money = Field(default=Decimal("0"), ge=0)
    expected_close_date: date | None = Field(
        default=None, description="The forecast close date set with the amount, if any"
    )


class DealAssigned(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.assigned"

    event_type: Literal["deal.assigned"] = "deal.assigned"
    manager_id: str
    previous_manager_id: str | None = None


class Requisites(Contract):
    """A client's legal details as copied onto an invoice."""

    legal_name: str | None = None
    inn: str | None = None
    kpp: str | None = None
    bank: str | None = None
    bik: str | None = None
    account: str | None = None
    address: str | None = None


class DealInvoiceIssued(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.invoice_issued"

    event_type: Literal["deal.invoice_issued"] = "deal.invoice_issued"
    invoice_id: str
    number: str
    amount: Money = Field(gt=0)
    currency: str = "RUB"
    client_id: str | None = None
    requisites: Requisites = Field(default_factory=Requisites)
    due_date: date | None = None


class DealPaymentReceived(DealEvent):
    SUBJECT: ClassVar[str] = "crm.deals.payment_received"

    event_type: Literal["deal.payment_received"] = "deal.payment_received"
    payment_id: str
    invoice_id: str | None = None
    amount: Money = Field(gt=0)
    currency: str = "RUB"
    paid_at: AwareDatetime
    client_id: str | None = None
    manager_id: str | None = None
    paid_total: Money = Field(ge=0, description="All payments of the deal so far, this included")


class TaskEvent(Event):
    task_id: str
    deal_id: str
    manager_id: str | None = None
    client_id: str | None = None


class TaskScheduled(TaskEvent):
    """Also sent when a task is rescheduled: the latest one for a task id is in force."""

    SUBJECT: ClassVar[str] = "crm.tasks.scheduled"

    event_type: Literal["task.scheduled"] = "task.scheduled"
    title: str
    kind: TaskKind = "call"
    due_at: AwareDatetime


class TaskCompleted(TaskEvent):
    SUBJECT: ClassVar[str] = "crm.tasks.completed"

    event_type: Literal["task.completed"] = "task.completed"
    due_at: AwareDatetime | None = None


class TaskCancelled(TaskEvent):
    SUBJECT: ClassVar[str] = "crm.tasks.cancelled"

    event_type: Literal["task.cancelled"] = "task.cancelled"
    reason: str | None = None
