"""The use cases on in-memory fakes of their ports: fast, no NATS, no disk."""

from __future__ import annotations

import asyncio

import pytest

from crm_contracts.events import LeadReceived
from crm_contracts.runtime.errors import Invalid
from lead_intake.application.define_form import define_or_replace
from lead_intake.application.drain_spool import DrainSpool
from lead_intake.application.submit_lead import SubmitLead
from lead_intake.domain import LeadIn
from lead_intake.domain.forms import FormIn
from services.lead_intake.tests.fakes import FakeForms, FakeKeys, FakePublisher, FakeSpool
from services.lead_intake.tests.helpers import CONTACT_FORM


def submit_lead(publisher: FakePublisher, spool: FakeSpool, keys: FakeKeys) -> SubmitLead:
    return SubmitLead(publisher, spool, keys, phone_region="RU", publish_timeout=1.0)


def accept(use_case: SubmitLead, key: str | None = None, **fields: object):
    lead = LeadIn.model_validate({"email": "a@b.ru"} | fields)
    return asyncio.run(use_case.accept(lead, key, None))


def test_an_acked_lead_is_accepted_and_its_key_remembered():
    publisher, spool, keys = FakePublisher(), FakeSpool(), FakeKeys()
    outcome = accept(submit_lead(publisher, spool, keys), "k-1")
    assert (outcome.status, outcome.duplicate) == ("accepted", False)
    [event] = publisher.published
    assert event.lead_id == outcome.lead_id and event.contact.email == "a@b.ru"
    assert keys.keys == {"api/k-1": outcome.lead_id}
    assert spool.rows == []


def test_a_seen_key_answers_the_first_lead_without_publishing():
    publisher, keys = FakePublisher(), FakeKeys({"api/k-1": "the-first-lead"})
    outcome = accept(submit_lead(publisher, FakeSpool(), keys), "k-1")
    assert (outcome.lead_id, outcome.status, outcome.duplicate) == (
        "the-first-lead",
        "accepted",
        True,
    )
    assert publisher.published == []


def test_a_retry_after_a_lost_key_is_the_same_lead_and_a_duplicate():
    publisher, spool = FakePublisher(), FakeSpool()
    first = accept(submit_lead(publisher, spool, FakeKeys()), "k-1")
    retry = accept(submit_lead(publisher, spool, FakeKeys()), "k-1")  # the key was not stored
    assert retry.lead_id == first.lead_id and retry.duplicate is True
    assert len(publisher.published) == 1


@pytest.mark.parametrize("publisher", [FakePublisher(up=False), FakePublisher(fail=True)])
def test_without_an_ack_the_lead_is_spooled_with_its_key(publisher):
    spool, keys = FakeSpool(), FakeKeys()
    outcome = accept(submit_lead(publisher, spool, keys), "k-1")
    assert outcome.status == "queued" and publisher.published == []
    [row] = spool.rows
    assert (row.lead_id, row.idempotency_key) == (outcome.lead_id, "api/k-1")
    assert LeadReceived.model_validate_json(row.payload).lead_id == outcome.lead_id
    assert keys.keys == {}  # remembered only once the stream has it


def test_a_lead_without_contact_is_invalid_and_goes_nowhere():
    publisher, spool = FakePublisher(), FakeSpool()
    with pytest.raises(Invalid) as refused:
        accept(submit_lead(publisher, spool, FakeKeys()), email=None, name="Ann")
    assert refused.value.field == "contact"
    assert publisher.published == [] and spool.rows == []


def spooled(count: int) -> tuple[FakeSpool, list[str]]:
    spool = FakeSpool()
    queued = submit_lead(FakePublisher(up=False), spool, FakeKeys())
    ids = [accept(queued, f"k-{n}").lead_id for n in range(count)]
    return spool, ids


def test_the_drain_publishes_in_spool_order_and_removes_after_the_ack():
    spool, ids = spooled(3)
    publisher, keys = FakePublisher(), FakeKeys()
    drained = asyncio.run(DrainSpool(spool, publisher, keys, timeout=1.0, batch=2).once())
    assert drained == 2
    assert [e.lead_id for e in publisher.published] == ids[:2]
    assert [row.lead_id for row in spool.rows] == ids[2:]
    assert keys.keys == {"api/k-0": ids[0], "api/k-1": ids[1]}


def test_the_drain_drops_a_row_whose_submission_got_through_meanwhile():
    spool, ids = spooled(2)
    publisher = FakePublisher()
    keys = FakeKeys({"api/k-0": ids[0]})
    assert asyncio.run(DrainSpool(spool, publisher, keys, 1.0, 10).once()) == 1
    assert [e.lead_id for e in publisher.published] == [ids[1]]
    assert spool.rows == []


def test_a_failed_publish_stops_the_drain_and_keeps_the_order():
    spool, ids = spooled(2)
    with pytest.raises(TimeoutError):
        asyncio.run(DrainSpool(spool, FakePublisher(fail=True), FakeKeys(), 1.0, 10).once())
    assert [row.lead_id for row in spool.rows] == ids


def test_redefining_a_form_keeps_its_public_key_unless_a_new_one_is_given():
    forms = FakeForms()
    body = FormIn.model_validate(CONTACT_FORM | {"public_key": None})
    first = asyncio.run(define_or_replace(forms, "contact", body))
    edited = asyncio.run(
        define_or_replace(forms, "contact", body.model_copy(update={"title": "New"}))
    )
    assert edited.public_key == first.public_key and forms.forms["contact"].title == "New"
    renewed = asyncio.run(
        define_or_replace(forms, "contact", body.model_copy(update={"public_key": "another-key-1"}))
    )
    assert renewed.public_key == "another-key-1"
