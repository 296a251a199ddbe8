"""Payments of the filtered deals in a period (`payments_between`, behind revenue in every money
report and the `paid` drill-downs): a filter reads a deal's latest row only, whatever older
row lies unmerged beside it; a redelivered payment counts once; a deal's payments in another
period do not count."""

from datetime import UTC, datetime

import pytest

from analytics.application.reports.drill import drill_clients, drill_deals
from analytics.application.reports.money import abc, active_clients, dynamics
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from services.analytics.tests.history import DealStory
from services.analytics.tests.reports_support import awaiting_merge, load, run

TABLES = ("deals", "payments")


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def ch(clickhouse):
    # "kept": m1's deal, paid in March (and in February: another period); "moved": m2's.
    kept = DealStory("kept", at(1, 10), "900", client="K", manager="m1").win(at(1, 20))
    kept.pay("100", at(2, 15)).pay("400", at(3, 5))
    moved = DealStory("moved", at(1, 11), "700", client="M", manager="m2").win(at(1, 21))
    moved.pay("700", at(3, 6))
    load(clickhouse, kept.events + moved.events)
    awaiting_merge(clickhouse, TABLES, redelivered=True)  # every row twice, payments too
    return clickhouse


def older_rows(ch, manager_of: dict[str, str]) -> None:
    """Each deal's row once more as an older version, with another manager."""
    for deal_id, manager in manager_of.items():
        ch.command(
            "INSERT INTO {db}.deals SELECT * REPLACE ({manager:String} AS manager_id, "
            "version - 1 AS version) FROM {db}.deals FINAL WHERE deal_id = {deal:String}",
            {"manager": manager, "deal": deal_id},
        )


def march(ch, compute, **filters):
    return run(ch, compute, "2026-03-01", "2026-04-01", **filters)


def revenue_of(ch, manager):
    report = march(ch, lambda c, q: dynamics(c, q, "month"), manager=manager)
    return report["totals"]["revenue"], report["totals"]["payments"]


def paid_deals(ch, manager):
    q = ReportQuery(Period.parse("2026-03-01", "2026-04-01", "UTC"), manager=manager)
    return [r["deal_id"] for r in drill_deals(ch, q, "paid", {}, 100, 0)["rows"]]


def test_duplicates_and_other_periods_do_not_count(ch):
    assert revenue_of(ch, None) == ("1100.00", 2)
    assert revenue_of(ch, "m1") == ("400.00", 1)
    assert [r["client_id"] for r in march(ch, abc)["rows"]] == ["M", "K"]
    active = march(ch, active_clients)
    assert active["totals"]["active_clients"] == 2
    assert active["totals"]["active_clients_previous_period"] == 1  # K, in February
    assert active["totals"]["win_back"] == 0


def test_an_older_row_matching_the_filter_does_not_select_its_deal(ch):
    older_rows(ch, {"moved": "m1"})  # once m1's, now m2's
    assert revenue_of(ch, "m1") == ("400.00", 1)
    assert paid_deals(ch, "m1") == ["kept"]
    assert [r["client_id"] for r in march(ch, abc, manager="m1")["rows"]] == ["K"]
    q = ReportQuery(Period.parse("2026-03-01", "2026-04-01", "UTC"), manager="m1")
    assert [r["client_id"] for r in drill_clients(ch, q, 100, 0)["rows"]] == ["K"]


def test_an_older_row_not_matching_the_filter_keeps_its_deal(ch):
    older_rows(ch, {"kept": "m2"})  # once m2's, now m1's
    assert revenue_of(ch, "m1") == ("400.00", 1)
    assert revenue_of(ch, "m2") == ("700.00", 1)
    assert paid_deals(ch, "m1") == ["kept"]
    assert paid_deals(ch, "m2") == ["moved"]
