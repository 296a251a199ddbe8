import uuid
from datetime import UTC, datetime

import pytest

from crm_contracts.events import Touch
from crm_contracts.runtime.errors import Invalid
from lead_intake.domain import LeadIn, build_lead_received, lead_id_for
from lead_intake.domain.leads import TouchIn

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def build(**fields):
    return build_lead_received(LeadIn(**fields), uuid.uuid4(), NOW, "RU")


def test_phone_to_e164_and_email_lower_cased():
    lead = build(phone="8 (912) 345-67-89", email="  Ann@Example.COM ")
    assert lead.contact.phone == "+79123456789"
    assert lead.contact.email == "ann@example.com"


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "not a phone"}, "phone"),
        ({"email": "nobody@"}, "email"),
        ({"name": "Ann"}, "contact"),
    ],
)
def test_bad_contacts_name_the_field(fields, field):
    with pytest.raises(Invalid) as error:
        build(**fields)
    assert error.value.field == field


def test_utm_and_click_ids_parsed_from_landing_url_when_fields_absent():
    lead = build(
        email="a@b.ru",
        utm_source="vk",
        landing_url="https://shop.ru/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring&yclid=9",
    )
    assert lead.touch.utm_source == "vk"  # the field wins over the URL
    assert (lead.touch.utm_medium, lead.touch.utm_campaign, lead.touch.yclid) == (
        "cpc",
        "spring",
        "9",
    )
    assert lead.touch.at == NOW


def test_referer_header_fills_missing_referrer():
    lead = build_lead_received(
        LeadIn(email="a@b.ru"), uuid.uuid4(), NOW, "RU", referer_header="https://google.com/"
    )
    assert lead.touch.referrer == "https://google.com/"


def test_first_touch_is_kept():
    lead = build(email="a@b.ru", first_touch={"utm_source": "google", "at": "2026-10-01T10:00:00Z"})
    assert lead.first_touch.utm_source == "google"
    assert lead.first_touch.at == datetime(2026, 10, 1, 10, tzinfo=UTC)


def test_idempotency_key_gives_the_same_lead_id():
    assert lead_id_for("f", "key-1") == lead_id_for("f", "key-1")
    assert lead_id_for("f", "key-1") != lead_id_for("g", "key-1")
    assert lead_id_for("f", None) != lead_id_for("f", None)


def test_event_carries_lead_id_as_event_id_and_correlation():
    lead_id = uuid.uuid4()
    event = build_lead_received(LeadIn(email="a@b.ru"), lead_id, NOW, "RU")
    assert event.event_id == lead_id
    assert event.correlation_id == event.lead_id == event.aggregate_id == str(lead_id)


def test_every_touch_field_of_the_contract_is_read_from_the_forms_touch():
    # touch_from reads each contract field from TouchIn by name: a field added to the
    # contract's Touch alone would fail every lead.
    assert set(Touch.model_fields) <= set(TouchIn.model_fields)
