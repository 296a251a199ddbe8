"""Deals kept in memory by the process that loaded or saved them last (`latest_deals`): a deal
loaded from there is the deal the store holds, whatever changed it, on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import RecordConflictError

from crm_contracts.pipelines import DEFAULT_PIPELINE
from deal_pipeline.adapters.latest_deals import LatestDeals
from deal_pipeline.domain.deal import Deal

DUE = datetime(2030, 1, 15, 8, tzinfo=UTC)


def from_the_store(app, deal_id: UUID) -> Deal:
    """The deal as its stored events make it, past anything kept in memory."""
    return app.store.repository.get(deal_id)


def loaded(app, deal_id: UUID) -> Deal:
    """The deal as a command loads it: from the copy kept in memory."""
    assert app.store.latest.get(deal_id) is not None
    return app.deals.get(deal_id)


def test_a_kept_deal_loads_as_the_store_holds_it_after_every_kind_of_command(crm):
    deal_id = crm.opening.by_hand(title="Chairs", name="Ann", phone="+79120000001").id
    task = crm.deals.schedule_task(deal_id, "Call", "call", DUE).task_id
    dropped = crm.deals.schedule_task(deal_id, "Meet", "meeting", DUE).task_id
    invoice = crm.deals.issue_invoice(deal_id, Decimal("900")).invoice_id
    commands = [
        lambda: crm.deals.move_stage(deal_id, "qualified"),
        lambda: crm.deals.set_amount(deal_id, Decimal("1500.50"), "USD", Decimal("700")),
        lambda: crm.deals.assign(deal_id, "m2"),
        lambda: crm.deals.complete_task(deal_id, task),
        lambda: crm.deals.cancel_task(deal_id, dropped, "not needed"),
        lambda: crm.deals.record_payment(deal_id, Decimal("400"), DUE, invoice),
        lambda: crm.deals.win(deal_id),
        lambda: crm.deals.reopen(deal_id),
        lambda: crm.deals.lose(deal_id, "price"),
        lambda: crm.deals.reopen(deal_id, "proposal"),
        lambda: crm.deals.move_stage(deal_id, "proposal"),  # no change: nothing stored
    ]
    for command in commands:
        command()
        assert loaded(crm, deal_id) == from_the_store(crm, deal_id)
    assert loaded(crm, deal_id).version == 14


def test_changing_the_deal_a_command_loaded_leaves_the_kept_one_as_it_was(crm):
    deal_id = crm.opening.by_hand(title="Chairs", name="Ann").id
    crm.deals.schedule_task(deal_id, "Call", "call", DUE)
    crm.deals.record_payment(deal_id, Decimal("100"), DUE)
    deal = loaded(crm, deal_id)
    # What a refused or failed command may have done to its copy before giving up.
    deal.move_to(DEFAULT_PIPELINE, "invoice")
    deal.tasks.clear()
    deal.payments.clear()
    assert loaded(crm, deal_id) == from_the_store(crm, deal_id)
    assert loaded(crm, deal_id).stage == "new"


def test_a_deal_changed_by_another_process_loads_with_its_changes(make_app):
    here, there = make_app(), make_app()
    deal_id = here.opening.by_hand(title="Chairs", name="Ann").id
    here.deals.move_stage(deal_id, "qualified")
    there.deals.move_stage(deal_id, "proposal")
    there.deals.set_amount(deal_id, Decimal("500"))
    assert loaded(here, deal_id) == from_the_store(here, deal_id)
    moved = here.deals.move_stage(deal_id, "invoice")
    assert (moved.version, moved.amount, moved.stage) == (5, Decimal("500"), "invoice")
    history = [type(e).__name__ for e in here.deals.history(deal_id)]
    assert history == ["Opened", "StageChanged", "StageChanged", "AmountChanged", "StageChanged"]


def test_a_save_that_lost_to_another_writer_is_not_kept(make_app):
    here, there = make_app(), make_app()
    deal_id = here.opening.by_hand(title="Chairs", name="Ann").id
    deal = loaded(here, deal_id)
    there.deals.move_stage(deal_id, "proposal")
    deal.move_to(DEFAULT_PIPELINE, "invoice")
    with pytest.raises(RecordConflictError):
        here.store.save(deal)
    assert loaded(here, deal_id) == from_the_store(here, deal_id)
    assert loaded(here, deal_id).stage == "proposal"


def test_a_deal_not_kept_here_still_loads_from_its_latest_snapshot(make_app):
    app = make_app(snapshot_interval=5)
    deal_id = app.opening.by_hand("long").id
    for i in range(12):
        app.deals.set_amount(deal_id, Decimal(i + 1))
    assert [s.originator_version for s in app.store.snapshots.get(deal_id)] == [5, 10]
    cold = make_app(snapshot_interval=5)  # a restarted process: nothing kept yet
    assert cold.store.latest.get(deal_id) is None
    assert vars(cold.deals.get(deal_id)) == vars(loaded(app, deal_id))
    assert loaded(cold, deal_id).version == 13


def opened(title: str) -> Deal:
    deal = Deal.open(DEFAULT_PIPELINE, None, title, None)
    deal.collect_events()  # as after a save
    return deal


def test_the_least_recently_used_deal_goes_first_and_no_older_version_replaces_a_newer():
    latest = LatestDeals(size=2)
    first, second, third = opened("first"), opened("second"), opened("third")
    latest.keep(first)
    latest.keep(second)
    assert latest.get(first.id) == first  # now used more recently than the second
    latest.keep(third)
    assert latest.get(second.id) is None
    assert latest.get(first.id) == first and latest.get(third.id) == third
    older = latest.get(first.id)
    first.move_to(DEFAULT_PIPELINE, "qualified")
    latest.keep(first)  # its event not stored yet: ahead of the store, not kept
    assert latest.get(first.id) == older
    first.collect_events()
    latest.keep(first)
    latest.keep(older)
    assert latest.get(first.id) == first and latest.get(first.id) is not latest.get(first.id)
