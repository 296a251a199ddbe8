"""A page of a client list (`limit`, `offset`, `sort`; list_page.py) is that slice of the
whole list in that order, ties by client id, with every other figure of the report as the
whole answer gives it: whether the engine writes the page or Python makes it (an id that
needs escaping, a comparison), past the end, on an empty period; and bad paging is a 422."""

from __future__ import annotations

from functools import cmp_to_key
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from analytics.application.reports.compare import compared
from analytics.application.reports.list_page import ListPage, paged_answer
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.serialize import report_bytes
from services.analytics.tests.apps import offline_client
from services.analytics.tests.reports_support import load
from services.analytics.tests.test_json_rows import (
    ESCAPED_CLIENTS,
    QUERIES,
    REPORTS,
    SAFE_CLIENTS,
    history,
)

FIELDS = {
    "abc": ("client_id", "rank", "revenue", "share_before_pct", "class"),
    "active-clients": ("client_id", "revenue_previous_period", "last_paid_at"),
    "client-profitability": ("client_id", "revenue", "cost", "margin"),
}
KEY = {"X-API-Key": "pages-key"}


def in_order(rows: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    """The rows as a page should order them: by the field, ties by client id ascending."""
    if sort is None:
        return rows
    field, sign = sort.removeprefix("-"), -1 if sort.startswith("-") else 1

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        if a[field] != b[field]:
            return sign if a[field] > b[field] else -sign
        return (a["client_id"] > b["client_id"]) - (a["client_id"] < b["client_id"])

    return sorted(rows, key=cmp_to_key(compare))


def pages_of(size: int) -> list[tuple[int | None, int]]:
    """(limit, offset) to ask: the first page, a middle one, the last, past the end, and
    every row from an offset."""
    return [(4, 0), (4, 4), (4, max(size - 1, 0)), (4, size + 3), (None, 2)]


def page_of(ch, name: str, q: ReportQuery, page: ListPage) -> dict[str, Any]:
    """The page as the API makes it: written by the engine, or cut from a compared list."""
    compute, key = REPORTS[name]
    if q.compare is None:
        return orjson.loads(report_bytes(compute(ch, q, page)))
    whole = compared(q, lambda qq: compute(ch, qq))
    return orjson.loads(report_bytes(paged_answer(whole, key, page)))


def check_pages(ch, name: str, q: ReportQuery, sorts: list[str | None]) -> None:
    compute, key = REPORTS[name]
    whole = compared(q, lambda qq: compute(ch, qq))
    written = orjson.loads(report_bytes(whole))
    rows = list(whole[key])  # dicts with the values (Decimal money), in the report's order
    for sort in sorts:
        ordered = orjson.loads(report_bytes(in_order(rows, sort)))
        for limit, offset in pages_of(len(rows)):
            page = ListPage(limit, offset, sort)
            got = page_of(ch, name, q, page)
            end = None if limit is None else offset + limit
            where = (name, q, limit, offset, sort)
            assert got[key] == ordered[offset:end], where
            assert got["page"] == {
                "offset": offset,
                "limit": limit,
                "sort": sort,
                "total": len(rows),
            }, where
            rest = {k: v for k, v in got.items() if k not in (key, "page")}
            assert rest == {k: v for k, v in written.items() if k != key}, where


@pytest.mark.parametrize("clients", [SAFE_CLIENTS, ESCAPED_CLIENTS], ids=["safe", "escaped"])
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_order_pages_the_whole_list(clickhouse, clients, name):
    load(clickhouse, history(clients))
    start, end, tz, query = QUERIES[0]
    q = ReportQuery(Period.parse(start, end, tz), **query)
    sorts = [None, *(s + f for f in FIELDS[name] for s in ("", "-"))]
    check_pages(clickhouse, name, q, sorts)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_zones_filters_comparisons_and_empty_periods_page_alike(clickhouse, name):
    load(clickhouse, history(ESCAPED_CLIENTS[::2]))
    money_field = FIELDS[name][1]
    for start, end, tz, query in QUERIES[1:]:
        q = ReportQuery(Period.parse(start, end, tz), **query)
        check_pages(clickhouse, name, q, [None, "-" + money_field])


@pytest.fixture
def api(clickhouse, tmp_path: Path) -> TestClient:
    load(clickhouse, history(SAFE_CLIENTS))
    return offline_client(clickhouse, tmp_path, api_key=KEY["X-API-Key"])


PERIOD = {"from": "2026-02-01", "to": "2026-03-01", "tz": "UTC"}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_the_api_pages_and_leaves_the_whole_answer_as_it_was(api: TestClient, name):
    _, key = REPORTS[name]
    whole = api.get(f"/v1/reports/{name}", params=PERIOD, headers=KEY)
    assert whole.status_code == 200, whole.text
    assert "page" not in whole.json()
    paged = api.get(
        f"/v1/reports/{name}", params=PERIOD | {"limit": 3, "sort": "-client_id"}, headers=KEY
    )
    assert paged.status_code == 200, paged.text
    listed = whole.json()[key]
    expected = sorted(listed, key=lambda r: r["client_id"], reverse=True)[:3]
    assert paged.json()[key] == expected
    assert paged.json()["page"]["total"] == len(listed)
    compared_page = api.get(
        f"/v1/reports/{name}",
        params=PERIOD | {"limit": 2, "offset": 1, "compare": "previous_period"},
        headers=KEY,
    )
    assert compared_page.status_code == 200, compared_page.text
    assert len(compared_page.json()[key]) == min(2, max(len(listed) - 1, 0))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "drill"}, "sort"),
        ({"sort": "--revenue"}, "sort"),
        ({"sort": "x" * 65}, "sort"),
    ],
)
def test_bad_paging_is_refused_with_its_reason(api: TestClient, params, field):
    for name in REPORTS:
        response = api.get(f"/v1/reports/{name}", params=PERIOD | params, headers=KEY)
        assert response.status_code == 422, (name, params, response.text)
        assert field in response.text, (name, response.text)
