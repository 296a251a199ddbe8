"""An unknown report name is a 404 in the error shape listing the names the router serves."""

from pathlib import Path

from analytics.adapters.clickhouse import ClickHouse
from services.analytics.tests.apps import offline_client

KEY = {"X-API-Key": "names-key"}


def test_an_unknown_report_lists_the_known_ones(clickhouse: ClickHouse, tmp_path: Path) -> None:
    api = offline_client(clickhouse, tmp_path, api_key=KEY["X-API-Key"])
    schema = api.get("/openapi.json").json()
    served = sorted(
        p.removeprefix("/v1/reports/") for p in schema["paths"] if p.startswith("/v1/reports/")
    )
    assert {"abc", "active-clients", "sales-funnel", "managers"} <= set(served)

    response = api.get("/v1/reports/nope", headers=KEY)

    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "errors": [
            {"field": "name", "reason": f"unknown report 'nope'; one of: {', '.join(served)}"}
        ],
    }
    # Without a viewer credential the names are not told.
    assert api.get("/v1/reports/nope").status_code == 401
    # Known reports are still served (and still need their period).
    assert api.get("/v1/reports/abc", headers=KEY).status_code == 422
