"""The client lists the engine writes as JSON (`json_rows`) are byte for byte what the reports
made of the same rows in Python: each value's text against orjson's, and whole reports
against the same report made from columns, on ids that the engine may write and on ids it
must leave to Python (the report then falls back)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from analytics.application.reports import money
from analytics.application.reports.compare import compared
from analytics.application.reports.json_rows import (
    JsonRows,
    amount,
    instant,
    integer,
    ten_thousandths,
)
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.serialize import OPTIONS, report_bytes
from services.analytics.tests.history import DealStory
from services.analytics.tests.reports_support import load


def engine_texts(ch, value, literals: list[str], type_: str) -> list[str]:
    """The engine's text of each literal (cast to `type_`) by `value`, in order."""
    values = ", ".join(f"CAST({literal} AS {type_})" for literal in literals)
    source = f"SELECT arrayJoin(arrayEnumerate(a)) AS i, a[i] AS v FROM (SELECT [{values}] AS a)"
    return [row["t"] for row in ch.rows(f"SELECT {value.sql} AS t FROM ({source}) ORDER BY i")]


def test_shares_as_orjson_writes_the_float(clickhouse):
    picks = random.Random(11).sample(range(1_000_001), 3000)
    counts = sorted({0, 1, 9, 10, 99, 100, 9999, 10000, 10001, 999_999, 1_000_000, *picks})
    texts = engine_texts(clickhouse, ten_thousandths("v"), [str(c) for c in counts], "Int64")
    assert texts == [orjson.dumps(c / 10000).decode() for c in counts]


def test_instants_as_orjson_writes_a_naive_utc_datetime(clickhouse):
    start = datetime(1971, 1, 1)
    rng = random.Random(5)
    span = 4_000_000_000_000  # milliseconds: past 2097
    moments = [start + timedelta(milliseconds=rng.randrange(span)) for _ in range(500)]
    moments += [datetime(2026, 2, 28, 23, 30), datetime(2026, 2, 28, 23, 30, 0, 1000)]
    literals = [f"'{m.isoformat(sep=' ', timespec='milliseconds')}'" for m in moments]
    texts = engine_texts(clickhouse, instant("v"), literals, "DateTime64(3, 'UTC')")
    expected = [orjson.dumps(m, option=OPTIONS).decode().strip('"') for m in moments]
    assert texts == expected


def test_money_and_integers_as_the_reports_write_them(clickhouse):
    sums = ["0", "0.5", "-0.01", "1000.1", "123456789012.34", "-99999999.99"]
    texts = engine_texts(clickhouse, amount("v"), sums, "Decimal(38, 2)")
    assert texts == [str(Decimal(s).quantize(Decimal("0.01"))) for s in sums]
    assert engine_texts(clickhouse, integer("v"), ["0", "7", "200000"], "UInt64") == [
        "0",
        "7",
        "200000",
    ]


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour - 10)


def history(clients: list[str]) -> list:
    """Per client a deal won and paid in February (some with a cost), one paid only in
    January (a win-back client), and ties in revenue to rank by id."""
    events = []
    for i, client in enumerate(clients):
        paid_in = 20 if i % 4 else 40  # every fourth paid in January only
        deal = DealStory(f"d{i}", at(paid_in - 5), "100", client=client, cost=str(i * 7))
        deal.win(at(paid_in - 1)).pay(str(100 + (i % 3) * 50) + ".25", at(paid_in, 11 + i % 9))
        events += deal.events
    return events


SAFE_CLIENTS = [f"c-{i:02d}" for i in range(12)] + ["x~y.z_", "0f8e2c1a-9b7d"]
ESCAPED_CLIENTS = SAFE_CLIENTS + ["клиент/1", 'q"x', "a b&c=d"]
REPORTS = {
    "abc": (money.abc, "rows"),
    "active-clients": (money.active_clients, "win_back"),
    "client-profitability": (money.client_profitability, "rows"),
}
QUERIES = [
    ("2026-02-01", "2026-03-01", "UTC", {}),
    ("2026-02-01", "2026-03-01", "Europe/Moscow", {}),
    ("2026-01-15", "2026-03-01", "Asia/Tokyo", {"manager": "m1"}),
    ("2026-02-01", "2026-03-01", "UTC", {"compare": "previous_period"}),
    ("2030-01-01", "2030-02-01", "UTC", {}),  # nothing in it
]


def made_in_python(monkeypatch, ch, compute, q):
    with monkeypatch.context() as m:
        m.setattr(money, "_row_json", lambda *args: None)
        return report_bytes(compared(q, lambda qq: compute(ch, qq)))


@pytest.mark.parametrize("clients", [SAFE_CLIENTS, ESCAPED_CLIENTS], ids=["safe", "escaped"])
def test_reports_give_the_bytes_made_in_python(clickhouse, monkeypatch, clients):
    load(clickhouse, history(clients))
    for name, (compute, listed) in REPORTS.items():
        for start, end, tz, query in QUERIES:
            q = ReportQuery(Period.parse(start, end, tz), **query)
            answer = compared(q, lambda qq, compute=compute: compute(clickhouse, qq))
            written = isinstance(answer[listed], JsonRows)
            # The engine writes the rows unless an id needs escaping or the rows are compared.
            if clients is SAFE_CLIENTS and not query.get("compare") and answer[listed]:
                assert written, (name, start, tz)
            if {r["client_id"] for r in answer[listed]} - set(SAFE_CLIENTS):
                assert not written, (name, start, tz)
            expected = made_in_python(monkeypatch, clickhouse, compute, q)
            assert report_bytes(answer) == expected, (name, start, tz, query)
