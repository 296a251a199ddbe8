"""The facts the reports read, copied from the running analytics service into a fresh
PostgreSQL database (bench/reports_pg.py's baseline).

The copy goes through the service's own read-only door, `POST /v1/sql` with the operator key
(never the chDB files: one process per chDB path), each table `FINAL` (the latest version of
every row, as the reports read it) in pages along its sorting key, since one answer holds at
most `sql_max_result_rows`. PostgreSQL (Debian's, started as the tests start it) loads them
with COPY, then gets the indexes these queries want, and ANALYZE."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from bench.progress import Progress
from tests.support.postgres import USER, PostgresServer

PAGE = 5000  # rows per /v1/sql answer, below its row limit (10 000 by default)
# What a competent PostgreSQL user sets for report queries (the server's defaults are for
# small OLTP sessions): sorts and hashes in memory, no JIT (it costs more than these
# sub-second queries gain), timestamps in UTC.
SESSION = {"TimeZone": "UTC", "work_mem": "64MB", "jit": "off"}


@dataclass(frozen=True)
class Table:
    """A projected table as the reports read it: its columns (with the PostgreSQL type), the
    ClickHouse sorting key the copy pages along, and what PostgreSQL adds after the load."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    after: tuple[str, ...] = ()
    derived: str = ""  # generated columns, part of the CREATE TABLE

    def type_of(self, column: str) -> str:
        return dict(self.columns)[column]


TEXT, MONEY, MOMENT = "text", "numeric(18, 2)", "timestamptz"
TABLES = (
    Table(
        "deals",
        (
            ("deal_id", TEXT),
            ("lead_id", TEXT),
            ("client_id", TEXT),
            ("pipeline_id", TEXT),
            ("stage", TEXT),
            ("status", TEXT),
            ("lost_reason", TEXT),
            ("lost_at_stage", TEXT),
            ("manager_id", TEXT),
            ("amount", MONEY),
            ("cost", MONEY),
            ("currency", TEXT),
            ("opened_at", MOMENT),
            ("closed_at", MOMENT),
        ),
        ("deal_id",),
        (
            "ALTER TABLE deals ADD PRIMARY KEY (deal_id)",
            "CREATE INDEX ON deals (pipeline_id, opened_at)",
            "CREATE INDEX ON deals (opened_at)",
            "CREATE INDEX ON deals (status, closed_at)",
            "CREATE INDEX ON deals (owner, lead_id)",
            "CREATE INDEX ON deals (client_id, closed_at) WHERE status = 'won'",
        ),
        # Whose touches make a deal's path (its client's, or its own lead's without one).
        ", owner text GENERATED ALWAYS AS "
        "(CASE WHEN client_id <> '' THEN client_id ELSE 'lead:' || lead_id END) STORED",
    ),
    Table(
        "deal_stage_intervals",
        (
            ("deal_id", TEXT),
            ("stage", TEXT),
            ("entered_version", "integer"),
            ("entered_at", MOMENT),
            ("left_at", MOMENT),
        ),
        ("deal_id", "entered_version"),
        ("ALTER TABLE deal_stage_intervals ADD PRIMARY KEY (deal_id, entered_version)",),
    ),
    Table(
        "payments",
        (
            ("payment_id", TEXT),
            ("deal_id", TEXT),
            ("client_id", TEXT),
            ("manager_id", TEXT),
            ("amount", MONEY),
            ("currency", TEXT),
            ("paid_at", MOMENT),
        ),
        ("paid_at", "payment_id"),
        ("CREATE INDEX ON payments (paid_at)", "CREATE INDEX ON payments (deal_id)"),
    ),
    Table(
        "touchpoints",
        (
            ("lead_id", TEXT),
            ("kind", TEXT),
            ("touch_at", MOMENT),
            ("channel", TEXT),
            ("source", TEXT),
            ("campaign", TEXT),
        ),
        ("lead_id", "kind"),
        ("ALTER TABLE touchpoints ADD PRIMARY KEY (lead_id, kind)",),
    ),
    Table(
        "leads",
        (("lead_id", TEXT), ("received_at", MOMENT)),
        ("received_at", "lead_id"),
        ("CREATE INDEX ON leads (received_at)",),
    ),
    Table(
        "ad_spend",
        (
            ("date", "date"),
            ("source", TEXT),
            ("medium", TEXT),
            ("campaign", TEXT),
            ("cost_base", MONEY),
        ),
        ("date", "source", "medium", "campaign"),
        ("ALTER TABLE ad_spend ADD PRIMARY KEY (date, source, medium, campaign)",),
    ),
    Table(
        "currency_rates",
        (("currency", TEXT), ("date", "date"), ("rate", "numeric(18, 6)")),
        ("currency", "date"),
        ("ALTER TABLE currency_rates ADD PRIMARY KEY (currency, date)",),
    ),
    Table(
        "pipelines",
        (
            ("pipeline_id", TEXT),
            ("name", TEXT),
            ("stage_names", "text[]"),
            ("stage_kinds", "text[]"),
        ),
        ("pipeline_id",),
        ("ALTER TABLE pipelines ADD PRIMARY KEY (pipeline_id)",),
    ),
)
# A key value as /v1/sql wrote it (JSON) back to ClickHouse's type, to page on from it.
KEY_PARSE = {
    MOMENT: "parseDateTime64BestEffort({value}, 3, 'UTC')",
    "date": "toDate({value})",
    "integer": "toUInt32({value})",
    TEXT: "{value}",
}


