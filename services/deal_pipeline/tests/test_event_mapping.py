"""Stored events become the contract events other services consume, every field filled."""

from datetime import UTC, date, datetime
from decimal import Decimal

from crm_contracts.envelope import derived_id
from crm_contracts.events import (
    ClientRegistered,
    DealAmountChanged,
    DealInvoiceIssued,
    DealLost,
    DealOpened,
    DealPaymentReceived,
    DealReopened,
    DealStageChanged,
    DealWon,
    TaskScheduled,
)
from crm_contracts.pipelines import DEFAULT_PIPELINE as P
from deal_pipeline.adapters.event_mapping import to_contract
from deal_pipeline.domain.client import Client, ContactIndex
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.deal import Deal

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_each_transition_is_published_as_what_it_means():
    deal = Deal.open(P, "lead-1", "Ann", "m1", client_id="c1")
    deal.move_to(P, "proposal")
    deal.set_amount(Decimal("900"), expected_close_date=date(2026, 4, 1))
    deal.win(P)
    deal.reopen(P)
    deal.lose(P, "price")
    contracts = [to_contract(e) for e in deal.collect_events()]
    kinds = [type(c).__name__ for c in contracts]
    assert kinds == [
        "DealOpened",
        "DealStageChanged",
        "DealAmountChanged",
        "DealWon",
        "DealReopened",
        "DealLost",
    ]
    opened, moved, amount, won, reopened, lost = contracts
    assert isinstance(amount, DealAmountChanged)
    assert (amount.amount, amount.expected_close_date) == (900, date(2026, 4, 1))
    assert isinstance(opened, DealOpened) and opened.client_id == "c1"
    assert isinstance(moved, DealStageChanged) and moved.manager_id == "m1"
    assert isinstance(won, DealWon) and (won.amount, won.from_stage) == (900, "proposal")
    assert isinstance(reopened, DealReopened) and (reopened.from_stage, reopened.to_stage) == (
        "won",
        "proposal",
    )
    assert isinstance(lost, DealLost) and lost.lost_reason == "price"
    for version, contract in enumerate(contracts, start=1):
        assert contract.aggregate_version == version
        assert contract.aggregate_id == str(deal.id)
        assert contract.event_id == derived_id("event", deal.id, version)
        assert contract.correlation_id == "lead-1"


def test_money_and_tasks_carry_manager_client_and_totals():
    deal = Deal.open(P, "lead-1", "Ann", "m1", client_id="c1")
    deal.schedule_task("Call", "call", NOW, task_id="t1")
    invoice = deal.issue_invoice("INV-000001", Decimal("100"), {"inn": "7701234567"})
    deal.record_payment(Decimal("30"), NOW, invoice)
    _, task, issued, paid = [to_contract(e) for e in deal.collect_events()]
    assert isinstance(task, TaskScheduled)
    assert (task.task_id, task.manager_id, task.client_id, task.due_at) == ("t1", "m1", "c1", NOW)
    assert isinstance(issued, DealInvoiceIssued)
    assert (issued.number, issued.requisites.inn, issued.client_id) == (
        "INV-000001",
        "7701234567",
        "c1",
    )
    assert isinstance(paid, DealPaymentReceived)
    assert (paid.invoice_id, paid.paid_total, paid.manager_id, paid.client_id) == (
        invoice,
        30,
        "m1",
        "c1",
    )


def test_clients_are_published_and_indexes_and_counters_stay_inside():
    client = Client.register("Ann", "+79120000001", None, lead_id="lead-1")
    registered = to_contract(client.collect_events()[0])
    assert isinstance(registered, ClientRegistered)
    assert (registered.client_id, registered.phone, registered.correlation_id) == (
        str(client.id),
        "+79120000001",
        "lead-1",
    )
    index = ContactIndex(kind="phone", value="+79120000001", client_id=str(client.id))
    counter = Counter(name="x")
    counter.draw()
    internal = index.collect_events() + counter.collect_events()
    assert [to_contract(e) for e in internal] == [None, None, None]


def test_a_head_of_sales_is_published_with_the_role():
    from crm_contracts.events import ManagerUpdated
    from deal_pipeline.domain.people import Manager, ManagerCard

    card = {
        "name": "Olga",
        "email": None,
        "telegram_chat_id": "77",
        "phone": None,
        "active": True,
        "timezone": "Europe/Moscow",
        "role": "head",
    }
    manager = Manager.register("olga", ManagerCard.checked(**card))
    manager.update(ManagerCard.checked(**card | {"role": "manager"}))
    registered, demoted = (to_contract(e) for e in manager.collect_events())
    assert isinstance(registered, ManagerUpdated) and registered.role == "head"
    assert demoted.role == "manager" and demoted.telegram_chat_id == "77"
