"""A batch of leads reads in one go which deals and contacts exist, and the relay and read model
skip decoding events they have no use for: on SQLite and PostgreSQL, the outcome is the one of
a lead at a time."""

from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from deal_pipeline.adapters import stored_ids
from deal_pipeline.adapters.event_mapping import relayed
from deal_pipeline.adapters.read_model import ReadModel, projection
from deal_pipeline.application.open_deal import LeadToOpen
from deal_pipeline.domain.client import Client, ContactIndex
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.people import ManagerRoster
from deal_pipeline.domain.pipeline import PipelineDefinition


def stored_count(app) -> int:
    return app.store.recorder.max_notification_id() or 0


def test_existing_tells_the_stored_ids_among_many(crm, monkeypatch):
    monkeypatch.setattr(stored_ids, "CHUNK", 3)  # several statements, as for a long list
    deal = crm.opening.by_hand("Chairs", name="Ann", phone="+79120000001")
    client = UUID(deal.client_id)
    missing = [uuid4() for _ in range(5)]
    asked = [missing[0], deal.id, *missing[1:3], deal.id, client, *missing[3:]]
    assert crm.store.existing(asked) == {deal.id, client}
    assert crm.store.existing([]) == set()


def test_a_batch_of_new_redelivered_repeated_and_known_leads_opens_as_one_by_one(crm):
    known = crm.deals.get(crm.opening.from_lead("old", "Old", phone="+79120000001"))
    ann = crm.clients.register("Ann", ["+79120000002"], [], {})
    crm.clients.update(ann.id, "Ann", ["+79120000009"], [], {})  # releases ...02
    before = stored_count(crm)
    batch = [
        LeadToOpen("old", "Old", phone="+79120000001"),  # redelivered: opens nothing
        LeadToOpen("a", "A", phone="+7 912 000-00-01"),  # the known client's phone
        LeadToOpen("b", "B", phone="+79120000003", email="b@mail.ru"),  # a new client
        LeadToOpen("b", "B again", phone="+79120000004"),  # b twice: the first one counts
        LeadToOpen("c", "C", email="B@mail.ru"),  # b's new client, by e-mail
        LeadToOpen("d", "D", phone="+79120000002"),  # a released phone: a new client
    ]
    ids = crm.opening.from_leads(batch)
    assert ids == [Deal.create_id(lead.lead_id) for lead in batch]
    deals = {lead: crm.deals.get(Deal.create_id(lead)) for lead in ("old", "a", "b", "c", "d")}
    assert deals["old"].version == 1 and deals["old"].client_id == known.client_id
    assert deals["a"].client_id == known.client_id
    assert deals["b"].title == "B" and deals["c"].client_id == deals["b"].client_id
    assert len({deals[k].client_id for k in ("old", "b", "d")}) == 3
    d_client = crm.clients.get(UUID(deals["d"].client_id))
    assert d_client.phones == ["+79120000002"]
    assert crm.clients.by_contact("phone", "+79120000002") == str(d_client.id)
    assert crm.clients.by_contact("email", "b@mail.ru") == deals["b"].client_id
    # 4 deals, 2 clients, their 3 index entries (one claimed again), one counter event.
    assert stored_count(crm) == before + 4 + 2 + 3 + 1
    assert crm.opening.from_leads(batch) == ids and stored_count(crm) == before + 10


def test_the_read_model_and_relay_decode_only_the_events_they_use(crm):
    assert projection.has_rows(get_topic(Deal.Opened))
    assert projection.has_rows(get_topic(Deal.StageChanged))
    assert projection.has_rows(get_topic(Client.Registered))
    assert projection.has_rows(get_topic(Client.Updated))
    assert projection.has_rows(get_topic(PipelineDefinition.Defined))
    assert relayed(get_topic(Deal.Opened)) and relayed(get_topic(Client.Registered))
    for kept_inside in (ContactIndex.Claimed, ContactIndex.Released, Counter.Advanced):
        assert not projection.has_rows(get_topic(kept_inside))
        assert not relayed(get_topic(kept_inside))
    assert not relayed(get_topic(ManagerRoster.Added))
    # A topic that does not resolve is decoded, and fails there as it did.
    assert projection.has_rows("nowhere:Gone") and relayed("nowhere:Gone")

    read_model = ReadModel(crm.store)
    crm.opening.from_lead("a", "A", phone="+79120000001")
    ann = crm.clients.register("Ann", ["+79120000002"], ["ann@mail.ru"], {})
    crm.clients.update(ann.id, "Ann", ["+79120000003"], [], {})
    read_model.catch_up()
    with read_model.db.transaction(commit=False) as tx:
        rows = tx.execute("SELECT kind, value FROM dp_rm_contacts ORDER BY value")
    assert [(r["kind"], r["value"]) for r in rows] == [
        ("phone", "+79120000001"),
        ("phone", "+79120000003"),
    ]
