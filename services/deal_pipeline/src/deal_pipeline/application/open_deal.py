"""Opening a deal: from a lead on the bus (idempotent) or by hand, for a client found by
contact or registered, with a manager by rule or round robin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from deal_pipeline.application.client_cards import ClientCards, Resolved
from deal_pipeline.application.ports import AggregateStore
from deal_pipeline.application.reference_data import PipelineRules, ReferenceData
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import ContactTaken


@dataclass(frozen=True)
class LeadToOpen:
    """What a received lead brings to its deal."""

    lead_id: str
    title: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    form_id: str | None = None
    source: str | None = None
    utm_source: str | None = None
    pipeline_id: str = "default"


class OpenDeal:
    def __init__(
        self, store: AggregateStore, clients: ClientCards, reference: ReferenceData
    ) -> None:
        self.store = store
        self.clients = clients
        self.reference = reference

    def from_lead(self, lead_id: str, title: str, **details: Any) -> UUID:
        """One lead (see `from_leads`)."""
        return self.from_leads([LeadToOpen(lead_id, title, **details)])[0]

    def from_leads(self, leads: Sequence[LeadToOpen]) -> list[UUID]:
        """Each lead's deal id, its deal opened in one save for the batch. Idempotent: a lead
        already turned into a deal keeps that deal. A lead from a known client opens a new deal
        for that client (a repeat purchase)."""
        ids = [Deal.create_id(lead.lead_id) for lead in leads]

        def use_case() -> None:
            new = self._not_opened(ids, leads)
            if not new:
                return
            contacts = {
                deal_id: self.clients.lead_contacts(lead.phone, lead.email)
                for deal_id, lead in new.items()
            }
            # One read tells which of these contacts are known: only those are loaded.
            known = self.clients.in_one_save()
            known.expect(
                (kind, value)
                for phone, email in contacts.values()
                for kind, value in (("phone", phone), ("email", email))
                if value
            )
            to_save: list[Aggregate] = []
            assigner = self.reference.assigner()
            rules_of: dict[str, PipelineRules] = {}  # read once per pipeline in a save
            for deal_id, lead in new.items():
                rules = rules_of.get(lead.pipeline_id)
                if rules is None:
                    rules = rules_of[lead.pipeline_id] = self.reference.rules(lead.pipeline_id)
                phone, email = contacts[deal_id]
                client = self.clients.resolve(lead.name, phone, email, lead.lead_id, known)
                manager_id = assigner.pick(rules, lead.form_id, (lead.source, lead.utm_source))
                deal = Deal.open(
                    rules.pipeline,
                    lead.lead_id,
                    lead.title,
                    manager_id,
                    client_id=client.client_id,
                    source=lead.source,
                )
                to_save += [*client.to_save, deal]
            self.store.save(*to_save, *assigner.to_save())

        try:
            self.store.retrying(use_case)
        except ContactTaken:
            # Another replica registered a contact between our lookup and our save: the
            # lookup now finds that client, and the lead opens its deal for it.
            self.store.retrying(use_case)
        return ids

    def _not_opened(
        self, ids: Sequence[UUID], leads: Sequence[LeadToOpen]
    ) -> dict[UUID, LeadToOpen]:
        """The leads whose deals are not stored yet, by deal id (of a lead twice in the batch,
        the first): one read for the batch instead of a load of each deal."""
        stored = self.store.existing(ids)
        new: dict[UUID, LeadToOpen] = {}
        for deal_id, lead in zip(ids, leads, strict=True):
            if deal_id not in stored:
                new.setdefault(deal_id, lead)
        return new

    def by_hand(
        self,
        title: str,
        *,
        pipeline_id: str = "default",
        client_id: UUID | None = None,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        manager_id: str | None = None,
        amount: Decimal = Decimal("0"),
        currency: str = "RUB",
        cost: Decimal = Decimal("0"),
        expected_close_date: date | None = None,
    ) -> Deal:
        """For a client card, or for contacts resolved like a lead's."""
        if manager_id is not None:
            self.reference.check_manager(manager_id)

        def use_case() -> Deal:
            rules = self.reference.rules(pipeline_id)
            if client_id is not None:
                client = Resolved(str(self.clients.get(client_id).id))
            else:
                client = self.clients.resolve(name or title, phone, email, None)
            assigner = self.reference.assigner()
            chosen = manager_id if manager_id is not None else assigner.pick(rules)
            deal = Deal.open(
                rules.pipeline,
                None,
                title,
                chosen,
                amount,
                currency,
                client_id=client.client_id,
                source="manual",
                cost=cost,
                expected_close_date=expected_close_date,
            )
            self.store.save(*client.to_save, deal, *assigner.to_save())
            return deal

        return self.store.retrying(use_case)
