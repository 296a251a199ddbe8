"""Domain rules of clients, contact indexes, pipelines, managers, plans, assignment and
counters (no I/O)."""

from decimal import Decimal

import pytest

from crm_contracts.pipelines import DEFAULT_PIPELINE
from deal_pipeline.domain.assignment import AssignmentRule, round_robin, ruled_manager
from deal_pipeline.domain.client import Client, ContactIndex
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.errors import ContactTaken, InvalidValue
from deal_pipeline.domain.people import Manager, ManagerCard, Plan
from deal_pipeline.domain.pipeline import PipelineDefinition, PipelineTerms

STAGES = [s.model_dump() for s in DEFAULT_PIPELINE.stages]


def test_a_client_keeps_normalised_contacts_and_records_only_changes():
    client = Client.register("Ann", "+7 (912) 000-00-01", "Ann@Mail.RU")
    assert (client.phones, client.emails) == (["+79120000001"], ["ann@mail.ru"])
    client.update("Ann", ["+79120000001"], ["ann@mail.ru"], {})
    assert len(client.collect_events()) == 1
    client.update("Ann", ["+79120000001"], ["ann@mail.ru"], {"inn": "7701234567", "x": "y"})
    assert client.requisites["inn"] == "7701234567" and "x" not in client.requisites


def test_a_client_refuses_unreadable_contacts():
    with pytest.raises(InvalidValue):
        Client.register("Ann", "call me", None)
    with pytest.raises(InvalidValue):
        Client.register("Ann", None, "not-an-email")


def test_a_contact_belongs_to_one_client_until_released():
    index = ContactIndex(kind="phone", value="+79120000001", client_id="c1")
    assert index.id == ContactIndex.create_id("phone", "+79120000001")
    index.claim("c1")  # already its own: nothing to record
    with pytest.raises(ContactTaken):
        index.claim("c2")
    index.release()
    index.claim("c2")
    assert index.client_id == "c2"
    assert [type(e).__name__ for e in index.collect_events()] == [
        "Claimed",
        "Released",
        "Reclaimed",
    ]


@pytest.mark.parametrize(
    ("stages", "reason"),
    [
        (STAGES + [STAGES[0]], "unique"),
        ([s for s in STAGES if s["kind"] != "won"], "won"),
        ([s for s in STAGES if s["kind"] != "lost"], "lost"),
        (STAGES[4:] + STAGES[:4], "first stage"),
    ],
)
def test_a_pipeline_definition_is_validated(stages, reason):
    with pytest.raises(InvalidValue, match=reason):
        PipelineTerms.checked("p", "P", stages, [], [])


def test_lost_reasons_are_unique_and_not_empty():
    for reasons in (["price", "price"], ["price", " "]):
        with pytest.raises(InvalidValue):
            PipelineTerms.checked("p", "P", STAGES, reasons, [])


def test_redefining_a_pipeline_the_same_way_records_nothing():
    definition = PipelineDefinition.define(PipelineTerms.checked("p", "P", STAGES, ["price"], []))
    definition.redefine(PipelineTerms.checked("p", "P", STAGES, ["price"], []))
    definition.redefine(PipelineTerms.checked("p", "P2", STAGES, ["price"], []))
    assert [type(e).__name__ for e in definition.collect_events()] == ["Defined", "Redefined"]
    assert definition.pipeline.stage("won").kind == "won"


def test_a_manager_card_is_checked_and_only_changes_are_recorded():
    card = {
        "name": "Anna",
        "email": "Anna@Shop.Test",
        "telegram_chat_id": None,
        "phone": None,
        "active": True,
        "timezone": "Europe/Moscow",
    }
    manager = Manager.register("anna", ManagerCard.checked(**card))
    assert manager.card.email == "anna@shop.test"
    manager.update(ManagerCard.checked(**card))
    manager.update(ManagerCard.checked(**card | {"active": False}))
    assert [type(e).__name__ for e in manager.collect_events()] == ["Registered", "Updated"]
    with pytest.raises(InvalidValue):
        ManagerCard.checked(**card | {"name": " "})
    with pytest.raises(InvalidValue):
        ManagerCard.checked(**card | {"role": "boss"})
    assert manager.card.role == "manager"  # a card without a role


def test_a_plan_needs_a_month_and_a_non_negative_amount():
    with pytest.raises(InvalidValue):
        Plan.set("anna", "2026-13", Decimal("1"), "RUB")
    with pytest.raises(InvalidValue):
        Plan.set("anna", "2026-03", Decimal("-1"), "RUB")
    plan = Plan.set("anna", "2026-03", Decimal("100"), "RUB")
    plan.change(Decimal("100"), "RUB")
    plan.change(Decimal("200"), "RUB")
    assert plan.terms.amount == 200 and len(plan.collect_events()) == 2


def test_the_first_matching_rule_of_an_active_manager_wins_else_round_robin():
    rules = [
        AssignmentRule("boris", form_id="vip"),
        AssignmentRule("anna", source="yandex"),
        AssignmentRule("nobody"),  # names nothing: never matches
    ]
    active = ["anna", "boris"]
    assert ruled_manager(rules, active, "vip", ("form", None)) == "boris"
    assert ruled_manager(rules, active, "site", ("form", "yandex")) == "anna"
    assert ruled_manager(rules, ["anna"], "vip", ()) is None  # boris is not active
    assert ruled_manager(rules, active, "site", ("form", "google")) is None
    assert [round_robin(active, turn) for turn in range(1, 6)] == [
        "anna",
        "boris",
        "anna",
        "boris",
        "anna",
    ]


def test_a_counter_draws_consecutive_numbers():
    counter = Counter(name="invoice-number")
    assert [counter.draw() for _ in range(3)] == [1, 2, 3]
    assert counter.id == Counter.create_id("invoice-number")
