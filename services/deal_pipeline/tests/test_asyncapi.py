"""What the deal pipeline declares it publishes (the AsyncAPI catalogue) is what its relay can
publish: every contract class the event mapping builds; and how it takes its leads."""

from crm_contracts.envelope import Event
from crm_contracts.events import EVENT_TYPES
from deal_pipeline.adapters import event_mapping
from deal_pipeline.asyncapi import broker_for_docs
from deal_pipeline.handlers import RELAYED


def test_declared_publishers_are_the_mapped_events():
    mapped = {
        value
        for value in vars(event_mapping).values()
        if isinstance(value, type) and issubclass(value, Event) and value in EVENT_TYPES
    }
    assert set(RELAYED) == mapped


def test_broker_for_docs_declares_every_relayed_subject():
    from crm_contracts.catalogue import service_spec

    spec = service_spec("deal-pipeline", broker_for_docs())
    sent = {
        spec["channels"][key]["address"]
        for key, op in spec["operations"].items()
        if op["action"] == "send"
    }
    assert {cls.SUBJECT for cls in RELAYED} <= sent
    received = {
        spec["channels"][key]["address"]
        for key, op in spec["operations"].items()
        if op["action"] == "receive"
    }
    assert received == {"crm.leads.received"}


def test_the_leads_are_taken_as_each_fetch_brings_them():
    """A lone lead is opened at once, not held until a batch of 50 fills or its 1 s passes
    (crm_contracts.runtime.eager_batches)."""
    from crm_contracts.runtime.eager_batches import EagerBatchSubscriber

    (leads,) = broker_for_docs().subscribers
    assert isinstance(leads, EagerBatchSubscriber)
