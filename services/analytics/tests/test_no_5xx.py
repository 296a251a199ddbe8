"""Schemathesis over the analytics OpenAPI schema: whatever the query or body, never a 5xx,
and every refusal in the one error shape."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from schemathesis import Case

from analytics.adapters.clickhouse import ClickHouse
from analytics.main import create_app
from analytics.settings import AnalyticsSettings
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import load
from tests.support.fuzz import no_input_gets_a_server_error

KEY = {"X-API-Key": "fuzz-key"}
# Rebuild replays a stream this app has no bus for; it is exercised in test_rebuild.py.
# The DLQ actions answer 503 by design while the bus is not connected (no lifespan here);
# they are exercised against a live bus in tests/test_ops_page.py.
SKIP = {
    "/readyz",
    "/v1/admin/rebuild",
    "/v1/ops/dlq/{seq}",
    "/v1/ops/dlq/{seq}/replay",
    "/v1/ops/dlq/replay",
}


@pytest.fixture
def app(clickhouse: ClickHouse, tmp_path: Path) -> FastAPI:
    from datetime import UTC, datetime

    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    story = DealStory("d1", at, "100", client="c1", lead_id="l1").win(at).pay("100", at)
    load(clickhouse, [lead("l1", at, utm_source="google", utm_medium="cpc"), *story.events])
    settings_ = AnalyticsSettings(
        nats_url="nats://127.0.0.1:1",
        api_key=KEY["X-API-Key"],
        chdb_path=tmp_path / "unused",
        database=clickhouse.db,
    )
    return create_app(settings_, ch=clickhouse)


def steer_to_a_populated_period(case: Case, turns: Iterator[int]) -> None:
    if case.query is not None and next(turns) % 2:
        case.query.update({"from": "2026-03-01", "to": "2026-04-01"})


def test_no_input_gets_a_server_error(app: FastAPI) -> None:
    no_input_gets_a_server_error(
        app,
        headers=KEY,
        skip=SKIP,
        at_least=15,
        # Each report case runs real queries (about 0.3 s): 15 per operation keeps this the
        # suite's slowest test at under 3 minutes, with every operation reached.
        examples=15,
        prepare=steer_to_a_populated_period,
    )
