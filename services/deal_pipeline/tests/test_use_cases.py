"""Use cases over the in-memory stand-in of the store port (`memory`, no database): what
each command saves together, and that it returns its result."""

from decimal import Decimal

import pytest

from deal_pipeline.application.client_cards import ClientCards
from deal_pipeline.application.deal_commands import DealCommands
from deal_pipeline.application.open_deal import LeadToOpen, OpenDeal
from deal_pipeline.application.reference_data import ReferenceData
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import DealIsLost


@pytest.fixture
def opening(memory) -> OpenDeal:
    return OpenDeal(memory, ClientCards(memory), ReferenceData(memory, ["m1", "m2"]))


@pytest.fixture
def deals(memory) -> DealCommands:
    return DealCommands(memory, ClientCards(memory), ReferenceData(memory, ["m1", "m2"]))


def test_a_lead_opens_its_deal_with_its_new_client_in_one_save(memory, opening):
    deal_id = opening.from_lead("lead-1", "Ann", phone="+79120000001", email="ann@mail.ru")
    assert deal_id == Deal.create_id("lead-1")
    assert memory.saves == [["Client", "ContactIndex", "ContactIndex", "Deal", "Counter"]]
    assert opening.from_lead("lead-1", "Ann", phone="+79120000001") == deal_id
    assert len(memory.saves) == 1  # a redelivered lead saves nothing


def test_a_batch_of_leads_is_opened_in_one_save_as_if_one_by_one(memory, opening):
    batch = [
        LeadToOpen("a", "A", phone="+79120000001"),
        LeadToOpen("b", "B", phone="+7 912 000-00-01"),  # a's new client
        LeadToOpen("c", "C", email="c@mail.ru"),
        LeadToOpen("a", "A", phone="+79120000001"),  # the same lead again
        LeadToOpen("d", "D", email="C@Mail.ru"),  # c's new client
    ]
    ids = opening.from_leads(batch)
    assert ids == [Deal.create_id(lead.lead_id) for lead in batch]
    assert len(memory.saves) == 1
    assert memory.saves[0].count("Deal") == 4 and memory.saves[0].count("Counter") == 1
    deals = {lead: memory.find(Deal, Deal.create_id(lead)) for lead in "abcd"}
    assert deals["a"].client_id == deals["b"].client_id != deals["c"].client_id
    assert deals["c"].client_id == deals["d"].client_id
    assert memory.saves[0].count("Client") == 2
    assert [deals[k].manager_id for k in "abcd"] == ["m1", "m2", "m1", "m2"]
    # The counter moved past every turn of the batch: the rotation goes on from there.
    assert memory.find(Deal, opening.from_lead("e", "E")).manager_id == "m1"
    assert opening.from_leads(batch) == ids and len(memory.saves) == 2  # redelivered: no save


def test_an_invoice_is_saved_with_its_number_and_returned(memory, opening, deals):
    deal = opening.by_hand("Chairs", name="Acme", manager_id="m1")
    first = deals.issue_invoice(deal.id, Decimal("100"))
    second = deals.issue_invoice(deal.id, Decimal("50"), "USD")
    assert memory.saves[-2:] == [["Deal", "Counter"], ["Deal", "Counter"]]
    assert first.deal.invoices[first.invoice_id].number == "INV-000001"
    assert second.deal.invoices[second.invoice_id].number == "INV-000002"
    assert second.deal.version == 3


def test_a_refused_command_saves_nothing(memory, opening, deals):
    deal = opening.by_hand("Chairs", name="Acme", manager_id="m1")
    deals.lose(deal.id, "price")
    saves = len(memory.saves)
    with pytest.raises(DealIsLost) as refused:
        deals.record_payment(deal.id, Decimal("5"))
    assert (refused.value.http_status, refused.value.error) == (409, "DealLost")
    assert len(memory.saves) == saves
