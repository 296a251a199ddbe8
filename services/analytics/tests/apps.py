"""The analytics app without a bus (its lifespan never runs, so nothing connects): for HTTP
tests of reports, drill-down, sign-in and the dashboard over the real engine."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from analytics.adapters.clickhouse import ClickHouse
from analytics.main import create_app
from analytics.settings import AnalyticsSettings


def offline_settings(clickhouse: ClickHouse, tmp_path: Path, **values: object) -> AnalyticsSettings:
    base: dict[str, object] = {
        "nats_url": "nats://127.0.0.1:1",  # never dialled: no lifespan
        "chdb_path": tmp_path / "unused",
        "database": clickhouse.db,
    }
    return AnalyticsSettings(**(base | values))


def offline_client(clickhouse: ClickHouse, tmp_path: Path, **values: object) -> TestClient:
    return TestClient(create_app(offline_settings(clickhouse, tmp_path, **values), clickhouse))
