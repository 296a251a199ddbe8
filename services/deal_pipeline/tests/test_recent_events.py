"""The relay and the read model take the events this process saved from memory: on both
stores each must equal what decoding its stored record gives, field for field, so that the
bus and the lists get the same either way."""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from deal_pipeline.adapters.event_mapping import to_contract
from deal_pipeline.adapters.recent_events import RecentEvents
from deal_pipeline.domain.people import ManagerCard

CARD = ManagerCard(
    name="Anna",
    email="anna@x.test",
    telegram_chat_id="1001",
    phone=None,
    active=True,
    timezone="Europe/Moscow",
    role="head",
)


def every_kind_of_event(crm) -> None:
    crm.reference.put_manager("m1", CARD)
    crm.reference.set_plan("m1", "2026-03", Decimal("1000.50"))
    crm.reference.define_pipeline(
        "b2b",
        "B2B",
        [{"name": "new"}, {"name": "won", "kind": "won"}, {"name": "lost", "kind": "lost"}],
        ["price"],
    )
    deal_id = crm.opening.from_lead("lead-1", "Ann (api)", name="Ann", phone="+79130000001")
    crm.clients.update(
        UUID(crm.deals.get(deal_id).client_id),
        "Ann",
        ["+79130000001", "+79130000002"],
        ["ann@x.test"],
        {"legal_name": "Ann LLC", "inn": "7701234567"},
    )
    crm.deals.move_stage(deal_id, "proposal")
    crm.deals.set_amount(deal_id, Decimal("900.10"), "USD", Decimal("5"), date(2026, 4, 1))
    task = crm.deals.schedule_task(deal_id, "Call", "call", datetime(2030, 1, 1, tzinfo=UTC))
    crm.deals.complete_task(deal_id, task.task_id)
    invoice = crm.deals.issue_invoice(deal_id, Decimal("900.10"), due_date=date(2026, 5, 1))
    crm.deals.record_payment(deal_id, Decimal("100"), invoice_id=invoice.invoice_id)
    crm.deals.win(deal_id)


def test_what_a_save_keeps_equals_what_its_record_decodes_to(crm):
    every_kind_of_event(crm)
    store = crm.store
    notifications = store.recorder.select_notifications(None, 1000)
    assert len(notifications) > 15
    for notification in notifications:
        kept = store.recent.get(notification.id)
        assert kept is not None
        decoded = store.mapper.to_domain_event(notification)
        assert kept == decoded
        assert store.domain_event(notification) is kept
        mapped, from_record = to_contract(kept), to_contract(decoded)
        assert (mapped and mapped.model_dump_json()) == (
            from_record and from_record.model_dump_json()
        )


def test_events_saved_by_another_process_are_decoded(make_app):
    writer, reader = make_app(), make_app()
    writer.opening.from_lead("lead-1", "Ann (api)", phone="+79130000001")
    for notification in reader.store.recorder.select_notifications(None, 100):
        assert reader.store.recent.get(notification.id) is None
        assert reader.store.domain_event(notification) == writer.store.recent.get(notification.id)


def test_only_the_last_saved_are_kept():
    class Saved:
        def __init__(self, notification_id: int) -> None:
            self.notification = type("N", (), {"id": notification_id})()
            self.domain_event = f"event {notification_id}"

    recent = RecentEvents(size=3)
    recent.keep([Saved(1), Saved(2)])
    recent.keep([Saved(3), Saved(4)])
    assert [recent.get(i) for i in range(1, 5)] == [None, "event 2", "event 3", "event 4"]
