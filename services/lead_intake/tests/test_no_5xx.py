"""Generated input finds no 5xx: schemathesis over the OpenAPI spec of a real intake process,
and hypothesis over the fields of a real form."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lead_intake.main import create_app
from lead_intake.settings import IntakeSettings
from services.lead_intake.tests.helpers import (
    API_KEY,
    CONTACT_FORM,
    OPERATOR,
    ORIGIN,
    wait_on_the_bus,
)
from tests.support.fuzz import no_input_gets_a_server_error
from tests.support.nats import NatsServer
from tests.support.services import ServiceProcess

FORM_KEY = CONTACT_FORM["public_key"]


def spec() -> dict:
    """The OpenAPI document of the app (building it touches no network)."""
    with tempfile.TemporaryDirectory() as data:
        return create_app(IntakeSettings(data_dir=Path(data))).openapi()


@pytest.fixture(scope="module")
def intake_url(tmp_path_factory):
    """A real intake process with the contact form, rate limits out of the way."""
    data = tmp_path_factory.mktemp("schemathesis")
    nats = NatsServer(data / "jetstream").start()
    proc = ServiceProcess(
        "lead_intake",
        {
            "LEAD_INTAKE_NATS_URL": nats.url,
            "LEAD_INTAKE_DATA_DIR": str(data / "intake"),
            "LEAD_INTAKE_API_KEY": API_KEY,
            "LEAD_INTAKE_INTEGRATION_API_KEY": API_KEY,  # one key reaches every operation
            "LEAD_INTAKE_RATE_BURST_PER_IP": "1000000",
            "LEAD_INTAKE_RATE_BURST_PER_FORM": "1000000",
        },
        data / "intake.log",
    ).start()
    try:
        proc.wait_ready()
        wait_on_the_bus(proc.url)
        httpx.put(f"{proc.url}/v1/forms/contact", json=CONTACT_FORM, headers=OPERATOR)
        yield proc.url
    finally:
        proc.stop()
        nats.stop()


def test_generated_requests_get_no_5xx(intake_url):
    def steer_to_the_form(case, turns) -> None:
        if "form_id" in (case.path_parameters or {}) and next(turns) % 2:
            case.path_parameters["form_id"] = "contact"  # half the time a form that exists

    no_input_gets_a_server_error(
        spec(),
        base_url=intake_url,
        headers=OPERATOR | {"Origin": ORIGIN},
        at_least=8,
        examples=60,
        prepare=steer_to_the_form,
    )


@pytest.fixture
def form_client(client, parts):
    client.put("/v1/forms/contact", json=CONTACT_FORM, headers=OPERATOR)
    parts.per_ip.limiter.burst = parts.per_form.limiter.burst = 1_000_000
    return client


text = st.text(max_size=300)
names = st.sampled_from(
    [
        "name",
        "phone",
        "email",
        "city",
        "budget",
        "consent",
        "product",
        "utm_source",
        "landing_url",
        "referrer",
        "first_at",
        "first_landing_url",
        "_submission_id",
        "other",
    ]
)


@given(values=st.dictionaries(names, text, max_size=14))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_field_values_are_a_lead_or_a_422(form_client, values):
    """With the right key and a human fill time, a submission is accepted or refused with a
    reason: never a 500, never an error without a field."""
    rendered = str(int((time.time() - 10) * 1000))
    response = form_client.post(
        "/v1/forms/contact/submit",
        data=values | {"_form_key": FORM_KEY, "_rendered_at": rendered},
        headers={"Origin": ORIGIN, "Accept": "application/json"},
    )
    assert response.status_code in (202, 422), response.text
    if response.status_code == 422:
        assert all(e["field"] and e["reason"] for e in response.json()["errors"])


@given(
    body=st.binary(max_size=2000),
    media=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "application/json"]
    ),
)
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_bytes_are_answered_with_a_4xx_or_success(form_client, body, media):
    response = form_client.post(
        "/v1/forms/contact/submit",
        content=body,
        headers={"Origin": ORIGIN, "Accept": "application/json", "Content-Type": media},
    )
    assert response.status_code < 500, response.text
