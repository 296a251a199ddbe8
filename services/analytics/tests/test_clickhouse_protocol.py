"""ClickHouse's own HTTP interface for analysts, on the embedded engine: stock
clickhouse-connect and raw HTTP against a real uvicorn server on a free port."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import clickhouse_connect
import httpx
import pytest
import uvicorn
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from starlette.applications import Starlette

from analytics.adapters.analyst_views import create_views
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.clickhouse_protocol import ClickHouseException, split_settings
from analytics.api.clickhouse_protocol import ClickHouseHttpServer, build_clickhouse_http_app
from analytics.domain.auth.passwords import hash_password
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import load

PASSWORD = "s3cret-analyst"
AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
LIMITS = {
    "max_result_rows": 1000,
    "result_overflow_mode": "break",
    "max_execution_time": 2,
    "readonly": 1,
}


class Served:
    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, args=([self.sock],), daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the endpoint did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def endpoint(clickhouse: ClickHouse) -> Iterator[Served]:
    story = DealStory("d1", AT, "1500.50", lead_id="l1", client="c1").move("proposal", AT)
    story.pay("700.25", datetime(2026, 3, 2, 10, 0, 0, 125000, tzinfo=UTC), payment_id="p1")
    load(clickhouse, [lead("l1", AT, utm_source="yandex", utm_medium="cpc"), *story.events])
    clickhouse.insert(
        "ad_spend",
        [
            [
                date(2026, 3, 1),
                "yandex",
                "cpc",
                "spring",
                Decimal("10.55"),
                "RUB",
                Decimal("10.55"),
                7,
                300,
                AT,
            ]
        ],
        [
            "date",
            "source",
            "medium",
            "campaign",
            "cost",
            "currency",
            "cost_base",
            "clicks",
            "impressions",
            "updated_at",
        ],
    )
    accounts = {"analyst": hash_password(PASSWORD)}
    app = build_clickhouse_http_app(clickhouse, accounts, LIMITS)
    with Served(app) as served:
        yield served


@pytest.fixture
def client(endpoint: Served) -> Iterator[Client]:
    c = clickhouse_connect.get_client(
        host="127.0.0.1", port=endpoint.port, username="analyst", password=PASSWORD
    )
    yield c
    c.close()


def auth(password: str = PASSWORD, user: str = "analyst") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def post(
    endpoint: Served,
    sql: str | bytes,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.post(
        endpoint.url, params=params or {}, content=sql, headers=headers or auth(), timeout=30
    )


# ------------------------------------------------------------- stock clickhouse-connect


def test_stock_clickhouse_connect_connects_and_reads_the_analytics_database(client, clickhouse):
    assert client.server_version
    assert client.command("SELECT currentDatabase()") == clickhouse.db
    assert client.command("SELECT 2 + 2") == 4
    result = client.query(
        "SELECT deal_id, stage, amount, version FROM deals FINAL ORDER BY deal_id"
    )
    assert result.column_names == ("deal_id", "stage", "amount", "version")
    assert result.result_rows == [("d1", "proposal", Decimal("1500.50"), 3)]


def test_native_decodes_every_common_type(client):
    result = client.query(
        """SELECT toString('héllo') AS s, toUInt64(18446744073709551615) AS u,
                  toDecimal64('1234567.89', 2) AS money,
                  toDateTime64('2026-03-02 10:00:00.125', 3, 'Europe/Moscow') AS at_msk,
                  toDate('2026-03-01') AS d, CAST(NULL AS Nullable(Int32)) AS nothing,
                  CAST(7 AS Nullable(Int32)) AS seven, ['a', 'b'] AS arr,
                  toLowCardinality('cpc') AS lc"""
    )
    [row] = result.named_results()
    assert row["s"] == "héllo"
    assert row["u"] == 18446744073709551615
    assert row["money"] == Decimal("1234567.89")
    assert row["at_msk"].utcoffset().total_seconds() == 3 * 3600
    assert row["at_msk"].astimezone(UTC) == datetime(2026, 3, 2, 7, 0, 0, 125000, tzinfo=UTC)
    assert row["d"] == date(2026, 3, 1)
    assert row["nothing"] is None and row["seven"] == 7
    assert row["arr"] == ["a", "b"]
    assert row["lc"] == "cpc"
    types = [t.name for t in result.column_types]
    assert types[2] == "Decimal(18, 2)" and types[-1] == "LowCardinality(String)"


def test_tables_of_the_projection_decode(client):
    [payment] = client.query("SELECT * FROM payments FINAL").named_results()
    assert payment["amount"] == Decimal("700.25")
    assert payment["paid_at"] == datetime(2026, 3, 2, 10, 0, 0, 125000, tzinfo=UTC).replace(
        tzinfo=payment["paid_at"].tzinfo
    )
    [spend] = client.query("SELECT date, clicks, cost_base FROM ad_spend FINAL").result_rows
    assert spend == (date(2026, 3, 1), 7, Decimal("10.55"))
    closed = client.query("SELECT closed_at FROM deals FINAL").result_rows
    assert closed == [(None,)]


def test_server_side_parameters_bind(client):
    result = client.query(
        "SELECT count() AS n FROM deals FINAL WHERE stage = {stage:String}",
        parameters={"stage": "proposal"},
    )
    assert result.result_rows == [(1,)]


def test_listing_databases_tables_and_columns(client, clickhouse):
    assert clickhouse.db in [r[0] for r in client.query("SHOW DATABASES").result_rows]
    tables = [r[0] for r in client.query("SHOW TABLES").result_rows]
    assert {"deals", "payments", "leads"} <= set(tables)
    listed = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name",
        parameters={"db": clickhouse.db},
    ).result_rows
    assert ("deals",) in listed
    columns = client.query("DESCRIBE TABLE deals").result_rows
    assert ("amount", "Decimal(18, 2)") in [(c[0], c[1]) for c in columns]


def test_row_limit_applies(client):
    rows = client.query("SELECT number FROM system.numbers LIMIT 100000").result_rows
    assert 1000 <= len(rows) <= 2000


def test_time_limit_applies(client):
    with pytest.raises(DatabaseError) as caught:
        client.query("SELECT count() FROM system.numbers WHERE NOT ignore(sleepEachRow(0.001))")
    assert caught.value.code == 159  # TIMEOUT_EXCEEDED


def test_a_wrong_password_is_refused(endpoint):
    with pytest.raises(DatabaseError) as caught:
        clickhouse_connect.get_client(
            host="127.0.0.1", port=endpoint.port, username="analyst", password="nope"
        )
    assert "516" in str(caught.value) or caught.value.code == 516


WRITES = [
    "INSERT INTO deals (deal_id) VALUES ('x')",
    "CREATE TABLE evil (a UInt8) ENGINE = Memory",
    "DROP TABLE deals",
    "ALTER TABLE deals DELETE WHERE 1",
    "TRUNCATE TABLE deals",
    "SYSTEM STOP MERGES",
    "OPTIMIZE TABLE deals FINAL",
    "SET readonly = 0",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT 1; DROP TABLE deals",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')",
    "SELECT * FROM deals INTO OUTFILE 'leak.tsv'",
    "EXISTS TABLE deals",
]


@pytest.mark.parametrize("sql", WRITES)
def test_every_write_form_is_refused_with_readonly(client, clickhouse, sql):
    for call in (client.command, client.query):
        with pytest.raises(DatabaseError) as caught:
            call(sql)
        assert caught.value.code == 164, str(caught.value)
    assert clickhouse.rows("SELECT count() AS n FROM {db}.deals FINAL") == [{"n": 1}]
    assert "evil" not in [r["name"] for r in clickhouse.rows("SHOW TABLES FROM {db}")]


def test_the_readonly_setting_cannot_be_lifted(endpoint, clickhouse):
    c = clickhouse_connect.get_client(
        host="127.0.0.1", port=endpoint.port, username="analyst", password=PASSWORD
    )
    with pytest.raises(Exception) as caught:  # the client already knows it is read-only
        c.query("SELECT 1", settings={"readonly": 0})
    assert "readonly" in str(caught.value)
    c.close()
    response = post(endpoint, "SELECT 1", {"readonly": "0"})
    assert response.status_code == 403
    assert response.headers["X-ClickHouse-Exception-Code"] == "164"
    assert post(endpoint, "SELECT 1", {"readonly": "1"}).text == "1\n"


# ------------------------------------------------------------------------------ raw HTTP


def test_formats_by_parameter_and_by_clause(endpoint):
    sql = "SELECT deal_id, amount FROM deals FINAL"
    tsv = post(endpoint, f"{sql} FORMAT TSVWithNamesAndTypes")
    assert tsv.status_code == 200
    assert tsv.headers["X-ClickHouse-Format"] == "TSVWithNamesAndTypes"
    assert tsv.headers["content-type"].startswith("text/tab-separated-values")
    assert tsv.text == "deal_id\tamount\nString\tDecimal(18, 2)\nd1\t1500.5\n"

    as_json = post(endpoint, sql, {"default_format": "JSON"})
    body = as_json.json()
    assert as_json.headers["X-ClickHouse-Format"] == "JSON"
    assert body["meta"] == [
        {"name": "deal_id", "type": "String"},
        {"name": "amount", "type": "Decimal(18, 2)"},
    ]
    assert body["data"] == [{"deal_id": "d1", "amount": 1500.5}]
    assert body["rows"] == 1

    each = post(endpoint, f"{sql} FORMAT JSONEachRow", {"default_format": "JSON"})
    assert each.headers["X-ClickHouse-Format"] == "JSONEachRow"  # the clause wins
    assert [json.loads(line) for line in each.text.splitlines()] == [
        {"deal_id": "d1", "amount": 1500.5}
    ]

    as_csv = post(endpoint, f"{sql} FORMAT CSV")
    assert list(csv.reader(io.StringIO(as_csv.text))) == [["d1", "1500.5"]]

    native = post(endpoint, sql, {"default_format": "Native"})
    assert native.headers["content-type"] == "application/octet-stream"
    assert native.content == (
        b"\x02\x01\x07deal_id\x06String\x02d1\x06amount\x0eDecimal(18, 2)"
        + (150050).to_bytes(8, "little")
    )

    binary = post(endpoint, f"{sql} FORMAT RowBinaryWithNamesAndTypes")
    assert binary.content.startswith(b"\x02\x07deal_id\x06amount\x06String\x0eDecimal(18, 2)")
    assert binary.content.endswith(b"\x02d1" + (150050).to_bytes(8, "little"))


def test_query_in_the_url_body_or_both_and_get(endpoint):
    assert httpx.get(endpoint.url, params={"query": "SELECT 1"}, headers=auth()).text == "1\n"
    both = post(endpoint, "+ 1", {"query": "SELECT 1"})
    assert both.text == "2\n"
    assert httpx.get(endpoint.url).text == "Ok.\n"
    assert httpx.get(f"{endpoint.url}/ping").text == "Ok.\n"


def test_database_parameter_and_settings(endpoint, clickhouse):
    assert post(endpoint, "SELECT currentDatabase()").text == f"{clickhouse.db}\n"
    assert post(endpoint, "SELECT currentDatabase()", {"database": "system"}).text == "system\n"
    assert post(endpoint, "SELECT count() FROM one", {"database": "system"}).text == "1\n"
    missing = post(endpoint, "SELECT 1", {"database": "nowhere"})
    assert missing.status_code == 404
    assert missing.headers["X-ClickHouse-Exception-Code"] == "81"
    # An output setting applies to its request; limits sent by a client are ignored.
    quoted = post(
        endpoint,
        "SELECT toUInt64(1) AS n FORMAT JSONEachRow",
        {"output_format_json_quote_64bit_integers": "1", "max_result_rows": "1000000000"},
    )
    assert quoted.json() == {"n": "1"}
    assert post(endpoint, "SELECT toUInt64(1) AS n FORMAT JSONEachRow").json() == {"n": 1}
    assert (
        httpx.post(
            endpoint.url, params={"param_x": "41"}, content="SELECT {x:UInt8} + 1", headers=auth()
        ).text
        == "42\n"
    )


def test_errors_look_like_clickhouse(endpoint):
    response = post(endpoint, "SELEC 1")
    assert response.status_code == 400
    assert response.headers["X-ClickHouse-Exception-Code"] == "62"
    assert response.text.startswith("Code: 62. DB::Exception: Syntax error")
    assert "(SYNTAX_ERROR) (version " in response.text
    assert "formatQuerySingleLine" not in response.text
    unknown = post(endpoint, "SELECT * FROM no_such_table")
    assert unknown.headers["X-ClickHouse-Exception-Code"] == "60"
    assert "UNKNOWN_TABLE" in unknown.text
    refused = post(endpoint, "DROP TABLE deals")
    assert refused.status_code == 403
    assert refused.text.startswith("Code: 164. DB::Exception: analyst: Cannot execute query")
    assert "(READONLY)" in refused.text
    assert post(endpoint, "   ").headers["X-ClickHouse-Exception-Code"] == "62"


def test_every_way_to_authenticate(endpoint):
    sql = "SELECT 1"
    assert post(endpoint, sql).text == "1\n"
    by_headers = {"X-ClickHouse-User": "analyst", "X-ClickHouse-Key": PASSWORD}
    assert post(endpoint, sql, headers=by_headers).text == "1\n"
    by_params = {"user": "analyst", "password": PASSWORD}
    assert httpx.post(endpoint.url, params=by_params, content=sql).text == "1\n"
    for headers in (auth("wrong"), auth(PASSWORD, "default"), {}):
        refused = httpx.post(endpoint.url, content=sql, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["X-ClickHouse-Exception-Code"] == "516"
        assert "(AUTHENTICATION_FAILED)" in refused.text


def test_headers_and_gzip(endpoint):
    response = post(endpoint, "SELECT number FROM numbers(3)", {"query_id": "q-1"})
    assert response.headers["X-ClickHouse-Query-Id"] == "q-1"
    assert response.headers["X-ClickHouse-Timezone"] == "UTC"
    assert response.headers["X-ClickHouse-Server-Display-Name"]
    assert json.loads(response.headers["X-ClickHouse-Summary"])["written_rows"] == "0"
    zipped = httpx.post(
        endpoint.url,
        params={"enable_http_compression": "1"},
        content="SELECT 7",
        headers=auth() | {"Accept-Encoding": "gzip"},
    )
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == "7\n"  # httpx inflates it
    body = gzip.compress(b"SELECT 8")
    sent = httpx.post(endpoint.url, content=body, headers=auth() | {"Content-Encoding": "gzip"})
    assert sent.text == "8\n"


def test_the_projection_stays_writable(client, clickhouse):
    with pytest.raises(DatabaseError):
        client.command("INSERT INTO plans (manager_id) VALUES ('m')")
    clickhouse.insert(
        "plans",
        [["anna", date(2026, 3, 1), Decimal(5), "RUB", datetime.now(UTC)]],
        ["manager_id", "month", "amount", "currency", "updated_at"],
    )
    assert clickhouse.rows("SELECT count() AS n FROM {db}.plans") == [{"n": 1}]
    assert client.command("SELECT count() FROM plans") == 1


def test_form_encoded_queries_arrow_and_data_frames(endpoint):
    form = clickhouse_connect.get_client(
        host="127.0.0.1",
        port=endpoint.port,
        username="analyst",
        password=PASSWORD,
        form_encode_query_params=True,
    )
    assert form.query("SELECT {n:UInt8} * 2 AS twice", parameters={"n": 21}).result_rows == [(42,)]
    arrow = form.query_arrow("SELECT deal_id, amount FROM deals FINAL")
    assert arrow.column("deal_id").to_pylist() == ["d1"]
    frame = form.query_df("SELECT deal_id, amount FROM deals FINAL")
    assert list(frame["deal_id"]) == ["d1"]
    form.close()


async def test_the_server_helper_listens_on_its_own_port_and_stops(clickhouse):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    app = build_clickhouse_http_app(clickhouse, {"analyst": hash_password(PASSWORD)}, LIMITS)
    server = ClickHouseHttpServer(app, "127.0.0.1", port)
    await server.start()
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"http://127.0.0.1:{port}/", content="SELECT 1", headers=auth())
        assert answer.text == "1\n"
    await server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/ping")


def test_grafana_shaped_requests(endpoint, clickhouse):
    """clickhouse-go over HTTP (Grafana's data source): Native by `default_format`, its
    query timeout as `max_execution_time` on every query (ignored here: ours holds), and
    the schema browser's listings."""
    grafana = {"default_format": "Native", "max_execution_time": "60"}
    db = clickhouse.db
    for sql in [
        "SELECT timeZone()",
        "SELECT version()",
        "SHOW DATABASES",
        f'SHOW TABLES FROM "{db}"',
        f"SELECT name FROM system.tables WHERE database = '{db}' ORDER BY name",
        f'DESC TABLE "{db}"."deals"',
        f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = 'deals'",
        "SELECT stage, count() FROM deals FINAL GROUP BY stage",
    ]:
        answer = post(endpoint, sql, grafana)
        assert answer.status_code == 200, (sql, answer.text)
        assert answer.headers["X-ClickHouse-Format"] == "Native"
        assert answer.content[:1] != b"\x00", sql  # at least one column came back


def test_which_url_settings_apply():
    params = {
        "output_format_json_quote_64bit_integers": "1",
        "format_csv_delimiter": ";",
        "output_format_schema": "schema.capnp",  # a file the engine would write
        "max_threads": "64",
        "max_result_rows": "0",
        "query_id": "q",
        "param_x": "1",
        "readonly": "1",
    }
    assert split_settings(params, "analyst") == {
        "output_format_json_quote_64bit_integers": "1",
        "format_csv_delimiter": ";",
    }
    with pytest.raises(ClickHouseException) as caught:
        split_settings({"readonly": "2"}, "analyst")
    assert caught.value.code == 164


def readme_queries() -> list[str]:
    """The example queries of the README's section for analysts, as a newcomer copies them."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Query the data from DBeaver", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_the_readme_example_queries_run_on_the_views(client, clickhouse):
    create_views(clickhouse)  # as the service does at start
    queries = readme_queries()
    assert len(queries) == 3
    march = [
        q.replace("2026-11-01", "2026-03-01").replace("2026-12-01", "2026-04-01") for q in queries
    ]
    funnel, romi, cohorts = (client.query(q).named_results() for q in march)
    assert {"stage": "proposal", "deals": 1} in list(funnel)
    [campaign] = list(romi)
    assert (campaign["campaign"], campaign["spend"]) == ("spring", Decimal("10.55"))
    [cohort] = list(cohorts)
    assert (cohort["months_after"], cohort["clients"]) == (0, 1)
