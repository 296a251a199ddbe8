"""Events → rows of the analytics tables. Pure: the caller reads current deal states and writes
the rows; here only the rules of what each event means for each table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from crm_contracts.envelope import Event
from crm_contracts.events import DealOpened, StageTransition

EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "aggregate_id",
    "aggregate_version",
    "correlation_id",
    "producer",
    "payload",
)
INTERVAL_COLUMNS = (
    "deal_id",
    "pipeline_id",
    "stage",
    "entered_version",
    "entered_at",
    "left_at",
    "version",
)


@dataclass(frozen=True)
class DealRow:
    deal_id: str
    lead_id: str
    pipeline_id: str
    title: str
    stage: str
    status: str
    manager_id: str
    amount: Decimal
    currency: str
    opened_at: datetime
    updated_at: datetime
    version: int
    lost_reason: str = ""
    lost_at_stage: str = ""
    closed_at: datetime | None = None

    COLUMNS = (
        "deal_id",
        "lead_id",
        "pipeline_id",
        "title",
        "stage",
        "status",
        "manager_id",
        "amount",
        "currency",
        "opened_at",
        "updated_at",
        "version",
        "lost_reason",
        "lost_at_stage",
        "closed_at",
    )

    def values(self) -> list[object]:
        data = asdict(self)
        return [data[c] for c in self.COLUMNS]


def event_row(event: Event, payload: str) -> list[object]:
    return [
        event.event_id,
        event.event_type,
        event.schema_version,
        event.occurred_at,
        event.aggregate_id,
        event.aggregate_version,
        event.correlation_id or "",
        event.producer,
        payload,
    ]


@dataclass
class DealChanges:
    """What a batch changes in the deal tables."""

    deals: dict[str, DealRow] = field(default_factory=dict)
    intervals: list[list[object]] = field(default_factory=list)


def apply_deal_events(events: list[Event], current: dict[str, DealRow]) -> DealChanges:
    """Fold deal events into the latest deal rows. An event whose version is not newer than the
    stored state was already applied (a redelivery) and changes nothing."""
    changes = DealChanges()
    ordered = sorted(events, key=lambda e: (e.aggregate_id, e.aggregate_version))
    for event in ordered:
        if isinstance(event, DealOpened):
            _opened(event, current, changes)
        elif isinstance(event, StageTransition):
            _stage_changed(event, current, changes)
    return changes


def _is_new(event: Event, current: dict[str, DealRow], deal_id: str) -> bool:
    state = current.get(deal_id)
    return state is None or event.aggregate_version > state.version


def _opened(event: DealOpened, current: dict[str, DealRow], changes: DealChanges) -> None:
    changes.intervals.append(
        [
            event.deal_id,
            event.pipeline_id,
            event.stage,
            event.aggregate_version,
            event.occurred_at,
            None,
            event.aggregate_version,
        ]
    )
    if not _is_new(event, current, event.deal_id):
        return
    row = DealRow(
        deal_id=event.deal_id,
        lead_id=event.lead_id or "",
        pipeline_id=event.pipeline_id,
        title=event.title,
        stage=event.stage,
        status="open",
        manager_id=event.manager_id or "",
        amount=event.amount,
        currency=event.currency,
        opened_at=event.occurred_at,
        updated_at=event.occurred_at,
        version=event.aggregate_version,
    )
    current[event.deal_id] = changes.deals[event.deal_id] = row


def _stage_changed(
    event: StageTransition, current: dict[str, DealRow], changes: DealChanges
) -> None:
    # Both interval rows are self-contained, so they are written even for a redelivery.
    changes.intervals.append(
        [
            event.deal_id,
            event.pipeline_id,
            event.from_stage,
            event.from_stage_entered_version,
            event.from_stage_entered_at,
            event.occurred_at,
            event.aggregate_version,
        ]
    )
    changes.intervals.append(
        [
            event.deal_id,
            event.pipeline_id,
            event.to_stage,
            event.aggregate_version,
            event.occurred_at,
            None,
            event.aggregate_version,
        ]
    )
    state = current.get(event.deal_id)
    if state is None or not _is_new(event, current, event.deal_id):
        return  # a move of a deal whose opening we have not seen cannot make a full row
    closed = event.status in ("won", "lost")
    row = replace(
        state,
        stage=event.to_stage,
        status=event.status,
        lost_reason=(getattr(event, "lost_reason", None) or "") if event.status == "lost" else "",
        lost_at_stage=event.from_stage if event.status == "lost" else "",
        closed_at=event.occurred_at if closed else None,
        updated_at=event.occurred_at,
        version=event.aggregate_version,
    )
    current[event.deal_id] = changes.deals[event.deal_id] = row
