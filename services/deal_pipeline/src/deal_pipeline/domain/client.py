"""The Client aggregate (contacts and legal requisites) and the index aggregates that keep a
phone or e-mail with one client: an index's id is derived from the contact, so two clients
claiming one contact collide in the event store, atomically with the client's own events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from deal_pipeline.domain import values
from deal_pipeline.domain.errors import ContactTaken
from deal_pipeline.domain.ids import derived

REQUISITES = ("legal_name", "inn", "kpp", "bank", "bik", "account", "address")
Contact = tuple[str, str]  # (kind, value): ("phone", "+7...") or ("email", "a@b")


def clean_requisites(requisites: Mapping[str, Any]) -> dict[str, str | None]:
    return {key: requisites.get(key) or None for key in REQUISITES}


class Client(Aggregate):
    class Registered(Aggregate.Created):
        name: str | None
        phone: str | None
        email: str | None
        lead_id: str | None

    class Updated(Aggregate.Event):
        name: str | None
        phones: list[str]
        emails: list[str]
        requisites: dict[str, str | None]
        telegram_chat_id: str | None

        def apply(self, client: Client) -> None:
            client.name = self.name
            client.phones = list(self.phones)
            client.emails = list(self.emails)
            client.requisites = dict(self.requisites)
            client.telegram_chat_id = self.telegram_chat_id

    def __init__(
        self,
        name: str | None,
        phone: str | None,
        email: str | None,
        lead_id: str | None,
    ) -> None:
        self.name = name
        self.phones = [phone] if phone else []
        self.emails = [email] if email else []
        self.lead_id = lead_id  # the story it came from: correlation id of its events
        self.telegram_chat_id: str | None = None
        self.requisites = clean_requisites({})

    @classmethod
    def register(
        cls, name: str | None, phone: str | None, email: str | None, lead_id: str | None = None
    ) -> Client:
        return cls(
            name=name,
            phone=values.phone(phone) if phone else None,
            email=values.email(email) if email else None,
            lead_id=lead_id,
        )

    @property
    def contacts(self) -> list[Contact]:
        return [("phone", p) for p in self.phones] + [("email", e) for e in self.emails]

    def update(
        self,
        name: str | None,
        phones: list[str],
        emails: list[str],
        requisites: Mapping[str, Any],
        telegram_chat_id: str | None = None,
    ) -> None:
        """The whole card; nothing is recorded when nothing changes."""
        card: dict[str, object] = {
            "name": name,
            "phones": list(dict.fromkeys(values.phone(p, "phones") for p in phones)),
            "emails": list(dict.fromkeys(values.email(e, "emails") for e in emails)),
            "requisites": clean_requisites(requisites),
            "telegram_chat_id": telegram_chat_id,
        }
        if all(getattr(self, key) == value for key, value in card.items()):
            return
        self.trigger_event(self.Updated, **card)


class ContactIndex(Aggregate):
    """Which client owns a phone or e-mail (kind, value); released when a card drops it."""

    class Claimed(Aggregate.Created):
        kind: str
        value: str
        client_id: str

    class Reclaimed(Aggregate.Event):
        client_id: str

        def apply(self, index: ContactIndex) -> None:
            index.client_id = self.client_id

    class Released(Aggregate.Event):
        def apply(self, index: ContactIndex) -> None:
            index.client_id = None

    @staticmethod
    def create_id(kind: str, value: str, **_: object) -> UUID:
        return derived("contact", kind, value)

    def __init__(self, kind: str, value: str, client_id: str) -> None:
        self.kind = kind
        self.value = value
        self.client_id: str | None = client_id

    def claim(self, client_id: str) -> None:
        if self.client_id == client_id:
            return
        if self.client_id is not None:
            raise ContactTaken(f"{self.value} belongs to client {self.client_id}", self.kind)
        self.trigger_event(self.Reclaimed, client_id=client_id)

    def release(self) -> None:
        self.trigger_event(self.Released)
