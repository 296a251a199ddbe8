"""Analysts get hashed contact identifiers, never raw phones and e-mails (docs/operations.md)."""

import json
from datetime import UTC, datetime

import pytest

from analytics.domain.hashing import ScrubPlan, contact_hash, mask_contacts, scrub, scrub_plan
from crm_contracts.events import BY_TYPE, ClientRegistered, ClientUpdated
from crm_contracts.examples import example_of
from services.analytics.tests.history import lead
from services.analytics.tests.reports_support import load

AT = datetime(2026, 3, 1, tzinfo=UTC)
TABLES = ("events", "leads", "touchpoints", "clients", "deals", "payments")


def test_no_table_holds_a_raw_phone_email_or_client_name(clickhouse):
    received = lead("l1", AT, email="Ann.Petrova@Mail.ru")
    received = received.model_copy(
        update={
            "contact": received.contact.model_copy(
                update={"phone": "+79123456789", "name": "Ann Petrova"}
            )
        }
    )
    registered = ClientRegistered(
        aggregate_id="c1",
        producer="t",
        occurred_at=AT,
        client_id="c1",
        name="Ann Petrova",
        phone="+79123456789",
        email="ann.petrova@mail.ru",
    )
    updated = ClientUpdated(
        aggregate_id="c1",
        aggregate_version=2,
        producer="t",
        occurred_at=AT,
        client_id="c1",
        name="Ann Petrova",
        phones=["+79123456789"],
        emails=["ann.petrova@mail.ru"],
    )
    load(clickhouse, [received, registered, updated])
    for table in TABLES:
        for needle in ("9123456789", "ann.petrova", "Ann Petrova", "Ann.Petrova"):
            rows = clickhouse.rows(
                f"SELECT count() AS n FROM {{db}}.{table} "
                f"WHERE positionCaseInsensitive(toString(tuple(*)), {{needle:String}}) > 0",
                {"needle": needle},
            )
            assert rows == [{"n": 0}], (table, needle)
    # The same search does find what is there (so the zeros above mean something).
    found = clickhouse.rows(
        "SELECT count() AS n FROM {db}.events "
        "WHERE positionCaseInsensitive(toString(tuple(*)), 'client.updated') > 0"
    )
    assert found == [{"n": 1}]
    leads = clickhouse.rows("SELECT email_hash, phone_hash FROM {db}.leads")
    assert leads == [
        {
            "email_hash": contact_hash("ann.petrova@mail.ru", "dev-salt"),
            "phone_hash": contact_hash("+79123456789", "dev-salt"),
        }
    ]
    clients = clickhouse.rows("SELECT email_hashes FROM {db}.clients FINAL")
    assert clients == [{"email_hashes": [contact_hash("ann.petrova@mail.ru", "dev-salt")]}]


def test_scrub_keeps_everything_else():
    data = {
        "event_type": "lead.received",
        "contact": {"name": "Ann", "email": "a@b.ru"},
        "touch": {"utm_source": "google"},
        "message": "hi",
    }
    assert scrub(data, "s") == {
        "event_type": "lead.received",
        "contact": {"email_hash": contact_hash("a@b.ru", "s")},
        "touch": {"utm_source": "google"},
        "message": "hi",
    }


def test_a_known_events_typed_fields_are_kept_and_its_text_is_still_masked():
    deal_id = "12345678-1234-4234-9234-123456789012"  # all-digit runs: shaped like a phone
    data = {
        "event_type": "deal.opened",
        "event_id": deal_id,
        "deal_id": deal_id,
        "occurred_at": "2026-03-01T07:00:00Z",
        "amount": "1234567890.00",
        "title": "call +7 912 345-67-89",
        "manager_id": "79123456789",
    }
    scrubbed = scrub(data, "s", known=True)
    assert {k: scrubbed[k] for k in ("event_id", "deal_id", "occurred_at", "amount")} == {
        k: data[k] for k in ("event_id", "deal_id", "occurred_at", "amount")
    }
    assert "912" not in scrubbed["title"] and "912" not in scrubbed["manager_id"]
    # An event of a type this version does not know: every string is treated as text.
    assert scrub(data, "s")["occurred_at"] != data["occurred_at"]


def test_contacts_inside_titles_messages_and_custom_fields_are_masked(clickhouse):
    from services.analytics.tests.history import DealStory

    received = lead("l2", AT, email="bob@mail.ru")
    received = received.model_copy(
        update={
            "message": "call me at +7 912 345-67-89 or bob@mail.ru",
            "custom_fields": {"mobile": "+79123456789", "product": "sofa"},
        }
    )
    story = DealStory("d2", AT, "10", lead_id="l2")
    story.events[0] = story.events[0].model_copy(update={"title": "bob@mail.ru (contact)"})
    load(clickhouse, [received, *story.events])
    for table in ("events", "deals", "fold_events"):
        for needle in ("bob@mail.ru", "9123456789", "912 345"):
            rows = clickhouse.rows(
                f"SELECT count() AS n FROM {{db}}.{table} "
                f"WHERE positionCaseInsensitive(toString(tuple(*)), {{needle:String}}) > 0",
                {"needle": needle},
            )
            assert rows == [{"n": 0}], (table, needle)
    [deal] = clickhouse.rows("SELECT title FROM {db}.deals FINAL")
    assert deal["title"].endswith(" (contact)") and deal["title"].startswith("[")
    assert clickhouse.rows(
        "SELECT count() AS n FROM {db}.events WHERE positionCaseInsensitive(payload, 'sofa') > 0"
    ) == [{"n": 1}]


