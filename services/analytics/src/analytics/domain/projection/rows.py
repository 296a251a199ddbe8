"""Rows of every projected table, one dataclass per table: its fields are the table's columns
(inserted by name), so no code indexes a row by position. `DealRow`, `TaskRow` and `ClientRow`
hold a latest state folded from several events (folds.py); the others come from one event
each (tables.py).

A row is never changed once made: `evolve` makes a changed copy. They are not `frozen`
dataclasses all the same, as the projection makes hundreds of thousands of them and a frozen
one costs five times as much to make (each field set through `object.__setattr__`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar, TypeVar
from uuid import UUID


@dataclass(slots=True)
class Row:
    TABLE: ClassVar[str]

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def values(self) -> list[object]:
        data = asdict(self)
        return [data[c] for c in self.columns()]


RowT = TypeVar("RowT", bound=Row)


def evolve(row: RowT, **changes: Any) -> RowT:
    """A copy of `row` with `changes` (as `dataclasses.replace`, at a fifth of its cost)."""
    row_type = type(row)
    values = _VALUES.get(row_type)
    if values is None:  # every field, in order: the constructor's positional arguments
        values = _VALUES[row_type] = attrgetter(*(f.name for f in fields(row_type) if f.init))
    new = row_type(*values(row))
    for name, value in changes.items():
        setattr(new, name, value)
    return new


_VALUES: dict[type[Row], attrgetter[Any]] = {}


@dataclass(slots=True)
class EventRow(Row):
    """Every event as received (payload scrubbed of contacts)."""

    TABLE: ClassVar[str] = "events"

    event_id: UUID
    event_type: str
    schema_version: int
    occurred_at: datetime
    aggregate_id: str
    aggregate_version: int
    correlation_id: str
    producer: str
    payload: str


@dataclass(slots=True)
class FoldEventRow(Row):
    """One event of a folded key's history (contacts pseudonymised)."""

    TABLE: ClassVar[str] = "fold_events"

    stream: str
    key: str
    version: int
    event_id: UUID
    payload: str


@dataclass(slots=True)
class LeadRow(Row):
    TABLE: ClassVar[str] = "leads"

    lead_id: str
    received_at: datetime
    form_id: str
    source: str
    phone_hash: str
    email_hash: str
    consent: int
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_content: str
    utm_term: str
    referrer_host: str
    visitor_id: str
    # The own touch's source as the touchpoints keep it (`source_of`), so that a report can
    # read a lead's own touch (channel, touch_source, utm_campaign) from this row alone.
    touch_source: str = ""


@dataclass(slots=True)
class TouchRow(Row):
    TABLE: ClassVar[str] = "touchpoints"

    lead_id: str
    kind: str  # 'lead': the lead's own touch; 'first': the visitor's first
    touch_at: datetime
    channel: str
    source: str
    medium: str
    campaign: str
    visitor_id: str


@dataclass(slots=True)
class LeadOwnerRow(Row):
    """A lead that opened a deal, and the deal's owner: its client, or the lead itself
    (`lead:<id>`) when it has none. Both are fixed when the deal opens."""

    TABLE: ClassVar[str] = "lead_owners"

    lead_id: str
    owner: str


@dataclass(slots=True)
class OwnerPathRow(Row):
    """Touches of an owner's leads (touch_at, channel, source, campaign), sorted; the engine
    unites the rows of one owner (domain/projection/paths.py)."""

    TABLE: ClassVar[str] = "owner_paths"

    owner: str
    touches: list[tuple[datetime, str, str, str]]


@dataclass(slots=True)
class StageIntervalRow(Row):
    TABLE: ClassVar[str] = "deal_stage_intervals"

    deal_id: str
    pipeline_id: str
    stage: str
    entered_version: int
    entered_at: datetime
    left_at: datetime | None
    version: int


@dataclass(slots=True)
class PaymentRow(Row):
    TABLE: ClassVar[str] = "payments"

    payment_id: str
    deal_id: str
    client_id: str
    manager_id: str
    pipeline_id: str
    invoice_id: str
    amount: Decimal
    currency: str
    paid_at: datetime


