"""Use cases on a real event store: every test runs on SQLite and on PostgreSQL."""

import threading
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from crm_contracts.pipelines import DEFAULT_PIPELINE
from deal_pipeline.adapters.event_mapping import to_contract
from deal_pipeline.adapters.latest_deals import LatestDeals
from deal_pipeline.domain.assignment import AssignmentRule
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import (
    ContactTaken,
    DealClosed,
    DealIsLost,
    DealNotFound,
    InvalidValue,
    UnknownLostReason,
    UnknownManager,
    UnknownPipeline,
    UnknownStage,
)
from deal_pipeline.domain.people import ManagerCard

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
STAGES = [s.model_dump() for s in DEFAULT_PIPELINE.stages]


def stored_count(app) -> int:
    return app.store.recorder.max_notification_id() or 0


def manager_card(name: str, active: bool = True) -> ManagerCard:
    return ManagerCard.checked(name, f"{name}@shop.test", active=active)


def test_a_lead_opens_one_deal_however_often_it_arrives(crm):
    first = crm.opening.from_lead("lead-1", "Ann", phone="+79120000001")
    stored = stored_count(crm)
    second = crm.opening.from_lead("lead-1", "Ann", phone="+79120000001")
    assert first == second == Deal.create_id("lead-1")
    assert crm.deals.get(first).version == 1
    assert stored_count(crm) == stored


def test_a_known_client_by_phone_or_email_gets_a_new_deal_a_repeat_purchase(crm):
    first = crm.deals.get(
        crm.opening.from_lead(
            "lead-1", "Ann", name="Ann", phone="+79120000001", email="ann@mail.ru"
        )
    )
    by_phone = crm.deals.get(crm.opening.from_lead("lead-2", "Ann", phone="+7 912 000-00-01"))
    by_email = crm.deals.get(crm.opening.from_lead("lead-3", "Ann", email="ANN@mail.ru"))
    stranger = crm.deals.get(crm.opening.from_lead("lead-4", "Bob", email="bob@mail.ru"))
    assert len({first.id, by_phone.id, by_email.id}) == 3
    assert first.client_id == by_phone.client_id == by_email.client_id != stranger.client_id
    client = crm.clients.get(UUID(first.client_id))
    assert (client.name, client.phones, client.emails) == ("Ann", ["+79120000001"], ["ann@mail.ru"])


def test_an_unreadable_contact_does_not_refuse_the_lead(crm):
    deal = crm.deals.get(crm.opening.from_lead("lead-1", "Ann", phone="call me"))
    assert deal.client_id is not None


def test_managers_take_turns_and_the_rotation_survives_a_restart(make_app):
    first = make_app()
    turns = [first.deals.get(first.opening.from_lead(f"l{i}", "x")).manager_id for i in range(3)]
    first.close()
    again = make_app()  # a restarted (or another) process continues the same rotation
    turns += [again.deals.get(again.opening.from_lead(f"l{i}", "x")).manager_id for i in (3, 4)]
    assert turns == ["m1", "m2", "m1", "m2", "m1"]


def test_manager_cards_replace_the_configured_list_and_inactive_ones_get_nothing(crm):
    crm.reference.put_manager("anna", manager_card("anna"))
    crm.reference.put_manager("boris", manager_card("boris"))
    crm.reference.put_manager("boris", manager_card("boris", active=False))
    managers = {crm.deals.get(crm.opening.from_lead(f"l{i}", "x")).manager_id for i in range(4)}
    assert managers == {"anna"}
    assert crm.reference.roster() == ["anna", "boris"]
    with pytest.raises(UnknownManager):
        crm.deals.assign(crm.opening.from_lead("l9", "x"), "boris")
    with pytest.raises(UnknownManager):
        crm.deals.assign(crm.opening.from_lead("l9", "x"), "m1")  # the list is out of force


def test_rules_by_form_or_source_come_first(make_app):
    app = make_app(
        assignment_rules=[
            AssignmentRule("m2", form_id="vip"),
            AssignmentRule("m1", source="yandex"),
        ]
    )
    vip = [app.opening.from_lead(f"v{i}", "x", form_id="vip") for i in range(3)]
    ads = [app.opening.from_lead(f"y{i}", "x", utm_source="yandex") for i in range(3)]
    assert {app.deals.get(d).manager_id for d in vip} == {"m2"}
    assert {app.deals.get(d).manager_id for d in ads} == {"m1"}


