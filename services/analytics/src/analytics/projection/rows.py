"""Rows of the tables that hold a latest state, folded from several events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import ClassVar


@dataclass(frozen=True)
class Row:
    TABLE: ClassVar[str]
    KEY: ClassVar[str]

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def values(self) -> list[object]:
        data = asdict(self)
        return [data[c] for c in self.columns()]

    @property
    def key(self) -> str:
        return getattr(self, self.KEY)


@dataclass(frozen=True)
class DealRow(Row):
    TABLE: ClassVar[str] = "deals"
    KEY: ClassVar[str] = "deal_id"

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


@dataclass(frozen=True)
class TaskRow(Row):
    TABLE: ClassVar[str] = "tasks"
    KEY: ClassVar[str] = "task_id"

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


@dataclass(frozen=True)
class ClientRow(Row):
    TABLE: ClassVar[str] = "clients"
    KEY: ClassVar[str] = "client_id"

    client_id: str
    lead_id: str
    registered_at: datetime
    phone_hashes: list[str]
    email_hashes: list[str]
    updated_at: datetime
    version: int = 0
