"""The service's own view of managers, clients, leads, deals and tasks, fed from their events
(KV buckets), so a notification can name the deal and reach the right person."""

from __future__ import annotations

from typing import Any

from faststream.nats import NatsBroker

from crm_contracts.envelope import Event
from crm_contracts.events import (
    ClientRegistered,
    ClientUpdated,
    DealAmountChanged,
    DealAssigned,
    DealOpened,
    DealWon,
    LeadReceived,
    ManagerUpdated,
    StageTransition,
    TaskCancelled,
    TaskCompleted,
    TaskScheduled,
)
from notification.adapters.buckets import JsonBucket
from notification.adapters.card_memo import recall, remember
from notification.adapters.own_plans import own_plan
from notification.application.ports import Card, CardKind
from notification.domain.deliveries import token

KEEP_DAYS = 400


def _order(event: Event) -> list[Any]:
    # The records of one key come from one aggregate: its version is the true order (clocks
    # of different replicas may disagree); the time only breaks ties.
    return [event.aggregate_version, event.occurred_at.isoformat()]


class Directory:
    def __init__(self, broker: NatsBroker, replicas: int = 1) -> None:
        # Watched: a send this process planned reads its cards from memory (own_plans.py).
        self.managers = JsonBucket(broker, "notification_managers", None, replicas, True)
        self.clients = JsonBucket(broker, "notification_clients", KEEP_DAYS, replicas, True)
        self.leads = JsonBucket(broker, "notification_leads", KEEP_DAYS, replicas, True)
        self.deals = JsonBucket(broker, "notification_deals", KEEP_DAYS, replicas, True)
        self.tasks = JsonBucket(broker, "notification_tasks", KEEP_DAYS, replicas, True)
        self._buckets: dict[CardKind, JsonBucket] = {
            "managers": self.managers,
            "clients": self.clients,
            "leads": self.leads,
            "deals": self.deals,
            "tasks": self.tasks,
        }

    async def _merge(
        self,
        bucket: JsonBucket,
        key: str | None,
        event: Event,
        full: bool = False,
        **fields: Any,
    ) -> bool:
        """Apply unless something newer is already stored; False if the event is stale. A
        `full` card (manager, client) also clears what it leaves empty.

        A stale event still adds the fields nothing newer has set: events of one aggregate
        may land out of order (replicas, or one batch's updates running at once), and a
        deal won before its opening is recorded must still get its client and title. A
        `full` card is replaced by the newer one whole."""
        if not key:
            return False
        order = _order(event)
        changes = fields if full else {k: v for k, v in fields.items() if v is not None}
        stale = unchanged = False

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            nonlocal stale, unchanged
            current = current or {}
            stored = current.get("_order")
            stale = bool(stored and isinstance(stored[0], int) and stored > order)
            if not stale:
                new = current | changes | {"_order": order}
                # Already on file (a redelivery, a replica's copy): nothing to write.
                unchanged = new == current
                return None if unchanged else new
            # Absent, not None: a newer `full` card stores its empty fields, and they stay so.
            missing = {k: v for k, v in changes.items() if k not in current}
            return None if full or not missing else current | missing

        # A first version most likely makes the card: written at once, no read before.
        written = await bucket.modify(token(key), change, absent=event.aggregate_version == 1)
        # What is on file now (written, or read just now when nothing was): for the batch's plans.
        known = bucket.known(token(key))
        if known is not None:
            remember((bucket.name, token(key)), known[0] or {})
        return (written or unchanged) and not stale

    async def apply(self, event: Event) -> bool:
        """Record what the event says. False only for a task event older than the one stored
        (a late redelivery must not bring back an old due time)."""
        match event:
            case ManagerUpdated():
                fields = event.model_dump(include={"name", "email", "telegram_chat_id", "phone"})
                await self._merge(
                    self.managers,
                    event.manager_id,
                    event,
                    full=True,
                    id=event.manager_id,
                    **fields,
                    timezone=event.timezone,
                    active=event.active,
                    role=event.role,
                )
            case ClientRegistered():
                await self._merge(
                    self.clients,
                    event.client_id,
                    event,
                    id=event.client_id,
                    name=event.name,
                    email=event.email,
                    phone=event.phone,
                    lead_id=event.lead_id,
                )
            case ClientUpdated():
                await self._merge(
                    self.clients,
                    event.client_id,
                    event,
                    full=True,
                    id=event.client_id,
                    name=event.name,
                    email=next(iter(event.emails), None),
                    phone=next(iter(event.phones), None),
                    telegram_chat_id=event.telegram_chat_id,
                    timezone=event.timezone,
                )
            case LeadReceived():
                await self._merge(
                    self.leads,
                    event.lead_id,
                    event,
                    id=event.lead_id,
                    source=event.source,
                    name=event.contact.name,
                    email=event.contact.email,
                    phone=event.contact.phone,
                    utm_source=event.touch.utm_source,
                    utm_campaign=event.touch.utm_campaign,
                    message=event.message,
                )
            case DealOpened():
                await self._merge(
                    self.deals,
                    event.deal_id,
                    event,
                    status="open",
                    **event.model_dump(
                        mode="json",
                        include={
                            "deal_id",
                            "pipeline_id",
                            "title",
                            "stage",
                            "manager_id",
                            "client_id",
                            "lead_id",
                            "source",
                            "amount",
                            "currency",
                        },
                    ),
                )
            case StageTransition():
                amount: dict[str, Any] = (
                    {"amount": str(event.amount)} if isinstance(event, DealWon) else {}
                )
                await self._merge(
                    self.deals,
                    event.deal_id,
                    event,
                    stage=event.to_stage,
                    status=event.status,
                    manager_id=event.manager_id,
                    **amount,
                )
            case DealAmountChanged():
                await self._merge(self.deals, event.deal_id, event, amount=str(event.amount))
            case DealAssigned():
                await self._merge(self.deals, event.deal_id, event, manager_id=event.manager_id)
            case TaskScheduled():
                return await self._merge(
                    self.tasks,
                    event.task_id,
                    event,
                    status="scheduled",
                    event_id=str(event.event_id),
                    **event.model_dump(
                        mode="json", include={"task_id", "deal_id", "title", "kind", "due_at"}
                    ),
                )
            case TaskCompleted() | TaskCancelled():
                status = "completed" if isinstance(event, TaskCompleted) else "cancelled"
                return await self._merge(self.tasks, event.task_id, event, status=status)
        return True

    async def get(self, bucket: JsonBucket, key: str | None) -> dict[str, Any]:
        if not key:
            return {}
        if own_plan() and (kept := bucket.recent(token(key))) is not None:
            return kept[0] or {}

        async def read() -> dict[str, Any]:
            return await bucket.get(token(key)) or {}

        return await recall((bucket.name, token(key)), read)

    async def card(self, kind: CardKind, key: str | None) -> Card:
        return await self.get(self._buckets[kind], key)

    async def task_in_force(self, event: TaskScheduled) -> bool:
        """This schedule is still the latest for its task, and the task is still open."""
        task = await self.get(self.tasks, event.task_id)
        return task.get("status") == "scheduled" and task.get("event_id") == str(event.event_id)

    async def heads(self) -> list[dict[str, Any]]:
        return [
            m
            for m in (await self.managers.items()).values()
            if m.get("role") == "head" and m.get("active", True)
        ]