def test_a_pipelines_round_robin_is_only_among_its_managers(crm):
    for name in ("anna", "boris", "carl"):
        crm.reference.put_manager(name, manager_card(name))
    crm.reference.define_pipeline("b2b", "B2B", STAGES, ["price"], ["boris", "carl"])
    picked = [
        crm.deals.get(crm.opening.from_lead(f"l{i}", "x", pipeline_id="b2b")).manager_id
        for i in range(4)
    ]
    assert picked == ["boris", "carl", "boris", "carl"]
    with pytest.raises(UnknownManager):
        crm.reference.define_pipeline("b2c", "B2C", STAGES, [], ["nobody"])


def test_moves_are_stored_and_seen_by_another_process(crm, make_app):
    deal_id = crm.opening.from_lead("lead-1", "Ann")
    crm.deals.move_stage(deal_id, "proposal")
    assert make_app().deals.get(deal_id).stage == "proposal"


def test_unknown_deal_pipeline_and_stage(crm):
    with pytest.raises(DealNotFound):
        crm.deals.move_stage(uuid4(), "won")
    with pytest.raises(UnknownPipeline):
        crm.opening.by_hand("x", pipeline_id="nope")
    with pytest.raises(UnknownStage):
        crm.deals.move_stage(crm.opening.by_hand("x").id, "shipped")


def test_refused_commands_store_no_event(crm):
    deal_id = crm.opening.from_lead("lead-1", "Ann")
    crm.deals.lose(deal_id, "price")
    stored = stored_count(crm)
    refusals = [
        (DealClosed, lambda: crm.deals.move_stage(deal_id, "new")),
        (DealClosed, lambda: crm.deals.win(deal_id)),
        (DealClosed, lambda: crm.deals.set_amount(deal_id, Decimal("5"))),
        (DealIsLost, lambda: crm.deals.record_payment(deal_id, Decimal("5"))),
        (DealIsLost, lambda: crm.deals.issue_invoice(deal_id, Decimal("5"))),
        (InvalidValue, lambda: crm.deals.record_payment(deal_id, Decimal("0"))),
        (UnknownManager, lambda: crm.deals.assign(deal_id, "ghost")),
        (UnknownStage, lambda: crm.deals.reopen(deal_id, "won")),
    ]
    for error, command in refusals:
        with pytest.raises(error):
            command()
    assert stored_count(crm) == stored


def test_lost_reasons_come_from_the_pipeline_or_the_settings(crm):
    with pytest.raises(UnknownLostReason):
        crm.deals.lose(crm.opening.by_hand("x").id, "weather")
    crm.reference.define_pipeline("default", "Sales", STAGES, ["weather"])
    assert crm.deals.lose(crm.opening.by_hand("y").id, "weather").lost_reason == "weather"


def test_invoices_are_numbered_in_sequence_with_the_client_requisites(crm):
    deal = crm.opening.by_hand("Office chairs", name="Acme", email="buy@acme.test")
    requisites = {"legal_name": "Acme LLC", "inn": "7701234567", "kpp": "770101001"}
    client = crm.clients.update(UUID(deal.client_id), "Acme", [], ["buy@acme.test"], requisites)
    other = crm.opening.by_hand("Desks", client_id=client.id)
    _, first = crm.deals.issue_invoice(deal.id, Decimal("1000"))
    after, second = crm.deals.issue_invoice(other.id, Decimal("500"), "USD")
    deal = crm.deals.get(deal.id)
    assert deal.invoices[first].number == "INV-000001"
    assert after.invoices[second].number == "INV-000002"
    assert deal.invoices[first].requisites["inn"] == "7701234567"
    assert after.invoices[second].currency == "USD"


def test_partial_payments_add_up(crm):
    deal_id = crm.opening.by_hand("x", amount=Decimal("100")).id
    _, invoice = crm.deals.issue_invoice(deal_id, Decimal("100"))
    crm.deals.record_payment(deal_id, Decimal("30"), NOW, invoice)
    deal, _ = crm.deals.record_payment(deal_id, Decimal("70"), NOW, invoice)
    assert deal.paid_total == Decimal("100") and len(deal.payments) == 2


def test_editing_a_pipeline_never_rewrites_history(crm):
    deal_id = crm.opening.from_lead("lead-1", "Ann")
    crm.deals.move_stage(deal_id, "qualified")
    renamed = [dict(s, name="talks") if s["name"] == "qualified" else s for s in STAGES]
    crm.reference.define_pipeline("default", "Sales", renamed)
    history = [to_contract(e) for e in crm.deals.history(deal_id)]
    assert history[1].to_stage == "qualified"  # as it happened
    assert crm.deals.get(deal_id).stage == "qualified"
    crm.deals.move_stage(deal_id, "talks")  # onwards under the new definition
    assert [e.to_stage for e in map(to_contract, crm.deals.history(deal_id)[1:])] == [
        "qualified",
        "talks",
    ]
    assert crm.reference.pipeline_definition("default")["version"] == 1


