"""Opening a deal: from a lead on the bus (idempotent) or by hand, for a client found by
contact or registered, with a manager by rule or round robin."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from deal_pipeline.application.client_cards import ClientCards, Resolved
from deal_pipeline.application.ports import AggregateStore
from deal_pipeline.application.reference_data import ReferenceData
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import ContactTaken


class OpenDeal:
    def __init__(
        self, store: AggregateStore, clients: ClientCards, reference: ReferenceData
    ) -> None:
        self.store = store
        self.clients = clients
        self.reference = reference

    def from_lead(
        self,
        lead_id: str,
        title: str,
        *,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        form_id: str | None = None,
        source: str | None = None,
        utm_source: str | None = None,
        pipeline_id: str = "default",
    ) -> UUID:
        """Idempotent: a lead already turned into a deal returns that deal's id. A lead from
        a known client opens a new deal for that client (a repeat purchase)."""
        deal_id = Deal.create_id(lead_id)
        phone, email = self.clients.lead_contacts(phone, email)

        def use_case() -> UUID:
            if self.store.find(Deal, deal_id) is not None:
                return deal_id
            rules = self.reference.rules(pipeline_id)
            client = self.clients.resolve(name, phone, email, lead_id)
            manager_id, turn = self.reference.pick_manager(rules, form_id, (source, utm_source))
            deal = Deal.open(
                rules.pipeline,
                lead_id,
                title,
                manager_id,
                client_id=client.client_id,
                source=source,
            )
            self.store.save(*client.to_save, deal, turn)
            return deal_id

        try:
            return self.store.retrying(use_case)
        except ContactTaken:
            # Another replica registered this contact between our lookup and our save: the
            # lookup now finds that client, and the lead opens its deal for it.
            return self.store.retrying(use_case)

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
            turn: Counter | None = None
            chosen = manager_id
            if chosen is None:
                chosen, turn = self.reference.pick_manager(rules)
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
            self.store.save(*client.to_save, deal, turn)
            return deal

        return self.store.retrying(use_case)
