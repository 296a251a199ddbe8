"""A store written by older code still loads, on both event stores: its events and snapshots
(`data/store_before_value_objects.json`, recorded from that code) hold the deal's tasks,
invoices and payments as dicts, and manager and plan events from before explicit event
classes. Everything reads as it did, and new commands and snapshots go on from there."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from deal_pipeline.adapters.event_mapping import to_contract
from deal_pipeline.domain.deal import Deal, Invoice, Payment, Task

RECORDED = json.loads(
    (Path(__file__).parent / "data" / "store_before_value_objects.json").read_text()
)
PAID_AT = datetime(2026, 3, 2, 10, tzinfo=UTC)


def stored(record: dict, drop: str | None = None) -> StoredEvent:
    state = json.loads(record["state"])
    if drop:
        state.pop(drop)
    return StoredEvent(
        originator_id=UUID(record["originator_id"]),
        originator_version=record["originator_version"],
        topic=record["topic"],
        state=json.dumps(state, separators=(",", ":")).encode(),
    )


@pytest.fixture
def old(make_app):
    """Use cases on a store holding only what the older code recorded."""
    crm = make_app(snapshot_interval=5)
    # A manager registered before roles existed has no role in its event.
    events = [
        stored(r, drop="role" if r["topic"].endswith("Manager.Registered") else None)
        for r in RECORDED["events"]
    ]
    crm.store.recorder.insert_events(events)
    crm.store.snapshots.recorder.insert_events([stored(r) for r in RECORDED["snapshots"]])
    return crm


def test_a_deal_loads_from_an_old_snapshot_with_value_objects(old):
    deal_id = UUID(RECORDED["deal_id"])
    assert [s.originator_version for s in old.store.snapshots.get(deal_id)] == [5, 10]
    deal = old.deals.get(deal_id)  # from the snapshot at 10 (dicts) and two events
    assert (deal.version, deal.status, deal.paid_total) == (12, "won", Decimal("1500.50"))
    assert deal.tasks == {
        "t1": Task("Call", "call", PAID_AT, "completed"),
        "t2": Task("Meet", "meeting", PAID_AT, "cancelled"),
        "t3": Task("Follow up", "email", PAID_AT, "scheduled"),
    }
    ((invoice_id, invoice),) = deal.invoices.items()
    assert isinstance(invoice, Invoice)
    assert (invoice.number, invoice.amount, invoice.due_date) == (
        "INV-000001", Decimal("1500.50"), date(2026, 3, 20)
    )  # fmt: skip
    assert invoice.requisites["inn"] == "7701234567"
    assert deal.payments == {
        "p1": Payment(invoice_id, Decimal("500"), "RUB", PAID_AT),
        "p2": Payment(None, Decimal("1000.50"), "RUB", PAID_AT),
    }
    # The same state from the events alone.
    events_only = Deal.__new__(Deal)
    for e in old.store.events.get(deal_id):
        events_only = e.mutate(None if e.originator_version == 1 else events_only)
    assert vars(events_only) == vars(deal)


def test_old_events_map_to_the_same_contracts_and_reference_data_reads(old):
    deal_id = UUID(RECORDED["deal_id"])
    kinds = [type(to_contract(e)).__name__ for e in old.deals.history(deal_id)]
    assert kinds[:3] == ["DealOpened", "DealAmountChanged", "TaskScheduled"]
    assert kinds[-1] == "DealWon" and len(kinds) == RECORDED["version"]
    manager = old.reference.get_manager("anna")
    assert (manager.card.name, manager.card.role) == ("Anna K", "manager")
    registered = to_contract(next(iter(old.store.events.get(manager.id))))
    assert registered.role == "manager"  # not in the stored event: the default
    assert old.reference.get_plan("anna", "2026-03").terms.amount == Decimal("2000")
    assert old.reference.pipeline_definition("b2b")["name"] == "B2B sales"
    client_id = old.clients.by_contact("phone", "+79120000001")
    assert old.clients.get(UUID(client_id)).requisites["legal_name"] == "Ann LLC"


def test_commands_and_new_snapshots_go_on_from_the_old_store(old, make_app):
    deal_id = UUID(RECORDED["deal_id"])
    old.deals.reopen(deal_id)
    old.deals.complete_task(deal_id, "t3")
    old.deals.record_payment(deal_id, Decimal("1"), PAID_AT, payment_id="p3")  # version 15
    assert [s.originator_version for s in old.store.snapshots.get(deal_id)] == [5, 10, 15]
    again = make_app().deals.get(deal_id)  # from the new snapshot
    assert again.tasks["t3"].status == "completed"
    assert (again.version, again.paid_total) == (15, Decimal("1501.50"))
    assert vars(again) == vars(old.deals.get(deal_id))