def test_a_pipeline_redefined_by_another_replica_counts_at_the_next_command(crm, make_app):
    deal_id = crm.opening.by_hand("x").id
    crm.deals.move_stage(deal_id, "qualified")  # the rules of the built-in pipeline, now kept
    renamed = [dict(s, name="talks") if s["name"] == "qualified" else s for s in STAGES]
    make_app().reference.define_pipeline("default", "Sales", renamed, ["weather"])
    assert crm.deals.move_stage(deal_id, "talks").stage == "talks"
    with pytest.raises(UnknownStage):
        crm.deals.move_stage(deal_id, "qualified")
    make_app().reference.define_pipeline("default", "Sales", STAGES, ["rain"])
    with pytest.raises(UnknownLostReason):
        crm.deals.lose(deal_id, "weather")
    assert crm.deals.lose(deal_id, "rain").lost_reason == "rain"


def test_contacts_stay_unique_when_cards_are_edited(crm):
    ann = crm.clients.register("Ann", ["+79120000001"], [], {})
    bob = crm.clients.register("Bob", [], ["bob@mail.ru"], {})
    stored = stored_count(crm)
    with pytest.raises(ContactTaken):
        crm.clients.update(bob.id, "Bob", ["+79120000001"], ["bob@mail.ru"], {})
    with pytest.raises(ContactTaken):
        crm.clients.register("Eve", [], ["bob@mail.ru"], {})
    assert stored_count(crm) == stored
    crm.clients.update(ann.id, "Ann", ["+79120000002"], [], {})  # releases the old phone
    crm.clients.update(bob.id, "Bob", ["+79120000001"], ["bob@mail.ru"], {})
    assert crm.clients.by_contact("phone", "+79120000001") == str(bob.id)


def test_two_replicas_registering_one_phone_make_one_client(crm, make_app):
    other = make_app()
    barrier = threading.Barrier(2)
    deal_ids: list = []

    def lead(app, lead_id: str) -> None:
        barrier.wait()
        deal_ids.append(app.opening.from_lead(lead_id, "Ann", phone="+79120000001"))

    threads = [
        threading.Thread(target=lead, args=(a, f"lead-{i}")) for i, a in enumerate((crm, other))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    clients = {crm.deals.get(d).client_id for d in deal_ids}
    assert len(deal_ids) == 2 and len(clients) == 1


def test_plans_are_set_and_replaced(crm):
    with pytest.raises(UnknownManager):
        crm.reference.set_plan("ghost", "2026-03", Decimal("1"))
    crm.reference.set_plan("m1", "2026-03", Decimal("100000"))
    plan = crm.reference.set_plan("m1", "2026-03", Decimal("150000"))
    assert (plan.terms.amount, plan.version) == (Decimal("150000"), 2)


def test_long_deals_load_from_snapshots_to_the_same_state(make_app):
    app = make_app(snapshot_interval=5)
    deal_id = app.opening.by_hand("long").id
    for i in range(12):
        app.deals.set_amount(deal_id, Decimal(i + 1))
    snapshots = list(app.store.snapshots.get(deal_id))
    assert [s.originator_version for s in snapshots] == [5, 10]
    replayed = app.store.repository.get(deal_id, version=13)  # from events only
    app.store.latest = LatestDeals()  # the deal kept after its save forgotten, as on a restart
    loaded = app.deals.get(deal_id)  # from the snapshot at 10 plus 3 events
    assert loaded.version == replayed.version == 13
    assert vars(loaded) == vars(replayed)


def test_concurrent_writers_on_one_deal_lose_no_update(crm, make_app):
    """Two applications on one store move the same deal; a save that hit the other's write is
    retried on fresh state. Each thread alternates between two stages the other never uses,
    so every move changes the deal: the history must hold exactly 1 + 2 × moves events."""
    deal_id = crm.opening.from_lead("lead-1", "Ann")
    other = make_app()
    moves = 30
    errors: list[BaseException] = []

    def hammer(app, stages: tuple[str, str]) -> None:
        try:
            for i in range(moves):
                app.deals.move_stage(deal_id, stages[i % 2])
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=hammer, args=(crm, ("qualified", "proposal"))),
        threading.Thread(target=hammer, args=(other, ("invoice", "new"))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = crm.deals.history(deal_id)
    assert [e.originator_version for e in history] == list(range(1, 2 * moves + 2))
    for before, after in zip(history[1:], history[2:], strict=False):
        assert after.from_stage == before.to_stage
