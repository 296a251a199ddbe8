"""Report dates outside what DateTime64(3) stores (1900-01-01 … 2299-12-31) are a 422 naming
the field, never a 500 from the engine; fuzzed through the HTTP API."""

from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.adapters.clickhouse import ClickHouse
from services.analytics.tests.apps import offline_client

KEY = {"X-API-Key": "dates-key"}
ROUTES = (
    "/v1/reports/dynamics",
    "/v1/reports/active-clients",
    "/v1/reports/managers",
    "/v1/reports/cohorts",
    "/v1/drill/deals",
    "/v1/drill/clients",
)


@pytest.fixture
def api(clickhouse: ClickHouse, tmp_path: Path) -> TestClient:
    return offline_client(clickhouse, tmp_path, api_key=KEY["X-API-Key"])


def field_of(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["errors"][0]["field"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "0999-12-31", "to": "2026-12-01"}, "from"),
        ({"from": "2026-01-01", "to": "9999-12-31T23:59:59", "tz": "America/Los_Angeles"}, "to"),
        ({"from": "0001-01-01", "to": "2026-01-01", "tz": "Asia/Tokyo"}, "from"),
        ({"from": "2026-01-01", "to": "2300-01-01"}, "to"),
        ({"from": "1899-12-31T23:59:59Z", "to": "2026-01-01"}, "from"),
        ({"from": "0002-01-01", "to": "0003-01-01", "compare": "previous_year"}, "from"),
        ({"from": "1900-06-01", "to": "1901-01-01", "compare": "previous_year"}, "compare"),
        ({"from": "1900-06-01", "to": "1901-01-01", "compare": "previous_period"}, "compare"),
    ],
)
def test_dates_outside_the_engine_range_name_the_field(
    api: TestClient, query: dict[str, str], field: str
) -> None:
    for route in ("/v1/reports/dynamics", "/v1/drill/deals"):
        assert field_of(api.get(route, params=query, headers=KEY)) == field


def test_the_range_edges_are_served(api: TestClient) -> None:
    query = {"from": "1900-01-01", "to": "2299-12-31", "compare": "previous_period"}
    for route in ("/v1/reports/dynamics?bucket=month", "/v1/reports/active-clients"):
        response = api.get(route, params=query, headers=KEY)
        # previous_period of the whole range reaches before 1900: refused as the comparison
        assert field_of(response) == "compare"
        del query["compare"]
        assert api.get(route, params=query, headers=KEY).status_code == 200
        query["compare"] = "previous_period"


DAYS = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
MOMENTS = st.one_of(
    DAYS.map(date.isoformat),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda m: m.isoformat(timespec="seconds")
    ),
    st.sampled_from(["1900-01-01", "2299-12-31T23:59:59", "2300-01-01", "1899-12-31"]),
)
ZONES = st.sampled_from([None, "UTC", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"])
COMPARE = st.sampled_from([None, "previous_period", "previous_year"])


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_dates_never_give_a_server_error(api: TestClient, data: st.DataObject) -> None:
    start = data.draw(MOMENTS)
    end = data.draw(st.one_of(MOMENTS, st.just(_day_after(start))))
    query = {"from": start, "to": end, "tz": data.draw(ZONES), "compare": data.draw(COMPARE)}
    query = {k: v for k, v in query.items() if v is not None}
    route = data.draw(st.sampled_from(ROUTES))
    response = api.get(route, params=query, headers=KEY)
    assert response.status_code < 500, f"{route} {query}: {response.text[:300]}"
    if response.status_code == 422:
        assert field_of(response) in {"from", "to", "tz", "compare"}, response.text


def _day_after(raw: str) -> str:
    try:
        return (date.fromisoformat(raw[:10]) + timedelta(days=1)).isoformat()
    except (ValueError, OverflowError):
        return raw
