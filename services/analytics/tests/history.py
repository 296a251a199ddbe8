"""Hand-built event histories for report tests: what the intake and the pipeline would
publish, with versions and stage bookkeeping done as the pipeline does them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from crm_contracts.envelope import derived_id
from crm_contracts.events import (
    DealAmountChanged,
    DealLost,
    DealOpened,
    DealPaymentReceived,
    DealReopened,
    DealStageChanged,
    DealWon,
    LeadReceived,
    ManagerUpdated,
    PlanSet,
    TaskCompleted,
    TaskScheduled,
    Touch,
)

CLOSED = {"won", "lost"}


def lead(
    lead_id: str, at: datetime, email: str | None = None, first: Touch | None = None, **touch: str
) -> LeadReceived:
    return LeadReceived(
        event_id=derived_id("lead", lead_id),
        occurred_at=at,
        aggregate_id=lead_id,
        correlation_id=lead_id,
        producer="test",
        lead_id=lead_id,
        form_id="site",
        received_at=at,
        contact={"email": email or f"{lead_id}@mail.ru"},
        touch=Touch(at=at, **touch),
        first_touch=first,
    )


def manager(manager_id: str, name: str, at: datetime) -> ManagerUpdated:
    return ManagerUpdated(
        aggregate_id=manager_id, producer="test", occurred_at=at, manager_id=manager_id, name=name
    )


def plan(manager_id: str, month: str, amount: str, at: datetime) -> PlanSet:
    return PlanSet(
        aggregate_id=manager_id,
        producer="test",
        occurred_at=at,
        manager_id=manager_id,
        month=month,
        amount=Decimal(amount),
    )


class DealStory:
    """The events of one deal in order."""

    def __init__(
        self,
        name: str,
        opened_at: datetime,
        amount: str = "0",
        stage: str = "new",
        client: str | None = None,
        lead_id: str | None = None,
        manager: str = "m1",
        cost: str = "0",
    ):
        self.deal_id = name
        self.lead_id = lead_id if lead_id is not None else f"lead-{name}"
        self.client = client
        self.manager = manager
        self.version = 1
        self.stage = stage
        self.status = "open"
        self.entered_at = opened_at
        self.entered_version = 1
        self.amount = Decimal(amount)
        self.paid = Decimal(0)
        self.events: list = [
            DealOpened(
                **self._envelope(opened_at),
                lead_id=self.lead_id or None,
                pipeline_id="default",
                stage=stage,
                title=name,
                manager_id=manager,
                client_id=client,
                amount=Decimal(amount),
                cost=Decimal(cost),
            )
        ]

    def _envelope(self, at: datetime) -> dict:
        return {
            "event_id": derived_id("event", self.deal_id, self.version),
            "occurred_at": at,
            "aggregate_id": self.deal_id,
            "aggregate_version": self.version,
            "correlation_id": self.lead_id or None,
            "producer": "test",
            "deal_id": self.deal_id,
        }

    def move(self, to: str, at: datetime, status: str = "open", reason: str | None = None):
        """A transition: won / lost / reopened / stage_changed as the pipeline names them."""
        self.version += 1
        common = dict(
            **self._envelope(at),
            pipeline_id="default",
            from_stage=self.stage,
            to_stage=to,
            from_stage_entered_at=self.entered_at,
            from_stage_entered_version=self.entered_version,
            status=status,
            manager_id=self.manager,
        )
        if status == "won":
            event = DealWon(**common, amount=self.amount)
        elif status == "lost":
            event = DealLost(**common, lost_reason=reason or "unspecified")
        elif self.status in CLOSED:
            event = DealReopened(**common)
        else:
            event = DealStageChanged(**common)
        self.events.append(event)
        self.stage, self.entered_at, self.entered_version = to, at, self.version
        self.status = status
        return self

    def win(self, at: datetime):
        return self.move("won", at, "won")

    def set_amount(self, amount: str, at: datetime, cost: str = "0"):
        self.version += 1
        self.events.append(
            DealAmountChanged(
                **self._envelope(at),
                amount=Decimal(amount),
                cost=Decimal(cost),
                previous_amount=self.amount,
            )
        )
        self.amount = Decimal(amount)
        return self

    def pay(self, amount: str, at: datetime, payment_id: str | None = None):
        self.version += 1
        self.paid += Decimal(amount)
        self.events.append(
            DealPaymentReceived(
                **self._envelope(at),
                payment_id=payment_id or f"{self.deal_id}-p{self.version}",
                amount=Decimal(amount),
                paid_at=at,
                client_id=self.client,
                manager_id=self.manager,
                paid_total=self.paid,
            )
        )
        return self

    def task(self, task_id: str, due_at: datetime, at: datetime, kind: str = "call"):
        self.version += 1
        self.events.append(
            TaskScheduled(
                **{k: v for k, v in self._envelope(at).items()},
                task_id=task_id,
                manager_id=self.manager,
                title=task_id,
                kind=kind,
                due_at=due_at,
            )
        )
        return self

    def complete(self, task_id: str, at: datetime):
        self.version += 1
        self.events.append(
            TaskCompleted(**self._envelope(at), task_id=task_id, manager_id=self.manager)
        )
        return self


def payloads(events: list) -> list[str]:
    return [e.model_dump_json() for e in events]
