"""Deal use cases: open from a lead or by hand, and every command on an open deal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from deal_pipeline.application.clients import Clients
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import ContactTaken, DealNotFound

INVOICE_SEQUENCE = "invoice-number"


class DealsApp(Clients):
    name = "deal_pipeline"

    # -- opening -----------------------------------------------------------------------------

    def open_deal_from_lead(
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
        phone, email = self.lead_contacts(phone, email)

        def use_case() -> UUID:
            if self.find(deal_id) is not None:
                return deal_id
            rules = self.rules(pipeline_id)
            client_id, client_aggregates = self.resolve_client(name, phone, email, lead_id)
            manager_id, turn = self.pick_manager(rules, form_id, (source, utm_source))
            deal = Deal.open(
                rules.pipeline, lead_id, title, manager_id, client_id=client_id, source=source
            )
            self.save(*client_aggregates, deal, turn)
            return deal_id

        try:
            return self.retrying(use_case)
        except ContactTaken:
            # Another replica registered this contact between our lookup and our save: the
            # lookup now finds that client, and the lead opens its deal for it.
            return self.retrying(use_case)

    def create_deal(
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
        """By hand: for a client card, or for contacts resolved like a lead's."""
        if manager_id is not None:
            self.check_manager(manager_id)

        def use_case() -> Deal:
            rules = self.rules(pipeline_id)
            if client_id is not None:
                client, new = str(self.get_client(client_id).id), []
            else:
                client, new = self.resolve_client(name or title, phone, email, None)
            turn = None
            chosen = manager_id
            if chosen is None:
                chosen, turn = self.pick_manager(rules)
            deal = Deal.open(
                rules.pipeline,
                None,
                title,
                chosen,
                amount,
                currency,
                client_id=client,
                source="manual",
                cost=cost,
                expected_close_date=expected_close_date,
            )
            self.save(*new, deal, turn)
            return deal

        return self.retrying(use_case)

    # -- reads -------------------------------------------------------------------------------

    def get_deal(self, deal_id: UUID) -> Deal:
        return self.load(Deal, deal_id, DealNotFound, f"deal {deal_id}")

    def deal_history(self, deal_id: UUID) -> list[Any]:
        self.get_deal(deal_id)
        return list(self.events.get(deal_id))

    # -- commands ----------------------------------------------------------------------------

    def move_stage(self, deal_id: UUID, stage: str, lost_reason: str | None = None) -> Deal:
        def command(deal: Deal) -> None:
            rules = self.rules(deal.pipeline_id)
            deal.move_to(rules.pipeline, stage, lost_reason, rules.lost_reasons)

        return self._update(deal_id, command)

    def win(self, deal_id: UUID) -> Deal:
        return self._update(deal_id, lambda deal: deal.win(self.rules(deal.pipeline_id).pipeline))

    def lose(self, deal_id: UUID, reason: str) -> Deal:
        def command(deal: Deal) -> None:
            rules = self.rules(deal.pipeline_id)
            deal.lose(rules.pipeline, reason, rules.lost_reasons)

        return self._update(deal_id, command)

    def reopen(self, deal_id: UUID, stage: str | None = None) -> Deal:
        def command(deal: Deal) -> None:
            deal.reopen(self.rules(deal.pipeline_id).pipeline, stage)

        return self._update(deal_id, command)

    def set_amount(
        self,
        deal_id: UUID,
        amount: Decimal,
        currency: str | None = None,
        cost: Decimal | None = None,
        expected_close_date: date | None = None,
    ) -> Deal:
        return self._update(
            deal_id, lambda deal: deal.set_amount(amount, currency, cost, expected_close_date)
        )

    def assign(self, deal_id: UUID, manager_id: str) -> Deal:
        self.check_manager(manager_id)
        return self._update(deal_id, lambda deal: deal.assign(manager_id))

    def schedule_task(
        self,
        deal_id: UUID,
        title: str,
        kind: str,
        due_at: datetime,
        task_id: str | None = None,
    ) -> tuple[Deal, str]:
        ids: list[str] = []
        deal = self._update(
            deal_id, lambda deal: ids.append(deal.schedule_task(title, kind, due_at, task_id))
        )
        return deal, ids[-1]

    def complete_task(self, deal_id: UUID, task_id: str) -> Deal:
        return self._update(deal_id, lambda deal: deal.complete_task(task_id))

    def cancel_task(self, deal_id: UUID, task_id: str, reason: str | None = None) -> Deal:
        return self._update(deal_id, lambda deal: deal.cancel_task(task_id, reason))

    def issue_invoice(
        self,
        deal_id: UUID,
        amount: Decimal,
        currency: str | None = None,
        due_date: date | None = None,
    ) -> tuple[Deal, str]:
        """The number is drawn from a stored sequence saved with the deal, so numbers are
        unique across replicas and a refused invoice draws none."""
        ids: list[str] = []

        def command(deal: Deal) -> list[Aggregate]:
            sequence = self.find(Counter.create_id(INVOICE_SEQUENCE))
            sequence = sequence or Counter(name=INVOICE_SEQUENCE)
            number = f"INV-{sequence.draw():06d}"
            requisites = self.requisites_of(deal.client_id)
            ids.append(deal.issue_invoice(number, amount, requisites, currency, due_date))
            return [sequence]

        return self._update(deal_id, command), ids[-1]

    def record_payment(
        self,
        deal_id: UUID,
        amount: Decimal,
        paid_at: datetime | None = None,
        invoice_id: str | None = None,
        payment_id: str | None = None,
    ) -> tuple[Deal, str]:
        ids: list[str] = []
        when = paid_at or datetime.now(UTC)
        deal = self._update(
            deal_id,
            lambda deal: ids.append(deal.record_payment(amount, when, invoice_id, payment_id)),
        )
        return deal, ids[-1]

    def _update(self, deal_id: UUID, command: Callable[[Deal], Sequence[Aggregate] | None]) -> Deal:
        """Load, apply, save (with any aggregates the command drew on, atomically); on a
        concurrent writer's conflict, reload and apply again."""

        def use_case() -> Deal:
            deal = self.get_deal(deal_id)
            others = command(deal) or ()
            self.save(deal, *others)
            return deal

        return self.retrying(use_case)
