"""In-memory stand-ins for the ports of `lead_intake.application.ports`."""

from __future__ import annotations

from dataclasses import dataclass, field

from crm_contracts.events import LeadReceived
from lead_intake.adapters.kv import StoreUnavailable
from lead_intake.application.ports import Seen, Spooled
from lead_intake.domain.forms import Form


@dataclass
class FakePublisher:
    """The stream: keeps what was acked; a message id it already has is a duplicate."""

    up: bool = True
    fail: bool = False  # connected, but no ack comes
    published: list[LeadReceived] = field(default_factory=list)

    def connected(self) -> bool:
        return self.up

    async def publish(self, event: LeadReceived, timeout: float) -> bool:
        if self.fail or not self.up:
            raise TimeoutError("no ack")
        duplicate = any(e.event_id == event.event_id for e in self.published)
        if not duplicate:
            self.published.append(event)
        return duplicate


@dataclass
class FakeKeys:
    keys: dict[str, str] = field(default_factory=dict)

    async def seen(self, key: str) -> Seen | None:
        return Seen(self.keys[key]) if key in self.keys else None

    async def remember(self, key: str, lead_id: str) -> None:
        self.keys[key] = lead_id


@dataclass
class FakeSpool:
    rows: list[Spooled] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return len(self.rows)

    async def add(self, lead_id: str, key: str | None, payload: str) -> None:
        if all(row.lead_id != lead_id for row in self.rows):
            seq = max((row.seq for row in self.rows), default=0) + 1
            self.rows.append(Spooled(seq, lead_id, key, payload))

    async def oldest(self, limit: int) -> list[Spooled]:
        return self.rows[:limit]

    async def remove(self, seq: int) -> None:
        self.rows = [row for row in self.rows if row.seq != seq]


@dataclass
class FakeForms:
    forms: dict[str, Form] = field(default_factory=dict)
    up: bool = True

    def _check(self) -> None:
        if not self.up:
            raise StoreUnavailable("NATS is not connected")

    def cached(self, form_id: str) -> Form | None:
        return self.forms.get(form_id)

    async def get(self, form_id: str) -> Form | None:
        return self.forms.get(form_id)

    async def put(self, form: Form) -> None:
        self._check()
        self.forms[form.form_id] = form

    async def delete(self, form_id: str) -> bool:
        self._check()
        return self.forms.pop(form_id, None) is not None

    async def all(self) -> list[Form]:
        self._check()
        return [self.forms[k] for k in sorted(self.forms)]