@dataclass(slots=True)
class KnownPaymentRow(Row):
    """A payment of a deal the projection knows (its opening folded), with its client: the
    payment's own, else its deal's (a deal's client never changes). Written when the deal's
    fold applies the payment, so a payment that came before its deal's opening is written
    once the opening comes; the client reports read these instead of checking every payment's
    deal (folds.py `known_payment`)."""

    TABLE: ClassVar[str] = "known_payments"

    payment_id: str
    deal_id: str
    client_id: str
    manager_id: str  # the payment's own ('' for none: the deal's latest manager is meant)
    amount: Decimal
    currency: str
    paid_at: datetime


@dataclass(slots=True)
class PlanRow(Row):
    TABLE: ClassVar[str] = "plans"

    manager_id: str
    month: date
    amount: Decimal
    currency: str
    updated_at: datetime


@dataclass(slots=True)
class ManagerRow(Row):
    TABLE: ClassVar[str] = "managers"

    manager_id: str
    name: str
    role: str
    active: int
    updated_at: datetime


@dataclass(slots=True)
class PipelineRow(Row):
    TABLE: ClassVar[str] = "pipelines"

    pipeline_id: str
    name: str
    stage_names: list[str]
    stage_kinds: list[str]
    stage_probabilities: list[float]
    updated_at: datetime


@dataclass(slots=True)
class NotificationRow(Row):
    TABLE: ClassVar[str] = "notifications"

    notification_id: str
    status: str
    rule_id: str
    channel: str
    trigger_event_type: str
    attempts: int
    latency_ms: int
    reason: str
    occurred_at: datetime


@dataclass(slots=True)
class DealRow(Row):
    TABLE: ClassVar[str] = "deals"

    deal_id: str
    lead_id: str
    client_id: str
    pipeline_id: str
    title: str
    source: str
    stage: str
    status: str
    manager_id: str
    amount: Decimal
    cost: Decimal
    currency: str
    opened_at: datetime
    updated_at: datetime
    version: int
    paid_total: Decimal = Decimal(0)
    lost_reason: str = ""
    lost_at_stage: str = ""
    closed_at: datetime | None = None
    # The deal's stays in brief, so that a funnel needs no pass over its stays: every stage
    # it has been in (first entry first), and each completed stay (the version that entered
    # it, its stage, when it was entered and left), oldest first.
    stages_entered: tuple[str, ...] = ()
    closed_stay_versions: tuple[int, ...] = ()
    closed_stay_stages: tuple[str, ...] = ()
    closed_stay_entered_at: tuple[datetime, ...] = ()
    closed_stay_left_at: tuple[datetime, ...] = ()
    # Its lead's facts as the lead funnel reads them (the lead's `received_at`, `channel`,
    # `touch_source`, `utm_campaign`), so that the funnel needs no join of deals to leads.
    # A lead's are fixed once received; None/empty while the projection has not seen the lead
    # when it writes the row (the funnel then joins that deal to the leads as it reads).
    lead_received_at: datetime | None = None
    lead_channel: str = ""
    lead_touch_source: str = ""
    lead_campaign: str = ""


@dataclass(slots=True)
class TaskRow(Row):
    TABLE: ClassVar[str] = "tasks"

    task_id: str
    deal_id: str
    manager_id: str
    title: str
    kind: str
    status: str
    due_at: datetime
    scheduled_at: datetime
    version: int
    closed_at: datetime | None = None


@dataclass(slots=True)
class ClientRow(Row):
    TABLE: ClassVar[str] = "clients"

    client_id: str
    lead_id: str
    registered_at: datetime
    phone_hashes: list[str]
    email_hashes: list[str]
    updated_at: datetime
    version: int = 0


FoldedRow = DealRow | TaskRow | ClientRow
# Every table the projection writes, by row type (a rebuild swaps exactly these).
PROJECTED_ROWS: tuple[type[Row], ...] = (
    EventRow,
    FoldEventRow,
    LeadRow,
    TouchRow,
    LeadOwnerRow,
    OwnerPathRow,
    StageIntervalRow,
    PaymentRow,
    KnownPaymentRow,
    PlanRow,
    ManagerRow,
    PipelineRow,
    NotificationRow,
    DealRow,
    TaskRow,
    ClientRow,
)
