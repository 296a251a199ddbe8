"""Migration 7: the tables the reports read are merged into one part once their parts are an
hour old, on a fresh install and on one upgraded in place."""

from __future__ import annotations

import time

import pytest

from analytics.adapters import schema
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.schema import migrate
from services.analytics.tests.reports_support import schema_at

CREATE_QUERY = """SELECT name, create_table_query FROM system.tables
    WHERE database = {database:String}"""
SETTING = "min_age_to_force_merge_seconds = 3600"


def merged_after_an_hour(ch: ClickHouse) -> dict[str, bool]:
    rows = ch.rows(CREATE_QUERY, {"database": ch.db})
    return {r["name"]: SETTING in r["create_table_query"] for r in rows}


def active_parts(ch: ClickHouse, table: str) -> int:
    rows = ch.rows(schema.ACTIVE_PARTS, {"database": ch.db, "table": table})
    return len(rows)


def test_a_fresh_install_merges_every_report_table(clickhouse: ClickHouse) -> None:
    settled = merged_after_an_hour(clickhouse)
    assert all(settled[table] for table in schema.SETTLED_TABLES)
    assert "deals" not in schema.SETTLED_TABLES and settled["deals"]  # per quarter (migration 3)
    # The two biggest are read by key only: merging them whole every hour would cost more.
    assert not settled["events"] and not settled["fold_events"]


@pytest.fixture
def earlier(chdb_client, monkeypatch):  # type: ignore[no-untyped-def]
    """A database as the schema before migration 7 left it."""
    with schema_at(chdb_client, monkeypatch, 6) as ch:
        yield ch


def test_an_upgrade_sets_it_and_keeps_the_rows(earlier: ClickHouse) -> None:
    columns = ["payment_id", "deal_id", "amount", "currency", "paid_at"]
    for n in range(3):  # a part each
        earlier.command(
            f"INSERT INTO {{db}}.payments ({', '.join(columns)}) "
            f"VALUES ('p{n}', 'd{n}', {n + 1}, 'RUB', '2026-01-0{n + 1} 10:00:00')"
        )
    assert not any(merged_after_an_hour(earlier)[t] for t in schema.SETTLED_TABLES)

    assert migrate(earlier) == schema.MIGRATIONS[-1][0]

    assert all(merged_after_an_hour(earlier)[t] for t in schema.SETTLED_TABLES)
    rows = earlier.rows("SELECT payment_id, amount FROM {db}.payments FINAL ORDER BY payment_id")
    assert [(r["payment_id"], int(r["amount"])) for r in rows] == [("p0", 1), ("p1", 2), ("p2", 3)]


def test_the_engine_merges_parts_of_that_age_by_itself(clickhouse: ClickHouse) -> None:
    """What the setting promises, with a one-second age: the parts left by batches become one
    without anyone asking, and `FINAL` then reads that one as it is."""
    clickhouse.command("ALTER TABLE {db}.plans MODIFY SETTING min_age_to_force_merge_seconds = 1")
    for n in range(4):
        clickhouse.command(
            "INSERT INTO {db}.plans (manager_id, month, amount, currency, updated_at) "
            f"VALUES ('m', '2026-01-01', {n}, 'RUB', '2026-01-01 00:00:0{n}')"
        )
    assert active_parts(clickhouse, "plans") == 4
    deadline = time.monotonic() + 60
    while active_parts(clickhouse, "plans") > 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert active_parts(clickhouse, "plans") == 1
    assert clickhouse.rows("SELECT amount FROM {db}.plans")[0]["amount"] == 3
