"""Request and response bodies of the HTTP API. Values are checked here for a clear 422
before a command runs; the domain checks its rules again (it trusts no adapter)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from crm_contracts.events import ManagerRole, TaskKind
from crm_contracts.pipelines import Stage
from crm_contracts.text import NulFree
from deal_pipeline.domain.client import Client
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.people import Manager, Plan

EARLIEST, LATEST = 1970, 2200
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def _moment(value: datetime) -> datetime:
    if not EARLIEST <= value.year <= LATEST:
        raise ValueError(f"year must be between {EARLIEST} and {LATEST}")
    return value.astimezone(UTC)


def _day(value: date) -> date:
    if not EARLIEST <= value.year <= LATEST:
        raise ValueError(f"year must be between {EARLIEST} and {LATEST}")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except Exception:
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_moment)]
Day = Annotated[date, AfterValidator(_day)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. RUB")]
Ident = Annotated[str, Field(pattern=ID_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Short = Annotated[str, Field(max_length=200)]
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_timezone)]


class Body(NulFree):
    model_config = ConfigDict(extra="forbid")


# -- deal commands -----------------------------------------------------------------------------


class CreateDeal(Body):
    title: Text
    pipeline_id: Ident = "default"
    client_id: str | None = Field(default=None, description="An existing client card")
    name: Short | None = Field(default=None, description="Contact, when no client_id is given")
    phone: Short | None = None
    email: Short | None = None
    manager_id: Ident | None = Field(default=None, description="Round robin when omitted")
    amount: Money = Decimal("0")
    currency: Currency = "RUB"
    cost: Money = Decimal("0")
    expected_close_date: Day | None = None


class MoveStage(Body):
    stage: str = Field(min_length=1, max_length=64)
    lost_reason: Short | None = None


class Lose(Body):
    reason: Text


class Reopen(Body):
    stage: str | None = Field(default=None, min_length=1, max_length=64)


class SetAmount(Body):
    amount: Money
    currency: Currency | None = None
    cost: Money | None = None
    expected_close_date: Day | None = None


class Assign(Body):
    manager_id: Ident


class ScheduleTask(Body):
    task_id: Ident | None = Field(default=None, description="Given again, it reschedules")
    title: Text
    kind: TaskKind = "call"
    due_at: Moment


class CancelTask(Body):
    reason: Short | None = None


class IssueInvoice(Body):
    amount: PositiveMoney
    currency: Currency | None = None
    due_date: Day | None = None


class RecordPayment(Body):
    amount: PositiveMoney
    paid_at: Moment | None = Field(default=None, description="Now when omitted")
    invoice_id: Short | None = None
    payment_id: Ident | None = Field(default=None, description="Recorded once per id")


# -- reference data ----------------------------------------------------------------------------


class DefinePipeline(Body):
    name: Short = ""
    stages: list[Stage] = Field(min_length=2, max_length=50)
    lost_reasons: list[Text] = Field(default_factory=list, max_length=50)
    manager_ids: list[Ident] = Field(
        default_factory=list, max_length=200, description="Round robin only among these"
    )


class PutManager(Body):
    name: Text
    email: Short | None = None
    telegram_chat_id: Short | None = None
    phone: Short | None = None
    active: bool = True
    timezone: TimeZone = "Europe/Moscow"
    role: ManagerRole = "manager"  # heads of sales get digests


class PutPlan(Body):
    amount: Money
    currency: Currency = "RUB"


class RequisitesIn(Body):
    legal_name: Short | None = None
    inn: str | None = Field(default=None, pattern=r"^\d{10}(\d{2})?$")
    kpp: str | None = Field(default=None, pattern=r"^\d{9}$")
    bank: Short | None = None
    bik: str | None = Field(default=None, pattern=r"^\d{9}$")
    account: str | None = Field(default=None, pattern=r"^\d{20}$")
    address: Short | None = None


class PutClient(Body):
    name: Short | None = None
    phones: list[Short] = Field(default_factory=list, max_length=10)
    emails: list[Short] = Field(default_factory=list, max_length=10)
    telegram_chat_id: Short | None = None
    requisites: RequisitesIn = Field(default_factory=RequisitesIn)


# -- views -------------------------------------------------------------------------------------


class TaskView(BaseModel):
    task_id: str
    title: str
    kind: str
    due_at: datetime
    status: str


class InvoiceView(BaseModel):
    invoice_id: str
    number: str
    amount: Decimal
    currency: str
    requisites: dict[str, str | None]
    due_date: date | None
    issued_at: datetime


class PaymentView(BaseModel):
    payment_id: str
    invoice_id: str | None
    amount: Decimal
    currency: str
    paid_at: datetime


class DealView(BaseModel):
    id: str
    lead_id: str | None
    client_id: str | None
    pipeline_id: str
    stage: str
    status: str
    lost_reason: str | None
    title: str
    manager_id: str | None
    source: str | None
    amount: Decimal
    currency: str
    cost: Decimal
    expected_close_date: date | None
    paid_total: Decimal
    tasks: list[TaskView]
    invoices: list[InvoiceView]
    payments: list[PaymentView]
    version: int
    created_on: datetime
    modified_on: datetime
    stage_entered_at: datetime

    @classmethod
    def of(cls, deal: Deal) -> DealView:
        nested = {"id", "tasks", "invoices", "payments"}
        return cls(
            id=str(deal.id),
            tasks=[TaskView(task_id=k, **asdict(v)) for k, v in deal.tasks.items()],
            invoices=[InvoiceView(invoice_id=k, **asdict(v)) for k, v in deal.invoices.items()],
            payments=[PaymentView(payment_id=k, **asdict(v)) for k, v in deal.payments.items()],
            **{k: getattr(deal, k) for k in cls.model_fields if k not in nested},
        )


class TaskScheduledView(BaseModel):
    task_id: str
    deal: DealView


class InvoiceIssuedView(BaseModel):
    invoice_id: str
    number: str
    deal: DealView


class PaymentRecordedView(BaseModel):
    payment_id: str
    deal: DealView


class HistoryView(BaseModel):
    deal_id: str
    events: list[dict[str, Any]] = Field(description="As published on the bus, oldest first")


class PipelineView(BaseModel):
    pipeline_id: str
    name: str
    stages: list[Stage]
    lost_reasons: list[str]
    manager_ids: list[str]
    version: int = Field(description="0 for the built-in default not yet edited")


class ManagerView(BaseModel):
    manager_id: str
    name: str
    email: str | None
    telegram_chat_id: str | None
    phone: str | None
    active: bool
    timezone: str
    role: str
    version: int

    @classmethod
    def of(cls, manager: Manager) -> ManagerView:
        return cls(manager_id=manager.manager_id, version=manager.version, **asdict(manager.card))


class PlanView(BaseModel):
    manager_id: str
    month: str
    amount: Decimal
    currency: str
    version: int

    @classmethod
    def of(cls, plan: Plan) -> PlanView:
        return cls(version=plan.version, **asdict(plan.terms))


class ClientView(BaseModel):
    id: str
    name: str | None
    phones: list[str]
    emails: list[str]
    telegram_chat_id: str | None
    requisites: dict[str, str | None]
    version: int

    @classmethod
    def of(cls, client: Client) -> ClientView:
        fields = {k: getattr(client, k) for k in cls.model_fields if k != "id"}
        return cls(id=str(client.id), **fields)


# -- lists -------------------------------------------------------------------------------------


class DealSummary(BaseModel):
    id: str
    lead_id: str | None
    client_id: str | None
    pipeline_id: str
    stage: str
    status: str
    manager_id: str | None
    title: str
    amount: Decimal
    currency: str
    paid_total: Decimal
    opened_at: datetime
    updated_at: datetime
    version: int


class DealPage(BaseModel):
    deals: list[DealSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")


class ClientSummary(BaseModel):
    id: str
    name: str | None
    phones: list[str]
    emails: list[str]
    version: int


class ClientPage(BaseModel):
    clients: list[ClientSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")


class RebuildView(BaseModel):
    position: int = Field(description="The last stored event now in the read model")
