"""The event and refusal built for a lead are what intake built before its quick paths (phone
and landing URL through the libraries alone), byte for byte, over many generated leads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from crm_contracts.runtime.errors import Invalid
from lead_intake.domain import LeadIn, build_lead_received
from lead_intake.domain import leads as domain
from services.lead_intake.tests import reference

LEAD_ID = uuid.UUID("63c5f4c9-d0da-53c6-bee2-7aa12b2a1391")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

phones = st.one_of(
    st.builds(lambda d: f"+7916{d}", st.text("0123456789", min_size=5, max_size=9)),
    st.builds(lambda d: f"+7 916 {d[:3]}-{d[3:5]}-{d[5:]}", st.text("0123456789", max_size=8)),
    st.builds(lambda d: f"8 (916) {d}", st.text("0123456789", max_size=8)),
    st.text("+0123456789 -()", max_size=20),
)
queries = st.lists(
    st.sampled_from(
        ["utm_source=ya", "utm_medium=cpc", "utm_campaign=a+b", "gclid=g%201", "yclid=", "x"]
        + ["fbclid=f", "utm_term=к", "utm_content=c=d", "", "utm_source=second"]
    ),
    max_size=6,
).map("&".join)
landing_urls = st.one_of(
    st.none(),
    st.builds(lambda q, f: f"https://shop.example/p?{q}{f}", queries, st.sampled_from(["", "#f"])),
    st.builds(lambda q: f"https://[::1/?{q}", queries),
    st.text(max_size=30),
)


def outcome(fields: dict[str, object], referer: str | None) -> str:
    try:
        lead = LeadIn(**fields)
    except ValidationError:
        return "refused by the model"
    try:
        return build_lead_received(lead, LEAD_ID, NOW, "RU", referer).model_dump_json()
    except Invalid as refusal:
        return f"{refusal.field}: {refusal}"


@settings(max_examples=1500, deadline=None)
@given(
    phone=st.one_of(st.none(), phones),
    email=st.sampled_from([None, "Ann@Example.COM", "bad@"]),
    landing_url=landing_urls,
    utm_source=st.sampled_from([None, "google"]),
    referer=st.sampled_from([None, "https://ref.example/"]),
)
def test_the_event_is_the_one_built_through_the_libraries(
    phone, email, landing_url, utm_source, referer
):
    fields = {"phone": phone, "email": email, "landing_url": landing_url, "utm_source": utm_source}
    fields = {name: value for name, value in fields.items() if value is not None}
    quick = outcome(fields, referer)
    with (
        mock.patch.object(domain, "normalise_phone", reference.normalise_phone),
        mock.patch.object(domain, "first_values", reference.first_values),
    ):
        assert quick == outcome(fields, referer)
