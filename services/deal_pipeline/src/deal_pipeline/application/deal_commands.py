"""Commands on a deal (stages, money, people and tasks) and its reads. Each command loads the
deal, applies the domain rule, saves (retried on a concurrent writer's conflict) and returns
its result: the deal, with the id of what it created where it created something."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from deal_pipeline.application.client_cards import ClientCards
from deal_pipeline.application.ports import AggregateStore
from deal_pipeline.application.reference_data import ReferenceData
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import DealNotFound

INVOICE_SEQUENCE = "invoice-number"
R = TypeVar("R")


@dataclass(frozen=True)
class Change(Generic[R]):
    """What a command on a deal decided: its result, and other aggregates it drew on that are
    saved with the deal, atomically (an invoice number's sequence)."""

    result: R
    with_deal: Sequence[Aggregate] = field(default_factory=tuple)


class TaskScheduled(NamedTuple):
    deal: Deal
    task_id: str


class InvoiceIssued(NamedTuple):
    deal: Deal
    invoice_id: str


class PaymentRecorded(NamedTuple):
    deal: Deal
    payment_id: str


class DealCommands:
    def __init__(
        self, store: AggregateStore, clients: ClientCards, reference: ReferenceData
    ) -> None:
        self.store = store
        self.clients = clients
        self.reference = reference

    # -- reads -------------------------------------------------------------------------------

    def get(self, deal_id: UUID) -> Deal:
        return self.store.load(Deal, deal_id, DealNotFound, f"deal {deal_id}")

    def history(self, deal_id: UUID) -> list[Any]:
        self.get(deal_id)
        return self.store.history(deal_id)

    # -- stages ------------------------------------------------------------------------------

    def move_stage(self, deal_id: UUID, stage: str, lost_reason: str | None = None) -> Deal:
        def command(deal: Deal) -> None:
            rules = self.reference.rules(deal.pipeline_id)
            deal.move_to(rules.pipeline, stage, lost_reason, rules.lost_reasons)

        return self._apply(deal_id, command)

    def win(self, deal_id: UUID) -> Deal:
        def command(deal: Deal) -> None:
            deal.win(self.reference.rules(deal.pipeline_id).pipeline)

        return self._apply(deal_id, command)

    def lose(self, deal_id: UUID, reason: str) -> Deal:
        def command(deal: Deal) -> None:
            rules = self.reference.rules(deal.pipeline_id)
            deal.lose(rules.pipeline, reason, rules.lost_reasons)

        return self._apply(deal_id, command)

    def reopen(self, deal_id: UUID, stage: str | None = None) -> Deal:
        def command(deal: Deal) -> None:
            deal.reopen(self.reference.rules(deal.pipeline_id).pipeline, stage)

        return self._apply(deal_id, command)

    # -- money -------------------------------------------------------------------------------

    def set_amount(
        self,
        deal_id: UUID,
        amount: Decimal,
        currency: str | None = None,
        cost: Decimal | None = None,
        expected_close_date: date | None = None,
    ) -> Deal:
        def command(deal: Deal) -> None:
            deal.set_amount(amount, currency, cost, expected_close_date)

        return self._apply(deal_id, command)

    def issue_invoice(
        self,
        deal_id: UUID,
        amount: Decimal,
        currency: str | None = None,
        due_date: date | None = None,
    ) -> InvoiceIssued:
        """The number is drawn from a stored sequence saved with the deal, so numbers are
        unique across replicas and a refused invoice draws none."""

        def command(deal: Deal) -> Change[str]:
            sequence = self.store.find(Counter, Counter.create_id(INVOICE_SEQUENCE))
            sequence = sequence or Counter(name=INVOICE_SEQUENCE)
            number = f"INV-{sequence.draw():06d}"
            requisites = self.clients.requisites_of(deal.client_id)
            invoice_id = deal.issue_invoice(number, amount, requisites, currency, due_date)
            return Change(invoice_id, [sequence])

        return InvoiceIssued(*self._change(deal_id, command))

    def record_payment(
        self,
        deal_id: UUID,
        amount: Decimal,
        paid_at: datetime | None = None,
        invoice_id: str | None = None,
        payment_id: str | None = None,
    ) -> PaymentRecorded:
        when = paid_at or datetime.now(UTC)

        def command(deal: Deal) -> Change[str]:
            return Change(deal.record_payment(amount, when, invoice_id, payment_id))

        return PaymentRecorded(*self._change(deal_id, command))

    # -- people and tasks --------------------------------------------------------------------

    def assign(self, deal_id: UUID, manager_id: str) -> Deal:
        self.reference.check_manager(manager_id)

        def command(deal: Deal) -> None:
            deal.assign(manager_id)

        return self._apply(deal_id, command)

    def schedule_task(
        self,
        deal_id: UUID,
        title: str,
        kind: str,
        due_at: datetime,
        task_id: str | None = None,
    ) -> TaskScheduled:
        def command(deal: Deal) -> Change[str]:
            return Change(deal.schedule_task(title, kind, due_at, task_id))

        return TaskScheduled(*self._change(deal_id, command))

    def complete_task(self, deal_id: UUID, task_id: str) -> Deal:
        def command(deal: Deal) -> None:
            deal.complete_task(task_id)

        return self._apply(deal_id, command)

    def cancel_task(self, deal_id: UUID, task_id: str, reason: str | None = None) -> Deal:
        def command(deal: Deal) -> None:
            deal.cancel_task(task_id, reason)

        return self._apply(deal_id, command)

    def _apply(self, deal_id: UUID, command: Callable[[Deal], None]) -> Deal:
        """A command whose result is the changed deal."""

        def change(deal: Deal) -> Change[None]:
            command(deal)
            return Change(None)

        return self._change(deal_id, change)[0]

    def _change(self, deal_id: UUID, command: Callable[[Deal], Change[R]]) -> tuple[Deal, R]:
        """Load, decide, save the deal with what the command drew on; on a concurrent
        writer's conflict, reload and decide again."""

        def use_case() -> tuple[Deal, R]:
            deal = self.get(deal_id)
            change = command(deal)
            self.store.save(deal, *change.with_deal)
            return deal, change.result

        return self.store.retrying(use_case)
