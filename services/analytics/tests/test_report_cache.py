"""Report answers kept while the data is unchanged: never older than the data (a write or a
mutation of any table is a new version, a merge is not), computed once for requests that
come together, dropped after their time or when memory is short; through the HTTP API over
the real engine."""

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.data_version import DataVersion
from analytics.application.report_cache import ReportCache
from services.analytics.tests.apps import offline_client
from services.analytics.tests.history import DealStory
from services.analytics.tests.reports_support import load
from services.analytics.tests.test_funnel_scale import at, history

KEY = {"X-API-Key": "cache-key"}
MARCH = {"from": "2026-03-01", "to": "2026-04-01"}


class Store:
    """A data version the test moves, and a report that counts its computations."""

    def __init__(self) -> None:
        self.version: str | None = "v1"
        self.computed = 0
        self.now = 0.0
        self.release = asyncio.Event()
        self.release.set()

    async def read(self) -> str | None:
        return self.version

    async def compute(self) -> bytes:
        self.computed += 1
        await self.release.wait()
        return f"{self.version}#{self.computed}".encode()


def cache_of(store: Store, seconds: float = 10.0, max_bytes: int = 1000) -> ReportCache:
    return ReportCache(store.read, seconds, max_bytes, clock=lambda: store.now)


async def test_an_answer_is_kept_until_the_data_changes() -> None:
    store = Store()
    cache = cache_of(store)
    assert await cache.answer("a", store.compute) == (b"v1#1", "miss")
    assert await cache.answer("a", store.compute) == (b"v1#1", "hit")
    assert await cache.answer("b", store.compute) == (b"v1#2", "miss")  # another request
    store.version = "v2"
    assert await cache.answer("a", store.compute) == (b"v2#3", "miss")
    assert await cache.answer("a", store.compute) == (b"v2#3", "hit")


async def test_an_answer_expires_after_its_time() -> None:
    store = Store()
    cache = cache_of(store, seconds=5)
    await cache.answer("a", store.compute)
    store.now = 4.9
    assert (await cache.answer("a", store.compute))[1] == "hit"
    store.now = 5.0
    assert await cache.answer("a", store.compute) == (b"v1#2", "miss")


async def together(store: Store, cache: ReportCache, requests: int) -> list[asyncio.Task]:
    """`requests` asking for "a" one after the other while its computation is held."""
    store.release.clear()
    tasks = []
    for _ in range(requests):
        tasks.append(asyncio.create_task(cache.answer("a", store.compute)))
        await asyncio.sleep(0)
    return tasks


async def test_requests_that_come_together_share_one_computation() -> None:
    store = Store()
    cache = cache_of(store)
    first, *others = await together(store, cache, 4)
    store.release.set()
    assert await first == (b"v1#1", "miss")
    assert [await o for o in others] == [(b"v1#1", "shared")] * 3
    assert store.computed == 1


async def test_a_cancelled_request_leaves_the_computation_to_the_others() -> None:
    store = Store()
    cache = cache_of(store)
    first, second = await together(store, cache, 2)
    first.cancel()
    await asyncio.sleep(0)
    store.release.set()
    assert await second == (b"v1#1", "shared")
    with pytest.raises(asyncio.CancelledError):
        await first
    assert store.computed == 1


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    store = Store()
    cache = cache_of(store)
    gate = asyncio.Event()

    async def failing() -> bytes:
        await gate.wait()
        raise ValueError("no such pipeline")

    first = asyncio.create_task(cache.answer("a", failing))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.answer("a", failing))
    await asyncio.sleep(0)
    gate.set()
    for waiter in (first, second):
        with pytest.raises(ValueError, match="no such pipeline"):
            await waiter
    assert await cache.answer("a", store.compute) == (b"v1#1", "miss")


async def test_nothing_is_kept_without_a_version_or_time() -> None:
    store = Store()
    store.version = None
    cache = cache_of(store)
    assert [await cache.answer("a", store.compute) for _ in range(2)] == [
        (b"None#1", "off"),
        (b"None#2", "off"),
    ]
    store.version = "v1"
    off = cache_of(store, seconds=0)
    assert [(await off.answer("a", store.compute))[1] for _ in range(2)] == ["off", "off"]


