"""Domain rules of the Deal aggregate (no I/O): one test per rule."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm_contracts.envelope import derived_id
from crm_contracts.pipelines import DEFAULT_PIPELINE as P
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import (
    DealClosed,
    DealIsLost,
    DealNotClosed,
    InvalidValue,
    TaskClosed,
    TaskNotFound,
    UnknownInvoice,
    UnknownLostReason,
    UnknownStage,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
REASONS = ["price", "competitor"]


def new_deal() -> Deal:
    return Deal.open(P, lead_id="lead-1", title="Ann", manager_id="m1", client_id="c1")


def events_of(deal: Deal) -> list[str]:
    return [type(e).__name__ for e in deal.collect_events()]


def test_opens_in_the_first_stage_with_an_id_derived_from_the_lead():
    deal = new_deal()
    assert (deal.stage, deal.status, deal.version) == ("new", "open", 1)
    assert deal.id == derived_id("deal", "lead-1")
    assert deal.stage_entered_version == 1
    assert Deal.open(P, None, "by hand", None).id != Deal.open(P, None, "by hand", None).id


def test_cannot_open_with_a_negative_amount_or_a_bad_currency():
    with pytest.raises(InvalidValue):
        Deal.open(P, "lead-1", "Ann", None, amount=Decimal("-1"))
    with pytest.raises(InvalidValue):
        Deal.open(P, "lead-1", "Ann", None, currency="rub")


def test_moves_forward_skipping_and_back_remembering_where_each_stay_began():
    deal = new_deal()
    deal.move_to(P, "proposal")
    deal.move_to(P, "qualified")
    events = deal.collect_events()
    assert [type(e).__name__ for e in events] == ["Opened", "StageChanged", "StageChanged"]
    skip, back = events[1], events[2]
    assert (skip.from_stage, skip.to_stage, skip.from_stage_entered_version) == (
        "new",
        "proposal",
        1,
    )
    assert (back.from_stage, back.to_stage, back.from_stage_entered_version) == (
        "proposal",
        "qualified",
        2,
    )
    assert back.from_stage_entered_at == skip.timestamp
    assert deal.stage == "qualified" and deal.version == 3


def test_a_transition_carries_the_context_of_its_moment():
    deal = new_deal()
    deal.set_amount(Decimal("500"), "USD")
    deal.assign("m2")
    deal.win(P)
    won = deal.collect_events()[-1]
    assert (won.to_stage, won.status, won.from_status) == ("won", "won", "open")
    assert (won.manager_id, won.client_id, won.correlation_id) == ("m2", "c1", "lead-1")
    assert (won.amount, won.currency) == (Decimal("500"), "USD")


def test_moving_to_the_same_stage_records_nothing():
    deal = new_deal()
    deal.move_to(P, "new")
    assert events_of(deal) == ["Opened"]


def test_unknown_stage_is_refused_and_records_nothing():
    deal = new_deal()
    with pytest.raises(UnknownStage, match="pipeline has new, qualified"):
        deal.move_to(P, "shipped")
    assert events_of(deal) == ["Opened"]


def test_won_closes_the_deal_and_refuses_further_moves():
    deal = new_deal()
    deal.win(P)
    assert (deal.stage, deal.status) == ("won", "won")
    with pytest.raises(DealClosed):
        deal.move_to(P, "new")
    with pytest.raises(DealClosed):
        deal.set_amount(Decimal("1"))
    assert events_of(deal) == ["Opened", "StageChanged"]


def test_lost_needs_a_reason_from_the_list_and_keeps_it_only_while_lost():
    deal = new_deal()
    with pytest.raises(UnknownLostReason):
        deal.move_to(P, "lost", None, REASONS)
    with pytest.raises(UnknownLostReason, match="allowed: price, competitor"):
        deal.lose(P, "weather", REASONS)
    deal.move_to(P, "qualified", lost_reason="ignored")
    assert deal.lost_reason is None
    deal.lose(P, "price", REASONS)
    assert (deal.status, deal.stage, deal.lost_reason) == ("lost", "lost", "price")
    with pytest.raises(DealClosed):
        deal.win(P)
    deal.reopen(P)
    assert (deal.status, deal.stage, deal.lost_reason) == ("open", "qualified", None)


def test_reopen_only_a_closed_deal_into_an_open_stage():
    deal = new_deal()
    with pytest.raises(DealNotClosed):
        deal.reopen(P)
    deal.move_to(P, "invoice")
    deal.win(P)
    with pytest.raises(UnknownStage):
        deal.reopen(P, "lost")
    with pytest.raises(UnknownStage):
        deal.reopen(P, "nowhere")
    deal.reopen(P, "proposal")
    reopened = deal.collect_events()[-1]
    assert (reopened.from_stage, reopened.to_stage, reopened.from_status) == (
        "won",
        "proposal",
        "won",
    )


def test_amount_currency_cost_and_close_date_are_checked_and_only_changes_are_recorded():
    deal = new_deal()
    with pytest.raises(InvalidValue):
        deal.set_amount(Decimal("-5"))
    with pytest.raises(InvalidValue):
        deal.set_amount(Decimal("5"), cost=Decimal("-1"))
    with pytest.raises(InvalidValue):
        deal.set_amount(Decimal("5"), currency="roubles")
    deal.set_amount(Decimal("100"), "RUB", Decimal("30"), date(2026, 4, 1))
    deal.set_amount(Decimal("100"))  # nothing changes
    changed = deal.collect_events()[1:]
    assert len(changed) == 1
    assert (changed[0].amount, changed[0].previous_amount, changed[0].cost) == (100, 0, 30)
    assert deal.expected_close_date == date(2026, 4, 1)


def test_assigning_records_the_previous_manager_and_ignores_the_same_one():
    deal = new_deal()
    deal.assign("m1")
    deal.assign("m2")
    assigned = deal.collect_events()[1:]
    assert len(assigned) == 1
    assert (assigned[0].manager_id, assigned[0].previous_manager_id) == ("m2", "m1")


def test_tasks_are_scheduled_rescheduled_completed_or_cancelled_once():
    deal = new_deal()
    with pytest.raises(InvalidValue):
        deal.schedule_task("call", "visit", NOW)
    with pytest.raises(InvalidValue):
        deal.schedule_task(" ", "call", NOW)
    with pytest.raises(InvalidValue):
        deal.schedule_task("call", "call", NOW.replace(tzinfo=None))
    task = deal.schedule_task("Call Ann", "call", NOW)
    deal.schedule_task("Call Ann", "call", NOW + timedelta(days=1), task_id=task)
    assert deal.tasks[task].due_at == NOW + timedelta(days=1)
    deal.complete_task(task)
    with pytest.raises(TaskClosed):
        deal.complete_task(task)
    with pytest.raises(TaskClosed):
        deal.schedule_task("Call Ann", "call", NOW, task_id=task)
    with pytest.raises(TaskNotFound):
        deal.cancel_task("nope")
    other = deal.schedule_task("Meet", "meeting", NOW)
    deal.cancel_task(other, "client away")
    assert {t.status for t in deal.tasks.values()} == {"completed", "cancelled"}
    assert events_of(deal)[1:] == [
        "TaskScheduled",
        "TaskScheduled",
        "TaskCompleted",
        "TaskScheduled",
        "TaskCancelled",
    ]


def test_invoices_need_a_positive_amount_and_a_deal_that_is_not_lost():
    deal = new_deal()
    with pytest.raises(InvalidValue):
        deal.issue_invoice("INV-1", Decimal("0"), {})
    invoice = deal.issue_invoice("INV-1", Decimal("60"), {"inn": "7701234567"})
    assert deal.invoices[invoice].requisites == {"inn": "7701234567"}
    deal.lose(P, "price")
    with pytest.raises(DealIsLost):
        deal.issue_invoice("INV-2", Decimal("1"), {})


def test_payments_add_up_are_positive_name_a_known_invoice_and_count_once():
    deal = new_deal()
    invoice = deal.issue_invoice("INV-1", Decimal("100"), {})
    for bad in (Decimal("0"), Decimal("-10")):
        with pytest.raises(InvalidValue):
            deal.record_payment(bad, NOW)
    with pytest.raises(UnknownInvoice):
        deal.record_payment(Decimal("10"), NOW, invoice_id="other")
    deal.record_payment(Decimal("40"), NOW, invoice, payment_id="p1")
    deal.record_payment(Decimal("40"), NOW, invoice, payment_id="p1")  # the same payment again
    deal.record_payment(Decimal("60"), NOW, invoice)
    assert deal.paid_total == Decimal("100")
    payments = [e for e in deal.collect_events() if type(e).__name__ == "PaymentReceived"]
    assert [p.paid_total for p in payments] == [Decimal("40"), Decimal("100")]


def test_a_lost_deal_takes_no_payment():
    deal = new_deal()
    deal.lose(P, "price")
    with pytest.raises(DealIsLost):
        deal.record_payment(Decimal("10"), NOW)
    assert events_of(deal) == ["Opened", "StageChanged"]
