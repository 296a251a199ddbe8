"""The JSON API against a real nats-server: what is accepted is on the stream, once."""

import pytest
from prometheus_client import REGISTRY

from services.lead_intake.tests.helpers import (
    INTEGRATION,
    lead_events,
    leads_on_stream,
    on_the_bus,
)
from tests.support.net import wait_until


def test_accepted_lead_is_on_the_stream_with_its_id_as_msg_id(client, nats_server):
    response = client.post(
        "/v1/leads",
        json={
            "name": "Ann",
            "phone": "+7 912 345 67 89",
            "source": "call",
            "landing_url": "https://x.ru/?utm_source=yandex&utm_medium=cpc",
            "first_touch": {"utm_source": "google", "at": "2026-10-01T10:00:00Z"},
        },
        headers=INTEGRATION,
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    [message] = leads_on_stream(nats_server.url)
    assert message.headers["Nats-Msg-Id"] == body["lead_id"]
    [event] = lead_events(nats_server.url)
    assert event["source"] == "call"
    assert event["contact"]["phone"] == "+79123456789"
    assert (event["touch"]["utm_source"], event["touch"]["utm_medium"]) == ("yandex", "cpc")
    assert event["first_touch"]["utm_source"] == "google"


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"Idempotency-Key": "k-1"}, {"email": "a@b.ru"}),
        ({}, {"email": "a@b.ru", "submission_id": "s-1"}),
    ],
)
def test_a_repeated_submission_is_the_same_lead_and_published_once(
    client, nats_server, headers, body
):
    first = client.post("/v1/leads", json=body, headers=INTEGRATION | headers).json()
    second = client.post("/v1/leads", json=body, headers=INTEGRATION | headers).json()
    assert first["lead_id"] == second["lead_id"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert len(leads_on_stream(nats_server.url)) == 1


def test_idempotency_survives_a_restart_of_the_service(settings, nats_server):
    from fastapi.testclient import TestClient

    from lead_intake.main import create_app

    def post() -> dict:
        with TestClient(create_app(settings)) as client:
            wait_until(lambda: on_the_bus(client.get), what="on NATS")
            return client.post(
                "/v1/leads",
                json={"email": "a@b.ru"},
                headers=INTEGRATION | {"Idempotency-Key": "r-1"},
            ).json()

    first, second = post(), post()
    assert first["lead_id"] == second["lead_id"] and second["duplicate"] is True
    assert len(leads_on_stream(nats_server.url)) == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "Ann"}, "contact"),
        ({"email": "x"}, "email"),
        ({"email": "a@b.ru", "unknown": 1}, "unknown"),
        ({"email": "a@b.ru", "message": "x" * 6000}, "message"),
        ({"email": "a@b.ru", "form_id": "bad id!"}, "form_id"),
        ([1, 2], "body"),
        ({"email": "a@b.ru", "at": "2026-01-01T00:00:00"}, "at"),
        ({"email": "a@b.ru", "first_touch": {"at": "2026-01-01T00:00:00"}}, "first_touch.at"),
        # PostgreSQL cannot store a NUL downstream: refused here, in any text, nested ones too.
        ({"email": "a@b.ru", "name": "A\x00nn"}, "name"),
        ({"email": "a@b.ru", "custom_fields": {"city": "Omsk\x00"}}, "custom_fields"),
        ({"email": "a@b.ru", "first_touch": {"utm_source": "\x00"}}, "first_touch.utm_source"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_publishes_nothing(client, nats_server, body, field):
    response = client.post("/v1/leads", json=body, headers=INTEGRATION)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert leads_on_stream(nats_server.url) == []


def test_not_json_is_422_not_500(client):
    response = client.post(
        "/v1/leads",
        content=b"{not json",
        headers=INTEGRATION | {"content-type": "application/json"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"email": "a@b.ru" "name": "Bob"}', "line 1, column 20"),
        (b'{\n  "email": "a@b.ru",\n  "name": "Bob",\n}', "line 4, column 1"),
    ],
)
def test_malformed_json_names_the_body_and_the_line_and_column(client, nats_server, raw, where):
    response = client.post(
        "/v1/leads", content=raw, headers=INTEGRATION | {"content-type": "application/json"}
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert error["reason"].startswith(f"invalid JSON at {where}: ")
    assert leads_on_stream(nats_server.url) == []


def test_body_over_the_limit_is_413_and_other_content_types_415(client):
    big = client.post(
        "/v1/leads",
        content=b'{"email": "a@b.ru", "message": "' + b"x" * 70_000 + b'"}',
        headers=INTEGRATION | {"content-type": "application/json"},
    )
    assert big.status_code == 413
    assert big.json()["errors"] == [{"field": "body", "reason": "over 65536 bytes"}]
    xml = client.post(
        "/v1/leads", content=b"<lead/>", headers=INTEGRATION | {"content-type": "text/xml"}
    )
    assert xml.status_code == 415
    assert xml.json()["errors"][0]["field"] == "content-type"


def test_ops_endpoints_and_metrics(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["checks"] == {
        "nats": True,
        "spool": {"ok": True, "depth": 0},
    }
    client.post("/v1/leads", json={"email": "a@b.ru"}, headers=INTEGRATION)
    client.post("/v1/leads", json={"name": "no contact"}, headers=INTEGRATION)
    metrics = client.get("/metrics").text
    assert 'crm_http_requests_total{method="POST",route="/v1/leads",status="202"}' in metrics
    assert "crm_publish_seconds_count" in metrics
    for line in (
        'crm_intake_received_total{endpoint="leads"}',
        'crm_intake_accepted_total{status="accepted"}',
        'crm_intake_rejected_total{reason="validation_failed"}',
        "crm_intake_spool_depth 0.0",
    ):
        assert line in metrics


def test_integrations_need_the_key(client, nats_server):
    assert client.post("/v1/leads", json={"email": "a@b.ru"}).status_code == 401
    wrong = client.post("/v1/leads", json={"email": "a@b.ru"}, headers={"X-API-Key": "no"})
    assert wrong.status_code == 403
    assert leads_on_stream(nats_server.url) == []


def test_intake_stays_ready_while_nats_is_down_and_its_spool_works(client, nats_server):
    nats_server.stop()
    wait_until(lambda: not on_the_bus(client.get), what="intake to notice NATS is gone")
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"] == {"nats": False, "spool": {"ok": True, "depth": 0}}
    queued = client.post("/v1/leads", json={"email": "a@b.ru"}, headers=INTEGRATION)
    assert queued.json()["status"] == "queued"


def test_intake_is_unready_when_its_spool_is_unusable(client, parts):
    parts.spool.close()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["spool"]["ok"] is False


def test_main_counts_refused_submissions_only(client):
    def rejected(reason: str) -> float:
        value = REGISTRY.get_sample_value("crm_intake_rejected_total", {"reason": reason})
        return value or 0.0

    reasons = ("unsupported_media_type", "unauthorized", "http_error")
    before = {reason: rejected(reason) for reason in reasons}
    xml = {"content-type": "text/xml"}
    assert client.post("/v1/leads", content=b"<a/>", headers=INTEGRATION | xml).status_code == 415
    assert client.post("/v1/leads", json={"email": "a@b.ru"}).status_code == 401
    assert client.get("/v1/nothing-here").status_code == 404
    after = {reason: rejected(reason) for reason in reasons}
    assert after == before | {"unsupported_media_type": before["unsupported_media_type"] + 1}
