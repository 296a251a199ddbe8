"""Client use cases: find a client by phone or e-mail, or register one; edit the card."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from deal_pipeline.application.ports import AggregateStore
from deal_pipeline.domain import values
from deal_pipeline.domain.client import Client, Contact, ContactIndex
from deal_pipeline.domain.errors import ClientNotFound, Invalid


def lenient(check: Callable[[str], str], value: str | None) -> str | None:
    """For leads: a contact we cannot read is dropped, not a reason to refuse the lead."""
    try:
        return check(value) if value else None
    except Invalid:
        return None


@dataclass(frozen=True)
class Resolved:
    """The client of some contacts, and what to save with the caller's aggregates (a new
    client and its index entries), so that the client and its deal are stored atomically."""

    client_id: str
    to_save: list[Aggregate] = field(default_factory=list)


class ContactsInOneSave:
    """What one save knows of contacts: the clients it registers, by contact (so two leads of
    one new client in a batch open deals for one client), and the index entries it has read,
    each read once; `expect` learns in one read which entries are not stored at all (a new
    lead's usually are not), and those are never loaded."""

    def __init__(self, store: AggregateStore) -> None:
        self.store = store
        self.unsaved: dict[Contact, str] = {}
        self._indexes: dict[Contact, ContactIndex | None] = {}

    def expect(self, contacts: Iterable[Contact]) -> None:
        ids = {contact: ContactIndex.create_id(*contact) for contact in contacts}
        stored = self.store.existing(ids.values())
        for contact, index_id in ids.items():
            if index_id not in stored:
                self._indexes.setdefault(contact, None)

    def index(self, contact: Contact) -> ContactIndex | None:
        if contact not in self._indexes:
            index_id = ContactIndex.create_id(*contact)
            self._indexes[contact] = self.store.find(ContactIndex, index_id)
        return self._indexes[contact]

    def client_of(self, contact: Contact) -> str | None:
        if client_id := self.unsaved.get(contact):
            return client_id
        index = self.index(contact)
        return index.client_id if index is not None else None


class ClientCards:
    def __init__(self, store: AggregateStore) -> None:
        self.store = store

    def by_contact(self, kind: str, value: str) -> str | None:
        return self.in_one_save().client_of((kind, value))

    def in_one_save(self) -> ContactsInOneSave:
        return ContactsInOneSave(self.store)

    def resolve(
        self,
        name: str | None,
        phone: str | None,
        email: str | None,
        lead_id: str | None,
        known: ContactsInOneSave | None = None,
    ) -> Resolved:
        """The client known by this phone, else by this e-mail; else a new client. `known`:
        what the save knows of contacts so far (it learns this client's)."""
        known = known if known is not None else self.in_one_save()
        for kind, value in (("phone", phone), ("email", email)):
            if value and (client_id := known.client_of((kind, value))):
                return Resolved(client_id)
        client = Client.register(name, phone, email, lead_id)
        client_id = str(client.id)  # once: a UUID's str is not cheap, and this runs per lead
        known.unsaved.update(dict.fromkeys(client.contacts, client_id))
        claims = self._claims(client_id, client.contacts, known)
        return Resolved(client_id, [client, *claims])

    def register(
        self,
        name: str | None,
        phones: list[str],
        emails: list[str],
        requisites: Mapping[str, Any],
        telegram_chat_id: str | None = None,
    ) -> Client:
        """By hand: refused (409) when a contact already belongs to another client."""

        def use_case() -> Client:
            # Registered with its first contacts; the rest of the card, if any, as an update.
            first_phone = phones[0] if phones else None
            first_email = emails[0] if emails else None
            client = Client.register(name, first_phone, first_email)
            client.update(name, phones, emails, requisites, telegram_chat_id)
            claims = self._claims(str(client.id), client.contacts, self.in_one_save())
            self.store.save(client, *claims)
            return client

        return self.store.retrying(use_case)

    def update(
        self,
        client_id: UUID,
        name: str | None,
        phones: list[str],
        emails: list[str],
        requisites: Mapping[str, Any],
        telegram_chat_id: str | None = None,
    ) -> Client:
        def use_case() -> Client:
            client = self.get(client_id)
            before = set(client.contacts)
            client.update(name, phones, emails, requisites, telegram_chat_id)
            after = set(client.contacts)
            claims = self._claims(str(client.id), sorted(after - before), self.in_one_save())
            releases = []
            for kind, value in sorted(before - after):
                index = self.store.find(ContactIndex, ContactIndex.create_id(kind, value))
                if index is not None and index.client_id == str(client.id):
                    index.release()
                    releases.append(index)
            self.store.save(client, *claims, *releases)
            return client

        return self.store.retrying(use_case)

    def get(self, client_id: UUID) -> Client:
        return self.store.load(Client, client_id, ClientNotFound, "client")

    def requisites_of(self, client_id: str | None) -> dict[str, str | None]:
        return dict(self.get(UUID(client_id)).requisites) if client_id else {}

    @staticmethod
    def _claims(
        client_id: str, contacts: Iterable[Contact], known: ContactsInOneSave
    ) -> list[ContactIndex]:
        claims = []
        for kind, value in contacts:
            index = known.index((kind, value))
            if index is None:
                index = ContactIndex(kind=kind, value=value, client_id=client_id)
            else:
                index.claim(client_id)
            claims.append(index)
        return claims

    @staticmethod
    def lead_contacts(phone: str | None, email: str | None) -> tuple[str | None, str | None]:
        return lenient(values.phone, phone), lenient(values.email, email)
