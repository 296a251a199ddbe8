"""Managers (their cards and the roster that lists them) and their monthly sales plans."""

from __future__ import annotations

import re
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_contracts.envelope import derived_id
from deal_pipeline.domain import values
from deal_pipeline.domain.errors import InvalidValue

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


ROLES = ("manager", "head")


class Manager(Aggregate):
    @staticmethod
    def create_id(manager_id: str, **_: object) -> UUID:
        return derived_id("manager", manager_id)

    @event("Registered")
    def __init__(
        self,
        manager_id: str,
        name: str,
        email: str | None,
        telegram_chat_id: str | None,
        phone: str | None,
        active: bool,
        timezone: str,
        role: str = "manager",  # events stored before roles existed have none
    ) -> None:
        self.manager_id = manager_id
        self._apply_card(name, email, telegram_chat_id, phone, active, timezone, role)

    @classmethod
    def card(cls, **card: object) -> dict[str, object]:
        """The checked card (the same checks for a new and an updated manager)."""
        if not str(card["name"]).strip():
            raise InvalidValue("a manager needs a name", "name")
        if card.get("email"):
            card["email"] = values.email(str(card["email"]))
        if card.get("phone"):
            card["phone"] = values.phone(str(card["phone"]))
        if card.setdefault("role", "manager") not in ROLES:
            raise InvalidValue(f"role must be one of {', '.join(ROLES)}", "role")
        return card

    def update(self, **card: object) -> None:
        card = self.card(**card)
        if all(getattr(self, key) == value for key, value in card.items()):
            return
        self._updated(manager_id=self.manager_id, **card)

    @event("Updated")
    def _updated(
        self,
        manager_id: str,
        name: str,
        email: str | None,
        telegram_chat_id: str | None,
        phone: str | None,
        active: bool,
        timezone: str,
        role: str = "manager",
    ) -> None:
        self._apply_card(name, email, telegram_chat_id, phone, active, timezone, role)

    def _apply_card(
        self,
        name: str,
        email: str | None,
        telegram_chat_id: str | None,
        phone: str | None,
        active: bool,
        timezone: str,
        role: str = "manager",
    ) -> None:
        self.name = name
        self.email = email
        self.telegram_chat_id = telegram_chat_id
        self.phone = phone
        self.active = active
        self.timezone = timezone
        self.role = role  # "head": a head of sales (digests, escalations)


class ManagerRoster(Aggregate):
    """The ids of all managers ever registered (one stream), for round robin and listing."""

    ID = derived_id("managers")

    @staticmethod
    def create_id(**_: object) -> UUID:
        return ManagerRoster.ID

    @event("Started")
    def __init__(self) -> None:
        self.manager_ids: list[str] = []

    @event("Added")
    def add(self, manager_id: str) -> None:
        self.manager_ids.append(manager_id)


class Plan(Aggregate):
    """A manager's revenue plan for one month; setting it again replaces it."""

    @staticmethod
    def create_id(manager_id: str, month: str, **_: object) -> UUID:
        return derived_id("plan", manager_id, month)

    @event("Set")
    def __init__(self, manager_id: str, month: str, amount: Decimal, currency: str) -> None:
        self.manager_id = manager_id
        self.month = month
        self.amount = amount
        self.currency = currency

    @classmethod
    def set(cls, manager_id: str, month: str, amount: Decimal, currency: str) -> Plan:
        cls.check(month, amount, currency)
        return cls(manager_id=manager_id, month=month, amount=amount, currency=currency)

    @staticmethod
    def check(month: str, amount: Decimal, currency: str) -> None:
        if not MONTH.match(month):
            raise InvalidValue(f"month must be YYYY-MM, got {month!r}", "month")
        values.money(amount, "amount")
        values.currency(currency)

    def change(self, amount: Decimal, currency: str) -> None:
        self.check(self.month, amount, currency)
        if (amount, currency) != (self.amount, self.currency):
            self._changed(
                manager_id=self.manager_id, month=self.month, amount=amount, currency=currency
            )

    @event("Changed")
    def _changed(self, manager_id: str, month: str, amount: Decimal, currency: str) -> None:
        self.amount = amount
        self.currency = currency
