"""A kill -9 between JetStream's ack and storing the idempotency key: the client's retry is
the same lead, and the stream holds it once."""

from __future__ import annotations

import httpx
import pytest

from services.lead_intake.tests.helpers import (
    CONTACT_FORM,
    INTEGRATION,
    ORIGIN,
    leads_on_stream,
    wait_on_the_bus,
)
from tests.support.services import ServiceProcess


@pytest.fixture
def intake(nats_server, tmp_path):
    proc = ServiceProcess(
        "lead_intake",
        {
            "LEAD_INTAKE_NATS_URL": nats_server.url,
            "LEAD_INTAKE_DATA_DIR": str(tmp_path / "intake"),
            "LEAD_INTAKE_API_KEY": "k",
            "LEAD_INTAKE_MIN_FILL_SECONDS": "0",
        },
        tmp_path / "intake.log",
    )
    yield proc
    proc.stop()


def start(proc: ServiceProcess) -> None:
    proc.start().wait_ready()
    wait_on_the_bus(proc.url)


def json_lead(url: str) -> httpx.Response:
    headers = INTEGRATION | {"Idempotency-Key": "crash-1"}
    return httpx.post(f"{url}/v1/leads", json={"email": "a@b.ru"}, headers=headers, timeout=10)


def form_lead(url: str) -> httpx.Response:
    data = {"phone": "+79123456789", "consent": "on", "_form_key": CONTACT_FORM["public_key"]}
    headers = {"Origin": ORIGIN, "Accept": "application/json"}
    return httpx.post(
        f"{url}/v1/forms/contact/submit",
        data=data | {"_submission_id": "sub-1"},
        headers=headers,
        timeout=10,
    )


@pytest.mark.parametrize("post", [json_lead, form_lead])
def test_a_retry_after_a_crash_between_ack_and_key_is_the_same_lead(intake, nats_server, post):
    start(intake)
    put = httpx.put(f"{intake.url}/v1/forms/contact", json=CONTACT_FORM, headers={"X-API-Key": "k"})
    assert put.status_code == 200
    intake.stop()
    intake.env["LEAD_INTAKE_TEST_CRASH_AFTER_PUBLISH"] = "1"
    start(intake)
    with pytest.raises(httpx.TransportError):  # the process died before answering
        post(intake.url)
    assert intake.process.wait(timeout=20) == 137
    intake.process = None

    del intake.env["LEAD_INTAKE_TEST_CRASH_AFTER_PUBLISH"]
    start(intake)
    retry, again = post(intake.url), post(intake.url)
    assert retry.status_code == again.status_code == 202, retry.text
    [message] = leads_on_stream(nats_server.url)  # published before the crash, not again
    assert retry.json()["lead_id"] == message.headers["Nats-Msg-Id"] == again.json()["lead_id"]
    if post is json_lead:
        assert retry.json()["duplicate"] is again.json()["duplicate"] is True
