"""Refusals over HTTP on fakes of the ports (no NATS): the shared body, the CORS headers a page
needs to read why it was refused, and which refusals `crm_intake_rejected_total` counts; with
and without the form fast path."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from lead_intake.domain.abuse import RateLimiter
from lead_intake.domain.forms import FormIn, define_form
from services.lead_intake.tests.fake_app import INTEGRATION_KEY, MAX_BYTES, OPERATOR_KEY, fake_app
from services.lead_intake.tests.fakes import FakeForms
from services.lead_intake.tests.helpers import CONTACT_FORM, ORIGIN

CORS = {"access-control-allow-origin": ORIGIN, "vary": "Origin"}
SUBMIT = "/v1/forms/contact/submit"
JSON = {"Origin": ORIGIN, "Accept": "application/json"}


@pytest.fixture
def forms() -> FakeForms:
    return FakeForms({"contact": define_form("contact", FormIn.model_validate(CONTACT_FORM))})


@pytest.fixture
def per_form() -> RateLimiter:
    return RateLimiter(per_minute=600, burst=1000)


@pytest.fixture(params=["stack", "fast path"])
def client(request, forms, per_form):
    """The routers as `main` wires them, on fakes; form posts answered by the route, or by the
    form fast path (each refusal alike either way)."""
    app, _ = fake_app(forms, per_form, fast=request.param == "fast path")
    return TestClient(app)


def fields(**extra: str | None) -> dict[str, str]:
    base = {"phone": "+7 912 345-67-89", "consent": "on", "_form_key": "public-key-123"}
    return {k: v for k, v in (base | extra).items() if v is not None}


def rejected() -> dict[str, float]:
    return {
        sample.labels["reason"]: sample.value
        for metric in REGISTRY.collect()
        if metric.name == "crm_intake_rejected"
        for sample in metric.samples
        if sample.name == "crm_intake_rejected_total"
    }


def counted(before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in rejected().items() if v != before.get(k, 0.0)}


def test_a_valid_submission_passes(client):
    response = client.post(SUBMIT, data=fields(), headers=JSON)
    assert response.status_code == 202, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize(
    "kwargs, status, error, field",
    [
        ({"data": fields(_form_key="wrong")}, 403, "wrong_form_key", "_form_key"),
        ({"data": fields(phone="12")}, 422, "validation_failed", "phone"),
        ({"data": fields(phone=None)}, 422, "validation_failed", "contact"),  # from the use case
        ({"content": b"{", "headers": {"Content-Type": "application/json"}}, 400,
         "malformed_body", "body"),
        ({"json": fields() | {"name": ["a"]}}, 422, "validation_failed", "name"),
    ],
)  # fmt: skip
def test_refusals_after_the_origin_check_carry_cors_headers(client, kwargs, status, error, field):
    kwargs = dict(kwargs)  # the parameters are shared by both clients
    headers = JSON | kwargs.pop("headers", {})
    response = client.post(SUBMIT, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["errors"][0]["field"] == field
    assert {k: response.headers.get(k) for k in CORS} == CORS


def test_a_rate_limit_is_429_with_retry_after_and_cors(client, per_form):
    per_form.burst = 1
    assert client.post(SUBMIT, data=fields(), headers=JSON).status_code == 202
    limited = client.post(SUBMIT, data=fields(), headers=JSON)
    assert limited.status_code == 429
    assert limited.json() == {
        "error": "rate_limited",
        "errors": [{"field": "form_id", "reason": "too many submissions"}],
    }
    assert int(limited.headers["retry-after"]) >= 1
    assert {k: limited.headers.get(k) for k in CORS} == CORS


def test_refusals_before_the_origin_is_known_carry_no_cors(client):
    evil = client.post(SUBMIT, data=fields(), headers=JSON | {"Origin": "https://evil.example"})
    assert (evil.status_code, evil.json()["error"]) == (403, "origin_not_allowed")
    unknown = client.post("/v1/forms/nope/submit", data=fields(), headers=JSON)
    assert unknown.json() == {
        "error": "form_not_found",
        "errors": [{"field": "form_id", "reason": "no such form, or disabled"}],
    }
    assert unknown.status_code == 404
    for response in (evil, unknown):
        assert "access-control-allow-origin" not in response.headers


def test_refused_submissions_and_every_422_are_counted_by_code(client):
    before = rejected()
    client.post("/v1/forms/nope/submit", data=fields(), headers=JSON)
    client.post(SUBMIT, data=fields(), headers=JSON | {"Origin": "https://evil.example"})
    client.post(SUBMIT, data=fields(_form_key="wrong"), headers=JSON)
    client.post(SUBMIT, data=fields(phone="12"), headers=JSON)
    client.post(SUBMIT, content=b"{", headers=JSON | {"Content-Type": "application/json"})
    client.post(SUBMIT, content=b"<a/>", headers=JSON | {"Content-Type": "text/xml"})
    client.post(SUBMIT, data={"x": "y" * MAX_BYTES}, headers=JSON)
    key = {"X-API-Key": INTEGRATION_KEY}
    assert client.post("/v1/leads", json={"phone": 1}, headers=key).status_code == 422
    assert counted(before) == {
        "form_not_found": 1,
        "origin_not_allowed": 1,
        "wrong_form_key": 1,
        "validation_failed": 2,
        "malformed_body": 1,
        "unsupported_media_type": 1,
        "payload_too_large": 1,
    }


def test_refusals_of_no_submission_are_not_counted(client, forms):
    before = rejected()
    operator = {"X-API-Key": OPERATOR_KEY}
    assert client.get("/v1/nothing-here").status_code == 404
    assert client.post("/v1/leads", json={"email": "a@b.ru"}).status_code == 401
    wrong_key = client.post("/v1/leads", json={"email": "a@b.ru"}, headers={"X-API-Key": "no"})
    assert wrong_key.status_code == 403
    assert client.get("/v1/forms", headers={"X-API-Key": "no"}).status_code == 403
    missing = client.get("/v1/forms/nope", headers=operator)
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "not_found", "errors": [{"field": "form_id", "reason": "no form nope"}]},
    )
    assert client.delete("/v1/forms/nope", headers=operator).status_code == 404
    forms.up = False
    down = client.get("/v1/forms", headers=operator)
    assert (down.status_code, down.json()) == (
        503,
        {
            "error": "store_unavailable",
            "errors": [{"field": "", "reason": "NATS is not connected"}],
        },
    )
    assert client.delete("/v1/forms/contact", headers=operator).status_code == 503
    assert counted(before) == {}
