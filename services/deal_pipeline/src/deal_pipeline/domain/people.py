"""Managers (their cards and the roster that lists them) and their monthly sales plans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import get_args
from uuid import UUID

from eventsourcing.domain import Aggregate

from crm_contracts.envelope import derived_id
from crm_contracts.events.crm import ManagerRole
from deal_pipeline.domain import values
from deal_pipeline.domain.errors import InvalidValue

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ROLES: tuple[ManagerRole, ...] = get_args(ManagerRole)


@dataclass(frozen=True, kw_only=True)
class ManagerCard:
    """The one list of a manager's card fields: the events that set a card carry them too."""

    name: str
    email: str | None
    telegram_chat_id: str | None
    phone: str | None
    active: bool
    timezone: str
    role: ManagerRole = "manager"  # events stored before roles existed have none

    @classmethod
    def checked(
        cls,
        name: str,
        email: str | None = None,
        telegram_chat_id: str | None = None,
        phone: str | None = None,
        active: bool = True,
        timezone: str = "Europe/Moscow",
        role: str = "manager",
    ) -> ManagerCard:
        """The same checks for a new and an updated manager."""
        if not name.strip():
            raise InvalidValue("a manager needs a name", "name")
        if role not in ROLES:
            raise InvalidValue(f"role must be one of {', '.join(ROLES)}", "role")
        return cls(
            name=name,
            email=values.email(email) if email else email,
            telegram_chat_id=telegram_chat_id,
            phone=values.phone(phone) if phone else phone,
            active=active,
            timezone=timezone,
            role=role,  # narrowed to ManagerRole by the check above
        )


class Manager(Aggregate):
    card: ManagerCard

    class CardSet(Aggregate.Event, ManagerCard):
        manager_id: str

        def apply(self, manager: Manager) -> None:
            manager.card = values.part_of(ManagerCard, self)

    class Registered(CardSet, Aggregate.Created):
        pass

    class Updated(CardSet):
        pass

    @staticmethod
    def create_id(manager_id: str, **_: object) -> UUID:
        return derived_id("manager", manager_id)

    def __init__(self, manager_id: str) -> None:
        self.manager_id = manager_id

    @classmethod
    def register(cls, manager_id: str, card: ManagerCard) -> Manager:
        return cls._create(cls.Registered, manager_id=manager_id, **vars(card))

    def update(self, card: ManagerCard) -> None:
        if card != self.card:
            self.trigger_event(self.Updated, manager_id=self.manager_id, **vars(card))


class ManagerRoster(Aggregate):
    """The ids of all managers ever registered (one stream), for round robin and listing."""

    ID = derived_id("managers")

    class Started(Aggregate.Created):
        pass

    class Added(Aggregate.Event):
        manager_id: str

        def apply(self, roster: ManagerRoster) -> None:
            roster.manager_ids.append(self.manager_id)

    @staticmethod
    def create_id(**_: object) -> UUID:
        return ManagerRoster.ID

    def __init__(self) -> None:
        self.manager_ids: list[str] = []

    def add(self, manager_id: str) -> None:
        self.trigger_event(self.Added, manager_id=manager_id)


@dataclass(frozen=True, kw_only=True)
class PlanTerms:
    manager_id: str
    month: str
    amount: Decimal
    currency: str

    @classmethod
    def checked(cls, manager_id: str, month: str, amount: Decimal, currency: str) -> PlanTerms:
        if not MONTH.match(month):
            raise InvalidValue(f"month must be YYYY-MM, got {month!r}", "month")
        return cls(
            manager_id=manager_id,
            month=month,
            amount=values.money(amount, "amount"),
            currency=values.currency(currency),
        )


class Plan(Aggregate):
    """A manager's revenue plan for one month; setting it again replaces it."""

    terms: PlanTerms

    class TermsSet(Aggregate.Event, PlanTerms):
        def apply(self, plan: Plan) -> None:
            plan.terms = values.part_of(PlanTerms, self)

    class Set(TermsSet, Aggregate.Created):
        pass

    class Changed(TermsSet):
        pass

    @staticmethod
    def create_id(manager_id: str, month: str, **_: object) -> UUID:
        return derived_id("plan", manager_id, month)

    def __init__(self) -> None:
        """The terms come with the event (`TermsSet.apply`), as for every later change."""

    @classmethod
    def set(cls, manager_id: str, month: str, amount: Decimal, currency: str) -> Plan:
        terms = PlanTerms.checked(manager_id, month, amount, currency)
        return cls._create(cls.Set, **vars(terms))

    def change(self, amount: Decimal, currency: str) -> None:
        terms = PlanTerms.checked(self.terms.manager_id, self.terms.month, amount, currency)
        if terms != self.terms:
            self.trigger_event(self.Changed, **vars(terms))