@pytest.mark.parametrize("event_type", sorted(BY_TYPE))
def test_the_plan_of_a_known_event_scrubs_as_scrub_does(event_type):
    # Every string the plan does not prove typed carries a phone and an e-mail: the plan must
    # mask, hash and drop exactly what `scrub` does. Its typed fields (validated ids, times,
    # amounts, dates, literals) are kept as they are; `scrub` took a date for a phone.
    model = BY_TYPE[event_type]
    plan = scrub_plan(model)
    data = with_contacts(example_of(model), plan)
    planned = plan.apply(data, "s")
    expected = scrub(data, "s", known=True)
    assert planned == kept(expected, planned, plan)
    assert "ann@mail.ru" not in json.dumps(planned, ensure_ascii=False)
    assert "345-67-89" not in json.dumps(planned, ensure_ascii=False)


def with_contacts(data: dict, plan: ScrubPlan) -> dict:
    def salted(value: object) -> object:
        if isinstance(value, str):
            return f"{value} +7 912 345-67-89 ann@mail.ru"
        if isinstance(value, list):
            return [salted(v) for v in value]
        if isinstance(value, dict):
            return {k: salted(v) for k, v in value.items()}
        return value

    return {
        k: v
        if k in plan.keep
        else with_contacts(v, plan.nested[k])
        if k in plan.nested and isinstance(v, dict)
        else salted(v)
        for k, v in data.items()
    }


def kept(expected: dict, planned: dict, plan: ScrubPlan) -> dict:
    """`scrub`'s result with the plan's typed fields as the plan keeps them."""
    out = dict(expected)
    for key in plan.keep & planned.keys():
        out[key] = planned[key]
    for key, inner in plan.nested.items():
        if isinstance(out.get(key), dict):
            out[key] = kept(out[key], planned[key], inner)
    return out


def test_a_number_field_sent_as_a_string_and_an_unknown_key_are_treated_as_text():
    # Lax validation takes "79123456789" for an int; a key the model does not have was never
    # validated, whatever its name says.
    data = example_of(BY_TYPE["deal.stage_changed"]) | {
        "aggregate_version": "79123456789",
        "callback_at": "+7 912 345-67-89",
        "note": "79123456-7890-aaaa-bbbb-ccccccccccc0",
    }
    scrubbed = scrub_plan(BY_TYPE["deal.stage_changed"]).apply(data, "s")
    dumped = json.dumps(scrubbed)
    assert "79123456789" not in dumped and "345-67-89" not in dumped
    assert scrubbed["note"] != data["note"]  # not a field: even an id-shaped text is masked


def clean_example(model: type, plan: ScrubPlan) -> dict:
    """An example of the type with nothing to scrub: no contact, no name; its own texts
    kept when they hold no contact, else a plain word."""
    data = example_of(model)

    def cleaned(value: object, inner: ScrubPlan) -> object:
        if isinstance(value, dict):
            return {
                k: cleaned(v, inner.nested.get(k, inner))
                for k, v in value.items()
                if k in inner.plain
            }
        if isinstance(value, str) and mask_contacts(value, "s") != value:
            return "plain"
        return value

    return cleaned(data, plan)  # type: ignore[return-value]


@pytest.mark.parametrize("event_type", sorted(BY_TYPE))
def test_a_payload_with_nothing_to_scrub_is_given_back_as_it_is(event_type):
    # The raw table then stores the event's own JSON, made once for both tables.
    model = BY_TYPE[event_type]
    plan = scrub_plan(model)
    data = clean_example(model, plan)
    assert plan.apply(data, "s") is data


@pytest.mark.parametrize("event_type", sorted(BY_TYPE))
def test_one_contact_anywhere_is_scrubbed_as_scrub_does(event_type):
    # Each text of a payload with nothing else to scrub, and each number sent as a string,
    # in turn holds a contact: the quick look must not give the payload back as it is.
    model = BY_TYPE[event_type]
    plan = scrub_plan(model)
    data = clean_example(model, plan)
    for key in (*plan.text, *plan.numbers, "phone", "unknown_key"):
        salted = data | {key: "call +7 912 345-67-89"}
        planned = plan.apply(salted, "s")
        assert planned is not salted, key
        assert "345-67-89" not in json.dumps(planned), key
        assert planned == kept(scrub(salted, "s", known=True), planned, plan), key
    for key, inner in plan.nested.items():
        if not isinstance(data.get(key), dict):
            continue
        for inner_key in (*inner.text, "phone"):
            salted = data | {key: data[key] | {inner_key: "ann@mail.ru +7 912 345-67-89"}}
            planned = plan.apply(salted, "s")
            assert planned is not salted, (key, inner_key)
            dumped = json.dumps(planned)
            assert "ann@mail.ru" not in dumped and "345-67-89" not in dumped, (key, inner_key)
