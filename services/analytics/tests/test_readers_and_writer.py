"""Reports and the projection on their own connections to the one embedded engine: a long
read holds up no INSERT and no batch, a long INSERT holds up no read, and a report of several
queries (`consistent()`) still sees no write land between them, nor any read half of a
rebuild's swap of the tables. Against the real engine;
the long statements sleep in the engine (`sleepEachRow`), and each test asserts an order of
events, never a duration."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import pytest

from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.adapters.rebuild_tables import ClickHouseDatabases
from analytics.adapters.sql_readonly import Analyst, analyst_client
from analytics.application.ingest import Projector
from analytics.domain.projection.config import ProjectionConfig
from analytics.settings import AnalyticsSettings
from services.analytics.tests.history import DealStory
from services.analytics.tests.test_funnel_scale import at
from tests.support.net import wait_until

# Two seconds in the engine (four rows of half a second, one block: no setting, which an
# analyst's read-only session may not change), far longer than the statements raced with it.
LONG_READ = "SELECT sum(sleepEachRow(0.5)) AS slept FROM numbers(4)"
SIX_SECONDS_READ = (
    "SELECT sum(sleepEachRow(0.5)) AS slept FROM numbers(12) SETTINGS max_block_size = 4"
)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=3) as executor:
        yield executor


def started(pool: ThreadPoolExecutor, call: Callable[[], Any]) -> Future[Any]:
    """`call` running on the pool, once it has begun."""
    began = threading.Event()

    def run() -> Any:
        began.set()
        return call()

    future = pool.submit(run)
    assert began.wait(10)
    return future


def insert_row(ch: ClickHouse, table: str, value: int) -> None:
    ch.insert_json(table, f'[{{"x": {value}}}]'.encode(), ["x"])


@pytest.fixture
def table(clickhouse: ClickHouse) -> str:
    name = f"race_{uuid.uuid4().hex[:8]}"
    clickhouse.command(f"CREATE TABLE {{db}}.{name} (x UInt32) ENGINE = MergeTree ORDER BY x")
    return name


def test_an_insert_lands_while_a_long_report_runs(
    clickhouse: ClickHouse, table: str, pool: ThreadPoolExecutor
) -> None:
    report = started(pool, lambda: clickhouse.rows(LONG_READ))
    insert_row(clickhouse, table, 1)
    assert not report.done(), "the INSERT waited for the report"
    assert clickhouse.rows(f"SELECT count() AS n FROM {{db}}.{table}") == [{"n": 1}]
    assert report.result(30) == [{"slept": 0}]


def test_a_report_answers_while_a_long_insert_runs(
    clickhouse: ClickHouse, table: str, pool: ThreadPoolExecutor
) -> None:
    slow_insert = (
        f"INSERT INTO {{db}}.{table} SELECT number + sleepEachRow(0.5) FROM numbers(4) "
        "SETTINGS max_block_size = 4"
    )
    insert = started(pool, lambda: clickhouse.command(slow_insert))
    assert clickhouse.rows("SELECT 1 AS one") == [{"one": 1}]
    assert not insert.done(), "the report waited for the INSERT"
    insert.result(30)
    assert clickhouse.rows(f"SELECT count() AS n FROM {{db}}.{table}") == [{"n": 4}]


def test_a_projection_batch_is_stored_while_a_long_report_runs(
    clickhouse: ClickHouse, pool: ThreadPoolExecutor
) -> None:
    """The batch's own look-ups (the keys the store has, a deal's history) go through the
    writer's connection, so they do not queue behind the report on the readers' one."""
    projector = Projector(ClickHouseProjectionStore(clickhouse), ProjectionConfig())
    events = DealStory("d1", at(3, 2), "100").events
    report = started(pool, lambda: clickhouse.rows(LONG_READ))
    projector.project(events, [e.model_dump(mode="json") for e in events])
    assert not report.done(), "the batch waited for the report"
    assert clickhouse.rows("SELECT deal_id FROM {db}.deals FINAL") == [{"deal_id": "d1"}]
    report.result(30)


def test_a_report_of_several_queries_sees_no_write_land_between_them(
    clickhouse: ClickHouse, table: str, pool: ThreadPoolExecutor
) -> None:
    counts: list[int] = []
    written = threading.Event()
    with clickhouse.consistent():
        counts.append(clickhouse.rows(f"SELECT count() AS n FROM {{db}}.{table}")[0]["n"])
        insert = pool.submit(lambda: (insert_row(clickhouse, table, 1), written.set()))
        assert not written.wait(1), "a write landed inside a consistent read"
        counts.append(clickhouse.rows(f"SELECT count() AS n FROM {{db}}.{table}")[0]["n"])
    insert.result(30)
    assert counts == [0, 0]
    assert clickhouse.rows(f"SELECT count() AS n FROM {{db}}.{table}") == [{"n": 1}]


def test_an_analysts_long_query_holds_up_no_insert(
    clickhouse: ClickHouse, table: str, pool: ThreadPoolExecutor, tmp_path: Any
) -> None:
    settings = AnalyticsSettings(chdb_path=tmp_path / "unused", database=clickhouse.db)
    analyst = Analyst(analyst_client(clickhouse, settings), clickhouse, max_rows=10)
    query = started(pool, lambda: analyst.query(LONG_READ, {}))
    insert_row(clickhouse, table, 1)
    assert not query.done(), "the INSERT waited for the analyst's query"
    assert query.result(30).result_rows == [(0,)]


def running_in_engine(ch: ClickHouse, text: str) -> bool:
    """A statement containing `text` is running in the engine (so its read holds the lock)."""
    rows = ch.for_writer().rows(
        "SELECT count() AS n FROM system.processes "
        "WHERE position(query, {text:String}) > 0 AND position(query, 'system.processes') = 0",
        {"text": text},
    )
    return rows[0]["n"] > 0


def test_a_rebuilds_swap_waits_for_the_reports_running(
    clickhouse: ClickHouse, pool: ThreadPoolExecutor
) -> None:
    """The report is seen running in the engine before the swap is asked for, and lasts six
    seconds: a swap that did not wait would be done within the first."""
    databases = ClickHouseDatabases(clickhouse)
    fresh = f"{clickhouse.db}_fresh"
    databases.prepare(fresh)
    try:
        report = pool.submit(clickhouse.rows, SIX_SECONDS_READ)
        wait_until(lambda: running_in_engine(clickhouse, "numbers(12)"), what="the report")
        swap = pool.submit(databases.swap, fresh, ("deals",))
        assert not wait([swap], timeout=1).done, "the swap ran while a report was reading"
        assert report.result(30) == [{"slept": 0}]
        swap.result(30)
    finally:
        databases.drop(fresh)


def test_reads_wait_while_the_tables_are_swapped(
    clickhouse: ClickHouse, pool: ThreadPoolExecutor
) -> None:
    inside, release = threading.Event(), threading.Event()

    def swap() -> None:
        with clickhouse.swapping():
            inside.set()
            assert release.wait(30)

    swapping = pool.submit(swap)
    assert inside.wait(10)
    read = pool.submit(clickhouse.rows, "SELECT 1 AS one")
    assert not wait([read], timeout=1).done, "a read ran while the tables were swapped"
    release.set()
    assert read.result(30) == [{"one": 1}]
    swapping.result(30)
