"""Latest-state tables (deals, tasks, clients): each event is applied to the row it touches.
An event whose aggregate version is not newer than the row's was already applied (a
redelivery) and changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from analytics.domain.hashing import contact_hash, mask_contacts
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.rows import (
    ClientRow,
    DealRow,
    FoldedRow,
    KnownPaymentRow,
    Row,
    TaskRow,
    evolve,
)
from crm_contracts.envelope import Event
from crm_contracts.events import (
    ClientRegistered,
    ClientUpdated,
    DealAmountChanged,
    DealAssigned,
    DealEvent,
    DealLost,
    DealOpened,
    DealPaymentReceived,
    DealReopened,
    DealWon,
    StageTransition,
    TaskCancelled,
    TaskCompleted,
    TaskEvent,
    TaskScheduled,
)


def _newer(event: Event, row: FoldedRow | None) -> bool:
    return row is None or event.aggregate_version > row.version


def apply_deal(event: Event, row: DealRow | None, _: ProjectionConfig) -> DealRow | None:
    if not _newer(event, row):
        return None
    at, version = event.occurred_at, event.aggregate_version
    if isinstance(event, DealOpened):
        return DealRow(
            deal_id=event.deal_id,
            lead_id=event.lead_id or "",
            client_id=event.client_id or "",
            pipeline_id=event.pipeline_id,
            title=event.title,
            source=event.source or "",
            stage=event.stage,
            status="open",
            manager_id=event.manager_id or "",
            amount=event.amount,
            cost=event.cost,
            currency=event.currency,
            opened_at=at,
            updated_at=at,
            version=version,
            stages_entered=(event.stage,),
        )
    if row is None:
        return None  # a change of a deal whose opening was never seen cannot make a full row
    if isinstance(event, StageTransition):
        lost = isinstance(event, DealLost) or (event.status == "lost")
        return evolve(
            row,
            stage=event.to_stage,
            status=event.status,
            manager_id=event.manager_id or row.manager_id,
            amount=event.amount if isinstance(event, DealWon) else row.amount,
            lost_reason=(getattr(event, "lost_reason", None) or "") if lost else "",
            lost_at_stage=event.from_stage if lost else "",
            closed_at=None if isinstance(event, DealReopened) or event.status == "open" else at,
            updated_at=at,
            version=version,
            **_stays_after(row, event),
        )
    if isinstance(event, DealAmountChanged):
        return evolve(
            row,
            amount=event.amount,
            cost=event.cost,
            currency=event.currency,
            updated_at=at,
            version=version,
        )
    if isinstance(event, DealAssigned):
        return evolve(row, manager_id=event.manager_id, updated_at=at, version=version)
    if isinstance(event, DealPaymentReceived):
        return evolve(row, paid_total=event.paid_total, updated_at=at, version=version)
    return None


def _stays_after(row: DealRow, event: StageTransition) -> dict[str, tuple[Any, ...]]:
    """The row's summary of stays once `event` ends the stay in its `from_stage` and begins
    one in its `to_stage`, as the stage intervals record them (tables.py)."""
    entered = row.stages_entered
    for stage in (event.from_stage, event.to_stage):
        if stage not in entered:
            entered = (*entered, stage)
    return {
        "stages_entered": entered,
        "closed_stay_versions": (*row.closed_stay_versions, event.from_stage_entered_version),
        "closed_stay_stages": (*row.closed_stay_stages, event.from_stage),
        "closed_stay_entered_at": (*row.closed_stay_entered_at, event.from_stage_entered_at),
        "closed_stay_left_at": (*row.closed_stay_left_at, event.occurred_at),
    }


def apply_task(event: Event, row: TaskRow | None, _: ProjectionConfig) -> TaskRow | None:
    if not _newer(event, row):
        return None
    at, version = event.occurred_at, event.aggregate_version
    if isinstance(event, TaskScheduled):
        return TaskRow(
            task_id=event.task_id,
            deal_id=event.deal_id,
            manager_id=event.manager_id or "",
            title=event.title,
            kind=event.kind,
            status="scheduled",
            due_at=event.due_at,
            scheduled_at=row.scheduled_at if row else at,
            version=version,
        )
    if row is None:
        return None
    if isinstance(event, TaskCompleted):
        return evolve(row, status="completed", closed_at=at, version=version)
    if isinstance(event, TaskCancelled):
        return evolve(row, status="cancelled", closed_at=at, version=version)
    return None


def apply_client(event: Event, row: ClientRow | None, config: ProjectionConfig) -> ClientRow | None:
    if not _newer(event, row):
        return None
    at = event.occurred_at  # contacts are already hashes here (see pseudonymise)
    if isinstance(event, ClientRegistered):
        return ClientRow(
            client_id=event.client_id,
            lead_id=event.lead_id or "",
            registered_at=at,
            phone_hashes=[event.phone] if event.phone else [],
            email_hashes=[event.email] if event.email else [],
            updated_at=at,
            version=event.aggregate_version,
        )
    if isinstance(event, ClientUpdated):
        base = row or ClientRow(event.client_id, "", at, [], [], at)
        return evolve(
            base,
            phone_hashes=list(event.phones),
            email_hashes=list(event.emails),
            updated_at=at,
            version=event.aggregate_version,
        )
    return None


def pseudonymise(event: Event, salt: str) -> Event:
    """The event as the folded tables may keep it: client contacts as salted hashes, no client
    name or chat id, contacts inside titles masked."""
    if isinstance(event, ClientRegistered):
        return event.model_copy(
            update={
                "name": None,
                "phone": contact_hash(event.phone, salt) or None,
                "email": contact_hash(event.email, salt) or None,
            }
        )
    if isinstance(event, ClientUpdated):
        return event.model_copy(
            update={
                "name": None,
                "telegram_chat_id": None,
                "phones": [contact_hash(p, salt) for p in event.phones],
                "emails": [contact_hash(e, salt) for e in event.emails],
            }
        )
    if isinstance(event, DealOpened | TaskScheduled):
        title = mask_contacts(event.title, salt)
        # Most titles hold no contact: the event is kept as it is, no copy made.
        return event if title == event.title else event.model_copy(update={"title": title})
    return event


def deal_key(event: Event) -> str | None:
    return event.deal_id if isinstance(event, DealEvent) else None


def task_key(event: Event) -> str | None:
    return event.task_id if isinstance(event, TaskEvent) else None


def client_key(event: Event) -> str | None:
    return event.client_id if isinstance(event, ClientRegistered | ClientUpdated) else None


def known_payment(event: Event, deal: DealRow) -> KnownPaymentRow | None:
    """The payment `event` as the client reports count it, once the deal's fold has applied
    it (`deal`: the row after it): only a deal whose opening was folded has a row, so a
    payment that came first is made when the opening comes and the deal is re-folded."""
    if not isinstance(event, DealPaymentReceived):
        return None
    return KnownPaymentRow(
        payment_id=event.payment_id,
        deal_id=event.deal_id,
        client_id=event.client_id or deal.client_id,
        manager_id=event.manager_id or "",
        amount=event.amount,
        currency=event.currency,
        paid_at=event.paid_at,
    )


def nothing_beside(event: Event, row: FoldedRow) -> None:
    return None


R = TypeVar("R", DealRow, TaskRow, ClientRow)
KeyOf = Callable[[Event], str | None]
# A row made beside the folded one when an event is applied to it (None: none).
Beside = Callable[[Event, Any], Row | None]

FOLDS = (
    (DealRow, deal_key, apply_deal, known_payment),
    (TaskRow, task_key, apply_task, nothing_beside),
    (ClientRow, client_key, apply_client, nothing_beside),
)


def fold(
    events: Iterable[Event],
    current: dict[str, R],
    key_of: KeyOf,
    apply: Callable[[Event, R | None, ProjectionConfig], R | None],
    config: ProjectionConfig,
    beside: Beside = nothing_beside,
    made: list[Row] | None = None,
) -> dict[str, R]:
    """Apply `events` (any order; applied by version) onto `current` rows by key; returns the
    rows that changed, in their final state. The projection folds the whole history of each
    touched key from scratch, so an event that arrives late is never lost. The rows `beside`
    makes of each applied event go to `made`."""
    changed: dict[str, R] = {}
    keyed = [(key, e) for e in events if (key := key_of(e))]
    for key, event in sorted(keyed, key=lambda pair: (pair[0], pair[1].aggregate_version)):
        new = apply(event, current.get(key), config)
        if new is not None:
            current[key] = changed[key] = new
            if made is not None and (extra := beside(event, new)) is not None:
                made.append(extra)
    return changed
