"""Every refusal of every service has one body; the kind picks the status."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from crm_contracts.runtime.errors import (
    Conflict,
    Invalid,
    NotFound,
    Refused,
    ServiceError,
    Unavailable,
)
from crm_contracts.runtime.http_errors import install_error_handlers


class Body(BaseModel):
    amount: int


def build(seen: list[ServiceError]) -> TestClient:
    app = FastAPI()
    install_error_handlers(app, seen.append)

    @app.get("/raise/{kind}")
    def raising(kind: str) -> None:
        kinds = {
            "invalid": Invalid("must be positive", "amount"),
            "missing": NotFound("no deal 7", "deal_id"),
            "conflict": Conflict("the deal is closed", error="DealClosed"),
            "slow": Refused("too many", "form_id", status=429, headers={"Retry-After": "3"}),
            "down": Unavailable("the store is unreachable"),
            "many": Invalid.of([("a", "required"), ("b", "too long")]),
        }
        raise kinds[kind]

    @app.post("/body")
    def body(payload: Body) -> int:
        return payload.amount

    return TestClient(app)


@pytest.mark.parametrize(
    ("kind", "status", "body"),
    [
        (
            "invalid",
            422,
            {
                "error": "validation_failed",
                "errors": [{"field": "amount", "reason": "must be positive"}],
            },
        ),
        (
            "missing",
            404,
            {"error": "not_found", "errors": [{"field": "deal_id", "reason": "no deal 7"}]},
        ),
        (
            "conflict",
            409,
            {"error": "DealClosed", "errors": [{"field": "", "reason": "the deal is closed"}]},
        ),
        ("slow", 429, {"error": "refused", "errors": [{"field": "form_id", "reason": "too many"}]}),
        (
            "down",
            503,
            {
                "error": "unavailable",
                "errors": [{"field": "", "reason": "the store is unreachable"}],
            },
        ),
        (
            "many",
            422,
            {
                "error": "validation_failed",
                "errors": [
                    {"field": "a", "reason": "required"},
                    {"field": "b", "reason": "too long"},
                ],
            },
        ),
    ],
)
def test_each_kind_answers_its_status_with_the_shared_body(kind, status, body):
    seen: list[ServiceError] = []
    answer = build(seen).get(f"/raise/{kind}")
    assert (answer.status_code, answer.json()) == (status, body)
    assert [e.error for e in seen] == [body["error"]]


def test_headers_of_a_refusal_reach_the_client():
    answer = build([]).get("/raise/slow")
    assert answer.headers["retry-after"] == "3"


def test_framework_validation_and_unknown_routes_share_the_body():
    seen: list[ServiceError] = []
    client = build(seen)
    bad = client.post("/body", json={"amount": "many"})
    assert bad.status_code == 422
    assert bad.json()["error"] == "validation_failed"
    assert bad.json()["errors"][0]["field"] == "amount"
    broken = client.post(
        "/body", content=b'{"amount": ', headers={"content-type": "application/json"}
    )
    assert broken.json()["errors"][0]["reason"].startswith("invalid JSON at line 1, column")
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "http_error",
        "errors": [{"field": "", "reason": "Not Found"}],
    }
    assert len(seen) == 3


def test_an_invalid_value_is_still_a_value_error_for_parsers():
    with pytest.raises(ValueError, match="amount: must be positive"):
        raise Invalid("must be positive", "amount")
