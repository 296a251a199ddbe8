"""The HTTP API against a real nats-server: what is accepted is on the stream, once."""

import asyncio

import pytest
from fastapi.testclient import TestClient

from lead_intake.main import create_app
from lead_intake.settings import IntakeSettings
from tests.support.nats import stream_messages
from tests.support.net import wait_until


@pytest.fixture
def client(nats_server):
    app = create_app(IntakeSettings(nats_url=nats_server.url, publish_timeout=1.0))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="intake ready")
        yield client


def test_accepted_lead_is_on_the_stream_with_its_id_as_msg_id(client, nats_server):
    response = client.post(
        "/v1/leads",
        json={
            "name": "Ann",
            "phone": "+7 912 345 67 89",
            "landing_url": "https://x.ru/?utm_source=yandex&utm_medium=cpc",
        },
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    [message] = asyncio.run(stream_messages(nats_server.url))
    assert message.subject == "crm.leads.received"
    assert message.headers["Nats-Msg-Id"] == body["lead_id"]


def test_repeated_idempotency_key_returns_the_same_lead_and_publishes_once(client, nats_server):
    lead = {"email": "a@b.ru"}
    first = client.post("/v1/leads", json=lead, headers={"Idempotency-Key": "k-1"}).json()
    second = client.post("/v1/leads", json=lead, headers={"Idempotency-Key": "k-1"}).json()
    assert first["lead_id"] == second["lead_id"]
    assert len(asyncio.run(stream_messages(nats_server.url))) == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "Ann"}, "contact"),
        ({"email": "x"}, "email"),
        ({"email": "a@b.ru", "unknown": 1}, "unknown"),
        ({"email": "a@b.ru", "message": "x" * 6000}, "message"),
        ({"email": "a@b.ru", "form_id": "bad id!"}, "form_id"),
        ([1, 2], "body"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_publishes_nothing(client, nats_server, body, field):
    response = client.post("/v1/leads", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert asyncio.run(stream_messages(nats_server.url)) == []


def test_not_json_is_422_not_500(client):
    response = client.post(
        "/v1/leads", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_bus_down_is_503_with_a_reason(client, nats_server):
    nats_server.stop()
    response = client.post("/v1/leads", json={"email": "a@b.ru"})
    assert response.status_code == 503
    assert response.json()["error"] == "bus_unavailable"


def test_ops_endpoints(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["checks"] == {"nats": True}
    client.post("/v1/leads", json={"email": "a@b.ru"})
    metrics = client.get("/metrics").text
    assert 'crm_http_requests_total{method="POST",route="/v1/leads",status="202"}' in metrics
    assert "crm_publish_seconds" in metrics
