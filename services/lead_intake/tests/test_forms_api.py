"""Operator API for forms: behind X-API-Key, stored in NATS KV (seen by a fresh process)."""

from fastapi.testclient import TestClient

from lead_intake.main import create_app
from services.lead_intake.tests.helpers import CONTACT_FORM, OPERATOR, on_the_bus
from tests.support.net import wait_until


def test_forms_need_the_api_key(client):
    assert client.get("/v1/forms").status_code == 401
    wrong = client.put("/v1/forms/x", json=CONTACT_FORM, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403
    assert wrong.json()["errors"] == [{"field": "X-API-Key", "reason": "wrong key"}]


def test_put_get_list_delete(client):
    created = client.put(
        "/v1/forms/contact", json=CONTACT_FORM | {"public_key": None}, headers=OPERATOR
    )
    assert created.status_code == 200
    key = created.json()["public_key"]
    assert len(key) >= 16  # generated
    edited = client.put(
        "/v1/forms/contact",
        json=CONTACT_FORM | {"public_key": None, "title": "New"},
        headers=OPERATOR,
    ).json()
    assert edited["public_key"] == key and edited["title"] == "New"  # the key is kept
    assert client.get("/v1/forms/contact", headers=OPERATOR).json()["title"] == "New"
    assert [f["form_id"] for f in client.get("/v1/forms", headers=OPERATOR).json()] == ["contact"]
    assert client.delete("/v1/forms/contact", headers=OPERATOR).status_code == 204
    assert client.get("/v1/forms/contact", headers=OPERATOR).status_code == 404
    assert client.delete("/v1/forms/contact", headers=OPERATOR).status_code == 404
    assert client.get("/v1/forms", headers=OPERATOR).json() == []


def test_forms_are_data_in_nats_kv_shared_by_processes(client, settings, contact_form):
    with TestClient(create_app(settings)) as other:
        wait_until(lambda: on_the_bus(other.get), what="second intake on NATS")
        assert other.get("/v1/forms/contact", headers=OPERATOR).json() == contact_form


def test_bad_definitions_are_422_naming_the_field(client):
    def put(**changes) -> list:
        response = client.put("/v1/forms/f1", json=CONTACT_FORM | changes, headers=OPERATOR)
        assert response.status_code == 422, response.text
        return [e["field"] for e in response.json()["errors"]]

    assert "fields.0.type" in put(fields=[{"name": "x", "type": "date"}])
    assert "fields.0" in put(fields=[{"name": "phone", "type": "string"}])
    assert "fields.0" in put(fields=[{"name": "utm_source"}])
    assert "fields.0" in put(fields=[{"name": "size", "type": "choice"}])
    assert "allowed_origins" in put(allowed_origins=["shop.example"])
    assert "thank_you_url" in put(thank_you_url="not a url")
    bad_id = client.put("/v1/forms/a.b", json=CONTACT_FORM, headers=OPERATOR)
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "form_id"