async def test_memory_is_bounded_least_recently_used_first() -> None:
    store = Store()
    cache = cache_of(store, max_bytes=20)  # "v1#n" is 4 bytes: five fit

    for key in "abcde":
        await cache.answer(key, store.compute)
    await cache.answer("a", store.compute)  # used again: now the most recent
    await cache.answer("f", store.compute)  # 24 bytes: "b", the least recent, goes
    assert (await cache.answer("a", store.compute))[1] == "hit"
    assert (await cache.answer("b", store.compute))[1] == "miss"

    big = cache_of(store, max_bytes=15)  # a quarter is 3 bytes: no answer of 4 is kept

    assert [(await big.answer("a", store.compute))[1] for _ in range(2)] == ["miss", "miss"]


def test_the_data_version_moves_with_every_change_of_the_data_and_not_with_a_merge(
    clickhouse: ClickHouse,
) -> None:
    version = DataVersion(clickhouse)
    empty = version.read()
    assert empty is not None and version.read() == empty
    load(clickhouse, history())
    loaded = version.read()
    assert loaded not in (None, empty) and version.read() == loaded
    clickhouse.command("OPTIMIZE TABLE {db}.deals FINAL")  # the same rows, merged
    assert version.read() == loaded
    for day in (1, 2):  # two INSERTs, two parts
        clickhouse.insert("currency_rates", [(at(3, day).date(), "USD", 90, at(3, 1))], RATE)
    rated = version.read()
    assert rated not in (None, loaded)
    clickhouse.command("OPTIMIZE TABLE {db}.currency_rates FINAL")
    assert version.read() == rated
    clickhouse.command(
        "ALTER TABLE {db}.currency_rates UPDATE rate = 91 WHERE 1 SETTINGS mutations_sync = 2"
    )
    updated = version.read()
    assert updated not in (None, rated)
    clickhouse.command("OPTIMIZE TABLE {db}.currency_rates FINAL")
    assert version.read() == updated
    clickhouse.command("TRUNCATE TABLE {db}.currency_rates")
    assert version.read() not in (None, updated)


def test_the_data_version_moves_when_tables_are_exchanged(clickhouse: ClickHouse) -> None:
    """Two tables alike down to their block numbers: only where each one's data lives tells
    them apart once a rebuild has exchanged them."""
    for name, value in (("swap_a", 1), ("swap_b", 2)):
        clickhouse.command(f"CREATE TABLE {{db}}.{name} (x UInt8) ENGINE = MergeTree ORDER BY x")
        clickhouse.command(f"INSERT INTO {{db}}.{name} VALUES ({value})")
    version = DataVersion(clickhouse)
    before = version.read()
    clickhouse.command("EXCHANGE TABLES {db}.swap_a AND {db}.swap_b")
    assert version.read() not in (None, before)


RATE = ("date", "currency", "rate", "updated_at")


@pytest.fixture
def api(clickhouse: ClickHouse, tmp_path: Path) -> TestClient:
    load(clickhouse, history())
    return offline_client(clickhouse, tmp_path, api_key=KEY["X-API-Key"])


def funnel(api: TestClient, query: dict[str, str]) -> tuple[int, str]:
    response = api.get("/v1/reports/sales-funnel", params=query, headers=KEY)
    assert response.status_code == 200, response.text
    return response.json()["deals"], response.headers["X-Report-Cache"]


def test_a_report_is_computed_again_once_events_land(api: TestClient, clickhouse) -> None:
    assert funnel(api, MARCH) == (6, "miss")
    assert funnel(api, MARCH) == (6, "hit")
    assert funnel(api, {"to": MARCH["to"], "from": MARCH["from"]}) == (6, "hit")  # same query
    assert funnel(api, MARCH | {"tz": "Europe/Moscow"}) == (6, "miss")  # another query
    clickhouse.command("OPTIMIZE TABLE {db}.deals FINAL")  # merged: the same answer
    assert funnel(api, MARCH) == (6, "hit")
    load(clickhouse, DealStory("d8", at(3, 20), "800").events)
    assert funnel(api, MARCH) == (7, "miss")
    assert funnel(api, MARCH) == (7, "hit")


def test_bad_requests_are_refused_not_kept(api: TestClient) -> None:
    for _ in range(2):
        response = api.get(
            "/v1/reports/sales-funnel", params=MARCH | {"pipeline": "nope"}, headers=KEY
        )
        assert response.status_code == 422, response.text
        assert "X-Report-Cache" not in response.headers


def test_keeping_answers_can_be_turned_off(clickhouse: ClickHouse, tmp_path: Path) -> None:
    load(clickhouse, history())
    api = offline_client(clickhouse, tmp_path, api_key=KEY["X-API-Key"], report_cache_seconds=0)
    assert [funnel(api, MARCH) for _ in range(2)] == [(6, "off"), (6, "off")]
