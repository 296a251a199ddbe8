"""Read-only SQL over HTTP on the real ClickHouse engine: results, limits and refusals."""

import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.domain.projection.rows import PaymentRow
from analytics.main import create_app
from analytics.settings import AnalyticsSettings

KEY = {"X-API-Key": "sql-key"}


def payment(
    payment_id: str, deal: str, client: str, manager: str, amount: str, at: datetime
) -> PaymentRow:
    invoice = payment_id.replace("p", "i")
    return PaymentRow(
        payment_id, deal, client, manager, "default", invoice, Decimal(amount), "RUB", at
    )


@pytest.fixture
def api(clickhouse: ClickHouse) -> TestClient:
    first = datetime(2026, 3, 1, 9, 30, 0, 125000, tzinfo=UTC)
    ClickHouseProjectionStore(clickhouse).write(
        [
            payment("p1", "d1", "c1", "anna", "1000.10", first),
            payment("p2", "d1", "c1", "anna", "0.20", datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
            payment("p3", "d2", "c2", "boris", "99999999.99", datetime(2026, 3, 3, tzinfo=UTC)),
        ]
    )
    settings = AnalyticsSettings(api_key="sql-key", sql_max_result_rows=5)
    return TestClient(create_app(settings, clickhouse))


def sql(
    api: TestClient, text: str, params: dict[str, Any] | None = None, headers: dict[str, str] = KEY
) -> httpx.Response:
    return api.post("/v1/sql", json={"sql": text, "params": params or {}}, headers=headers)


def test_a_select_on_the_analytics_database_by_default(api):
    response = sql(
        api,
        "SELECT manager_id, sum(amount) AS revenue, min(paid_at) AS first FROM payments "
        "WHERE paid_at >= {since:DateTime64(3)} GROUP BY manager_id ORDER BY manager_id",
        {"since": "2026-03-01 00:00:00"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["name"] for c in body["columns"]] == ["manager_id", "revenue", "first"]
    # 1000.10 + 0.20 exactly, as a string; the millisecond survives in ISO 8601.
    assert body["rows"] == [
        ["anna", "1000.30", "2026-03-01T09:30:00.125000+00:00"],
        ["boris", "99999999.99", "2026-03-03T00:00:00+00:00"],
    ]
    assert body["truncated"] is False
    # chDB (4.4) reports the rows of the result as read; a server reports the rows scanned.
    assert body["rows_read"] == 2
    assert body["elapsed_ms"] >= 0


def test_with_show_describe_and_explain_pass(api):
    for text in [
        "WITH 2 AS two SELECT count() * two AS n FROM payments;",
        "SHOW TABLES",
        "DESCRIBE TABLE payments",
        "EXPLAIN SELECT 1",
    ]:
        assert sql(api, text).status_code == 200, (text, sql(api, text).text)
    assert sql(api, "WITH 2 AS two SELECT count() * two AS n FROM payments").json()["rows"] == [[6]]
    assert sql(api, "SHOW TABLES LIKE 'pay%'").json()["rows"] == [["payments"]]


def test_results_stop_at_the_row_limit(api):
    body = sql(api, "SELECT number FROM system.numbers LIMIT 100000").json()
    assert body["rows"] == [[0], [1], [2], [3], [4]]
    assert body["truncated"] is True


@pytest.mark.parametrize(
    "text",
    [
        "INSERT INTO payments (payment_id) VALUES ('x')",
        "DROP TABLE payments",
        "CREATE TABLE evil (a UInt8) ENGINE = Memory",
        "ALTER TABLE payments DELETE WHERE 1",
        "TRUNCATE TABLE payments",
        "OPTIMIZE TABLE payments FINAL",
        "SYSTEM STOP MERGES",
        "SET readonly = 0",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT 1; DROP TABLE payments",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')",
    ],
)
def test_writes_ddl_and_escapes_are_refused_with_403(api, clickhouse, text):
    response = sql(api, text)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "read_only"
    assert response.json()["errors"][0]["field"] == "sql"
    assert clickhouse.rows("SELECT count() AS n FROM {db}.payments")[0]["n"] == 3


def test_into_outfile_writes_nothing(api, tmp_path):
    target = tmp_path / "leak.tsv"
    response = sql(api, f"SELECT * FROM payments INTO OUTFILE '{target}'")
    assert response.status_code == 403
    assert not os.path.exists(target)
    # OUTFILE is refused even inside a literal (a false refusal is harmless, a missed write is
    # not); other statement-like text inside a literal is data.
    assert sql(api, "SELECT 'x INTO OUTFILE y' AS s").status_code == 403
    assert sql(api, "SELECT 'x; DROP TABLE y' AS s").json()["rows"] == [["x; DROP TABLE y"]]


def test_the_projection_connection_stays_writable(api, clickhouse):
    assert sql(api, "SELECT count() FROM payments").status_code == 200
    assert sql(api, "SELECT * FROM file('/etc/hostname', 'LineAsString')").status_code == 403
    clickhouse.insert(
        "plans",
        [["anna", datetime(2026, 3, 1).date(), Decimal(5), "RUB", datetime.now(UTC)]],
        ["manager_id", "month", "amount", "currency", "updated_at"],
    )
    assert clickhouse.rows("SELECT count() AS n FROM {db}.plans")[0]["n"] == 1


def test_bad_queries_are_4xx_with_clickhouse_message(api):
    syntax = sql(api, "SELECT FROM WHERE")
    assert syntax.status_code == 400
    assert syntax.json()["error"] == "syntax_error"
    assert "Syntax error" in syntax.json()["errors"][0]["reason"]
    missing = sql(api, "SELECT * FROM no_such_table")
    assert (missing.status_code, missing.json()["error"]) == (400, "query_failed")
    assert "no_such_table" in missing.json()["errors"][0]["reason"]
    unbound = sql(api, "SELECT {x:UInt8}")
    assert unbound.status_code == 400
    assert sql(api, "   ").status_code == 422
    assert sql(api, "SELECT 1", {"bad name": 1}).status_code == 422
    assert sql(api, "SELECT 1", headers={}).status_code == 401
    assert sql(api, "SELECT 1", headers={"X-API-Key": "nope"}).status_code == 403


def test_a_query_over_the_time_limit_is_stopped(clickhouse):
    settings = AnalyticsSettings(api_key="sql-key", sql_max_execution_seconds=0.5)
    api = TestClient(create_app(settings, clickhouse))
    text = "SELECT count() FROM numbers(20000000000) WHERE sipHash64(number) % 7 = 1"
    response = sql(api, text)
    assert (response.status_code, response.json()["error"]) == (400, "limit_exceeded")
    assert "Timeout exceeded" in response.json()["errors"][0]["reason"]


def test_an_oversized_request_is_413(api):
    response = sql(api, "SELECT 1 -- " + "x" * 300_000)
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")


def test_outfile_hidden_behind_a_tagged_dollar_string_is_refused(api, tmp_path):
    target = tmp_path / "x.tsv"
    response = sql(api, f"SELECT $a$'$a$ AS x FROM system.one INTO OUTFILE '{target}' --'")
    assert response.status_code == 403
    assert not target.exists()
    # A tagged dollar-quoted string is a literal: a ';' inside it is data.
    assert sql(api, "SELECT $t$a;b$t$ AS s").json()["rows"] == [["a;b"]]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("SELEKT 1", ""),
        ("SELECT FROM WHERE", "position 18"),
        ("SELECT (1", "position 10"),
        ("WITH 1 AS x SELECT x +", "position 23"),
        ("SELECT 1 SETTINGS", "position 18"),
        ("SELECT 1\n  FROM payments WHERE a = = 2", "(line 2, col 27)"),
    ],
)
def test_a_syntax_error_is_a_400_about_the_analysts_own_text(api, text, where):
    response = sql(api, text)
    assert (response.status_code, response.json()["error"]) == (400, "syntax_error")
    reason = response.json()["errors"][0]["reason"]
    assert "Syntax error" in reason and where in reason, reason
    for wrapper in ("Native", "FORMAT", "EXPLAIN", "formatQuery", "analyst_sql"):
        assert wrapper not in reason, reason


def test_a_format_clause_is_a_400_without_the_drivers_text(api):
    response = sql(api, "SELECT 1 FORMAT JSON")
    assert (response.status_code, response.json()["error"]) == (400, "syntax_error")
    assert "Native" not in response.json()["errors"][0]["reason"]


def test_a_server_without_the_analyst_account_serves_no_sql(clickhouse):
    # `ch` is given, so nothing dials the (absent) server: the refusal comes from settings.
    settings = AnalyticsSettings(api_key="sql-key", clickhouse_mode="http")
    api = TestClient(create_app(settings, clickhouse))
    response = sql(api, "SELECT 1")
    assert (response.status_code, response.json()["error"]) == (503, "sql_unavailable")
    assert "ANALYTICS_CLICKHOUSE_ANALYST_USER" in response.json()["errors"][0]["reason"]


@pytest.mark.parametrize("name", ["crm; DROP TABLE x", "crm.evil", "a-b", "", "1crm", "crm`"])
def test_the_database_setting_is_an_identifier(name):
    with pytest.raises(ValueError, match="database"):
        AnalyticsSettings(database=name)
    assert AnalyticsSettings(database="crm_2").database == "crm_2"
