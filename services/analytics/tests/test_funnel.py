"""Sales funnel on the real ClickHouse engine, numbers worked out by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.application.ingest import ingest as ingest_with
from analytics.application.reports.compare import compared
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.serialize import report_json
from analytics.domain.projection.config import ProjectionConfig
from crm_contracts.runtime.errors import Invalid
from services.analytics.tests.history import DealStory, payloads

H = timedelta(hours=1)


def ingest(ch, events, payloads):
    ingest_with(ClickHouseProjectionStore(ch), events, payloads, ProjectionConfig())


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stories() -> list[DealStory]:
    # Moscow is UTC+3: the Moscow day 2026-03-01 is [02-28 21:00Z, 03-01 21:00Z).
    d1 = DealStory("d1", utc(2026, 3, 1, 7), "1000.00")
    d1.move("qualified", utc(2026, 3, 1, 8)).move("proposal", utc(2026, 3, 1, 11))
    d1.move("won", utc(2026, 3, 1, 16), "won")
    d2 = DealStory("d2", utc(2026, 3, 1, 9), "500.50").move("proposal", utc(2026, 3, 1, 11))
    d3 = DealStory("d3", utc(2026, 3, 1, 20, 30), "200").move(
        "lost", utc(2026, 3, 1, 21, 30), "lost", "price"
    )
    d4 = DealStory("d4", utc(2026, 3, 1, 21, 30), "50")  # 00:30 on 03-02 in Moscow
    d5 = DealStory("d5", utc(2026, 2, 28, 20), "70")  # 23:00 on 02-28 in Moscow
    return [d1, d2, d3, d4, d5]


def all_events() -> list:
    return [e for s in stories() for e in s.events]


def funnel(ch, start="2026-03-01", end="2026-03-02", tz="Europe/Moscow", **filters):
    q = ReportQuery(Period.parse(start, end, tz), **filters)
    return report_json(compared(q, lambda query: sales_funnel(ch, query)))


def column(report, key):
    return [s[key] for s in report["stages"]]


def test_funnel_of_a_moscow_day(clickhouse):
    events = all_events()
    ingest(clickhouse, events, payloads(events))
    report = funnel(clickhouse)
    assert report["deals"] == 3
    assert column(report, "stage") == ["new", "qualified", "proposal", "invoice", "won"]
    assert column(report, "reached") == [3, 2, 2, 1, 1]
    assert column(report, "current") == [0, 0, 1, 0, 1]
    assert column(report, "conversion_prev") == [1.0, 0.6667, 1.0, 0.5, 1.0]
    assert column(report, "conversion_first") == [1.0, 0.6667, 0.6667, 0.3333, 0.3333]
    assert column(report, "amount") == ["1700.50", "1500.50", "1500.50", "1000.00", "1000.00"]
    # new: d1 1 h, d2 2 h, d3 1 h; qualified: d1 3 h; proposal: d1 5 h.
    assert column(report, "avg_duration_seconds") == [4800.0, 10800.0, 18000.0, None, None]
    assert report["lost"]["deals"] == 1
    assert report["lost"]["by_stage"] == [{"stage": "new", "deals": 1}]
    assert report["lost"]["by_reason"] == [{"reason": "price", "deals": 1}]


def test_lost_deals_are_listed_by_stage_as_the_pipeline_runs_and_by_reason_most_first(
    clickhouse,
):
    at = utc(2026, 3, 1, 9)
    lost = [  # (stage lost at, reason), in an order that is neither of the two
        ("proposal", "competitor"),
        ("new", "price"),
        ("qualified", None),
        ("new", "no_budget"),
        ("proposal", "price"),
        ("qualified", "no_budget"),
        ("qualified", "price"),
    ]
    deals = []
    for n, (stage, reason) in enumerate(lost):
        deal = DealStory(f"lost{n}", at, "10")
        for step in ("qualified", "proposal")[: ("new", "qualified", "proposal").index(stage)]:
            deal.move(step, at + H)
        deals.append(deal.move("lost", at + 2 * H, "lost", reason))
    events = [e for d in deals for e in d.events]
    ingest(clickhouse, events, payloads(events))
    report = funnel(clickhouse)["lost"]
    assert report["by_stage"] == [
        {"stage": "new", "deals": 2},
        {"stage": "qualified", "deals": 3},
        {"stage": "proposal", "deals": 2},
    ]
    assert [r["reason"] for r in report["by_reason"]] == [
        "price",  # 3
        "no_budget",  # 2
        "competitor",  # 1, before the unspecified one by name
        "unspecified",
    ]
    assert [r["deals"] for r in report["by_reason"]] == [3, 2, 1, 1]
    assert list(report["drill_by_stage"]) == ["new", "qualified", "proposal"]


def test_the_same_day_in_utc_takes_other_deals(clickhouse):
    events = all_events()
    ingest(clickhouse, events, payloads(events))
    report = funnel(clickhouse, tz="UTC")
    assert report["deals"] == 4  # d1, d2, d3 and d4; d5 opened the day before
    assert column(report, "reached") == [4, 2, 2, 1, 1]
    assert column(report, "current") == [1, 0, 1, 0, 1]


def test_redelivered_and_reordered_batches_change_nothing(clickhouse):
    events = all_events()
    ingest(clickhouse, events[:7], payloads(events[:7]))
    ingest(clickhouse, events, payloads(events))
    ingest(clickhouse, events[3:], payloads(events[3:]))
    ingest(clickhouse, events[:1], payloads(events[:1]))  # d1's opening again, after its win
    report = funnel(clickhouse)
    assert column(report, "reached") == [3, 2, 2, 1, 1]
    assert column(report, "current") == [0, 0, 1, 0, 1]
    rows = clickhouse.rows("SELECT count() AS n, uniqExact(event_id) AS u FROM {db}.events FINAL")
    assert rows == [{"n": len(events), "u": len(events)}]


def test_empty_period(clickhouse):
    report = funnel(clickhouse, "2025-01-01", "2025-02-01")
    assert report["deals"] == 0
    assert column(report, "reached") == [0, 0, 0, 0, 0]
    assert column(report, "conversion_prev") == [None] * 5
    assert column(report, "amount") == ["0.00"] * 5
    assert report["lost"]["deals"] == 0 and report["lost"]["by_stage"] == []


def test_iso_datetimes_with_offsets(clickhouse):
    events = all_events()
    ingest(clickhouse, events, payloads(events))
    report = funnel(clickhouse, "2026-03-01T10:00:00+03:00", "2026-03-01T12:30:00+03:00")
    assert report["deals"] == 2  # d1 at 10:00 MSK (inclusive) and d2 at 12:00 MSK


@pytest.mark.parametrize(
    "start, end, tz, field",
    [
        ("2026-13-01", "2026-03-02", "UTC", "from"),
        ("2026-03-01", "yesterday!", "UTC", "to"),
        ("2026-03-02", "2026-03-01", "UTC", "to"),
        ("2026-03-01", "2026-03-02", "Mars/Olympus", "tz"),
    ],
)
def test_bad_periods_name_the_field(start, end, tz, field):
    with pytest.raises(Invalid) as error:
        Period.parse(start, end, tz)
    assert error.value.field == field