def sql_rows(http: httpx.Client, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    response = http.post("/v1/sql", json={"sql": sql, "params": params or {}})
    if response.status_code != 200:
        raise RuntimeError(f"/v1/sql: {response.status_code} {response.text[:300]}")
    body = response.json()
    if body.get("truncated"):
        raise RuntimeError(f"/v1/sql answer truncated at {len(body['rows'])} rows: {sql[:200]}")
    rows: list[Any] = body["rows"]
    return rows


def pages(http: httpx.Client, table: Table) -> Iterator[list[Any]]:
    """The table's rows FINAL, in pages along its sorting key (keyset: each page starts after
    the last key of the one before, so the engine reads from there)."""
    columns = ", ".join(name for name, _ in table.columns)
    keys = ", ".join(table.key)
    at = [[name for name, _ in table.columns].index(k) for k in table.key]
    after = ", ".join(
        KEY_PARSE[table.type_of(k)].format(value="{k" + str(i) + ":String}")
        for i, k in enumerate(table.key)
    )
    last: list[Any] | None = None
    while True:
        where = f"WHERE ({keys}) > ({after}) " if last is not None else ""
        params = {f"k{i}": str(last[j]) for i, j in enumerate(at)} if last is not None else {}
        sql = f"SELECT {columns} FROM {table.name} FINAL {where}ORDER BY {keys} LIMIT {PAGE}"
        rows = sql_rows(http, sql, params)
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        last = rows[-1]


def count(http: httpx.Client, table: Table) -> int:
    return int(sql_rows(http, f"SELECT count() FROM {table.name} FINAL")[0][0])


def load(conn: psycopg.Connection[Any], http: httpx.Client) -> dict[str, int]:
    """Every table copied (COPY), indexed and analysed; rows per table."""
    counts = {t.name: count(http, t) for t in TABLES}
    progress = Progress("copy into PostgreSQL", sum(counts.values()))
    for table in TABLES:
        columns = ", ".join(f"{name} {type_}" for name, type_ in table.columns)
        conn.execute(f"CREATE TABLE {table.name} ({columns}{table.derived})")
        names = ", ".join(name for name, _ in table.columns)
        with conn.cursor().copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for page in pages(http, table):
                for row in page:
                    copy.write_row(row)
                progress.advance(len(page))
        for statement in table.after:
            conn.execute(statement)
    progress.close()
    conn.execute("ANALYZE")
    return counts


@contextmanager
def postgres() -> Iterator[psycopg.Connection[Any]]:
    """A fresh database on a throwaway Debian PostgreSQL (as the tests start it)."""
    server = PostgresServer().start()
    try:
        dbname = server.create_database()
        with psycopg.connect(
            host="127.0.0.1", port=server.port, user=USER, dbname=dbname, autocommit=True
        ) as conn:
            for name, value in SESSION.items():
                conn.execute(f"SET {name} = '{value}'")
            yield conn
    finally:
        server.stop()
