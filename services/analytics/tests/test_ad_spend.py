"""Ad spend and currency-rate imports over HTTP, on the real ClickHouse engine."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from analytics.adapters.clickhouse import ClickHouse
from analytics.main import create_app
from analytics.settings import AnalyticsSettings

KEY = {"X-API-Key": "spend-key"}
CSV = {**KEY, "Content-Type": "text/csv"}

RATES = """date,currency,rate
2026-03-01,USD,90.5
2026-03-03,USD,91.25
2026-03-01,EUR,100.123456
"""
SPEND = """date,source,medium,campaign,cost,currency,clicks,impressions
2026-03-02,Yandex,CPC,spring,1000.00,RUB,120,4000
2026-03-02,google,cpc,spring,10.55,USD,7,300
2026-03-03,google,cpc,spring,10.00,usd,5,
2026-03-04,facebook,paid,Promo X,3.33,EUR,1,10
"""


@pytest.fixture
def api(clickhouse: ClickHouse) -> TestClient:
    settings = AnalyticsSettings(api_key="spend-key", max_import_bytes=20_000)
    return TestClient(create_app(settings, clickhouse))  # no lifespan: the bus is not needed


def spend_rows(
    api: TestClient, start: str = "2026-03-01", end: str = "2026-04-01"
) -> list[dict[str, Any]]:
    response = api.get("/v1/ad-spend", params={"from": start, "to": end}, headers=KEY)
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def stored(clickhouse: ClickHouse) -> dict[str, Any]:
    return clickhouse.rows("SELECT count() AS n, sum(cost_base) AS base FROM {db}.ad_spend FINAL")[
        0
    ]


def test_csv_spend_is_converted_at_the_latest_rate_on_or_before_its_date(api, clickhouse):
    assert api.post("/v1/currency-rates", content=RATES, headers=CSV).json() == {
        "imported": 3,
        "base_currency": "RUB",
    }
    assert api.post("/v1/ad-spend", content=SPEND, headers=CSV).json()["imported"] == 4
    rows = spend_rows(api)
    assert [(r["date"], r["source"], r["medium"], r["campaign"]) for r in rows] == [
        ("2026-03-02", "google", "cpc", "spring"),
        ("2026-03-02", "yandex", "cpc", "spring"),
        ("2026-03-03", "google", "cpc", "spring"),
        ("2026-03-04", "facebook", "paid", "Promo X"),
    ]
    # 10.55 × 90.5 = 954.775 → 954.78 (half up); 10 × 91.25 (the 03-03 rate) = 912.50;
    # 3.33 × 100.123456 = 333.41110848 → 333.41; RUB stays as it is.
    assert [(r["cost"], r["currency"], r["cost_base"]) for r in rows] == [
        ("10.55", "USD", "954.78"),
        ("1000.00", "RUB", "1000.00"),
        ("10.00", "USD", "912.50"),
        ("3.33", "EUR", "333.41"),
    ]
    assert [(r["clicks"], r["impressions"]) for r in rows] == [
        (7, 300),
        (120, 4000),
        (5, 0),
        (1, 10),
    ]
    assert stored(clickhouse) == {"n": 4, "base": Decimal("3200.69")}


def test_a_reimport_replaces_the_rows_of_its_keys(api, clickhouse):
    api.post("/v1/currency-rates", content=RATES, headers=CSV)
    api.post("/v1/ad-spend", content=SPEND, headers=CSV)
    again = {
        "rows": [
            {
                "date": "2026-03-02",
                "source": "yandex",
                "medium": "cpc",
                "campaign": "spring",
                "cost": 1500.25,
                "currency": "RUB",
                "clicks": 200,
                "impressions": 5000,
            },
            {
                "date": "2026-03-05",
                "source": "yandex",
                "medium": "cpc",
                "campaign": "spring",
                "cost": "19.99",
                "currency": "RUB",
            },
        ]
    }
    response = api.post("/v1/ad-spend", json=again, headers=KEY)
    assert response.status_code == 200, response.text
    yandex = [r for r in spend_rows(api) if r["source"] == "yandex"]
    assert [(r["date"], r["cost"], r["clicks"]) for r in yandex] == [
        ("2026-03-02", "1500.25", 200),
        ("2026-03-05", "19.99", 0),
    ]
    # 954.78 + 912.50 + 333.41 + 1500.25 + 19.99
    assert stored(clickhouse) == {"n": 5, "base": Decimal("3720.93")}


def test_a_currency_without_a_rate_refuses_the_whole_request(api, clickhouse):
    api.post("/v1/currency-rates", content=RATES, headers=CSV)
    body = SPEND + "2026-02-28,google,cpc,winter,5.00,USD,1,1\n2026-03-02,bing,cpc,x,1,GBP,0,0\n"
    response = api.post("/v1/ad-spend", content=body, headers=CSV)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert [e["field"] for e in response.json()["errors"]] == ["line 6.currency", "line 7.currency"]
    assert "on or before 2026-02-28" in response.json()["errors"][0]["reason"]
    assert stored(clickhouse) == {"n": 0, "base": Decimal(0)}


def test_a_converted_cost_too_large_for_the_column_is_refused(api, clickhouse):
    api.post("/v1/currency-rates", content=RATES, headers=CSV)
    body = "date,source,medium,campaign,cost,currency\n2026-03-02,g,cpc,x,9999999999999999.99,USD\n"
    response = api.post("/v1/ad-spend", content=body, headers=CSV)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "line 2.cost"
    assert stored(clickhouse)["n"] == 0


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({"cost": 12.345}, "rows[0].cost", "at most 2 decimal places"),
        ({"cost": "-1"}, "rows[0].cost", "must not be negative"),
        ({"cost": True}, "rows[0].cost", "expected a decimal number"),
        ({"date": "2026-02-30"}, "rows[0].date", "not a date: '2026-02-30'"),
        (
            {"currency": "рубль"},
            "rows[0].currency",
            "expected an ISO 4217 code such as RUB, USD, EUR",
        ),
        ({"source": " "}, "rows[0].source", "required"),
        ({"clicks": -3}, "rows[0].clicks", "expected a whole number ≥ 0"),
        ({"budget": 5}, "rows[0]", "unknown fields: budget"),
    ],
)
def test_each_bad_field_is_named(
    api: TestClient, clickhouse: ClickHouse, row: dict[str, object], field: str, reason: str
) -> None:
    good = {
        "date": "2026-03-02",
        "source": "yandex",
        "medium": "cpc",
        "campaign": "c",
        "cost": "1.00",
        "currency": "RUB",
    }
    response = api.post("/v1/ad-spend", json={"rows": [good | row]}, headers=KEY)
    assert response.status_code == 422
    assert response.json() == {
        "error": "validation_failed",
        "errors": [{"field": field, "reason": reason}],
    }
    assert stored(clickhouse)["n"] == 0


def test_bad_requests_get_a_4xx_with_the_error_shape(api, clickhouse):
    row = {
        "date": "2026-03-02",
        "source": "y",
        "medium": "",
        "campaign": "",
        "cost": "1",
        "currency": "RUB",
    }
    cases = [
        (api.post("/v1/ad-spend", json={"rows": [row]}), 401, "unauthorized"),
        (
            api.post("/v1/ad-spend", json={"rows": [row]}, headers={"X-API-Key": "no"}),
            403,
            "forbidden",
        ),
        (
            api.post(
                "/v1/ad-spend", content="{", headers={**KEY, "Content-Type": "application/json"}
            ),
            400,
            "invalid_json",
        ),
        (
            api.post("/v1/ad-spend", content="x", headers={**KEY, "Content-Type": "text/plain"}),
            415,
            "unsupported_media_type",
        ),
        (api.post("/v1/ad-spend", content="a" * 20_001, headers=CSV), 413, "payload_too_large"),
        (api.post("/v1/ad-spend", content=b"\xff\xfe", headers=CSV), 400, "invalid_csv"),
        (
            api.post("/v1/ad-spend", content="date,cost,colour\n", headers=CSV),
            422,
            "validation_failed",
        ),
        (
            api.post("/v1/ad-spend", content="date,source\n2026-03-02\n", headers=CSV),
            422,
            "validation_failed",
        ),
        (api.post("/v1/ad-spend", json={"rows": []}, headers=KEY), 422, "validation_failed"),
        (
            api.post("/v1/ad-spend", json={"rows": [row, row]}, headers=KEY),
            422,
            "validation_failed",
        ),
        (api.post("/v1/ad-spend", json=[row], headers=KEY), 422, "validation_failed"),
        (
            api.post(
                "/v1/currency-rates",
                json={"rows": [{"date": "2026-03-01", "currency": "RUB", "rate": 1}]},
                headers=KEY,
            ),
            422,
            "validation_failed",
        ),
        (
            api.post(
                "/v1/currency-rates",
                json={"rows": [{"date": "2026-03-01", "currency": "USD", "rate": 0}]},
                headers=KEY,
            ),
            422,
            "validation_failed",
        ),
        (
            api.get("/v1/ad-spend", params={"from": "2026-03-05", "to": "2026-03-01"}, headers=KEY),
            422,
            "validation_failed",
        ),
        (
            api.get("/v1/ad-spend", params={"from": "March", "to": "2026-03-01"}, headers=KEY),
            422,
            "validation_failed",
        ),
    ]
    for response, status, error in cases:
        assert (response.status_code, response.json()["error"]) == (status, error), response.text
        assert all(set(e) == {"field", "reason"} for e in response.json()["errors"])
    assert stored(clickhouse)["n"] == 0
    assert clickhouse.rows("SELECT count() AS n FROM {db}.currency_rates")[0]["n"] == 0
