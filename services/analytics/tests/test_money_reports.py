"""Money reports on the real engine over one hand-built February; every expected number is
worked out by hand in the comments."""

from datetime import UTC, datetime

import pytest

from analytics.application.reports.cohorts import amount_distribution, cohorts, parse_edges
from analytics.application.reports.list_page import WHOLE, ListPage
from analytics.application.reports.money import (
    abc,
    active_clients,
    client_profitability,
    dynamics,
    repeat_sales,
)
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sales import managers, weighted_pipeline
from services.analytics.tests.history import DealStory, manager, plan
from services.analytics.tests.reports_support import by, load, run


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def history():
    a1 = DealStory("a1", at(1, 5), "1000", client="A", manager="m1")
    a1.win(at(1, 10)).pay("1000", at(1, 12))
    a2 = DealStory("a2", at(2, 3), "500", client="A", manager="m1", cost="200")
    a2.win(at(2, 5)).pay("200", at(2, 6)).pay("300", at(2, 20))  # partial payments add up
    a2.task("t1", due_at=at(2, 10), at=at(2, 3, 11)).complete("t1", at(2, 9))
    a2.task("t2", due_at=at(2, 12), at=at(2, 3, 12)).complete("t2", at(2, 13))  # late
    b1 = DealStory("b1", at(2, 1), "3000", client="B", manager="m2", cost="1000")
    b1.win(at(2, 10)).pay("3000", at(2, 11))
    b1.task("t3", due_at=at(2, 14), at=at(2, 1, 11))  # never done: overdue
    b1.task("t4", due_at=at(2, 20), at=at(2, 1, 12))  # due after "now" (Feb 15)
    c1 = DealStory("c1", at(1, 20), "700", client="C", manager="m1")
    c1.win(at(1, 25)).pay("700", at(1, 26))
    # 23:30 UTC on 28 Feb is already 1 March in Moscow.
    d1 = DealStory("d1", at(2, 15), "100", client="D", manager="m2")
    d1.pay("100", at(2, 28, 22)).win(at(2, 28, 23, 30))
    b2 = DealStory("b2", at(2, 20), "50", client="B", manager="m2").move(
        "lost", at(2, 21), "lost", "price"
    )
    e1 = DealStory("e1", at(2, 10), "2000", client="E", manager="m3").move("proposal", at(2, 11))
    e2 = DealStory("e2", at(2, 11), "1000", client="E", manager="m3").move("invoice", at(2, 12))
    e3 = DealStory("e3", at(2, 12), "0", client="F", manager="m3")
    events = [e for s in (a1, a2, b1, c1, d1, b2, e1, e2, e3) for e in s.events]
    events += [
        manager("m1", "Anna", at(1, 1)),
        manager("m2", "Boris", at(1, 1)),
        plan("m1", "2026-02", "1000", at(1, 1)),
        plan("m2", "2026-02", "4000", at(1, 1)),
    ]
    return events


@pytest.fixture
def ch(clickhouse):
    load(clickhouse, history())
    return clickhouse


def feb(ch, compute, tz="UTC", **query):
    return run(ch, compute, "2026-02-01", "2026-03-01", tz, **query)


def test_dynamics_by_month_and_week(ch):
    month = feb(ch, lambda c, q: dynamics(c, q, "month"))
    # Payments in Feb: 200 + 300 (a2) + 3000 (b1) + 100 (d1); won in Feb: a2, b1, d1.
    [row] = month["rows"]
    assert row | {"drill": ""} == {
        "bucket": "2026-02-01",
        "revenue": "3600.00",
        "payments": 4,
        "won": 3,
        "won_amount": "3600.00",
        "drill": "",
    }
    week = feb(ch, lambda c, q: dynamics(c, q, "week"))
    # The first week starts on Monday 26 Jan; its rows are those of 1 Feb, inside the period.
    assert week["rows"][0]["drill"].startswith(
        "/v1/drill/deals?from=2026-02-01T00%3A00%3A00%2B00%3A00&to=2026-02-02T00%3A00%3A00"
    )
    assert [(r["bucket"], r["revenue"], r["won"]) for r in week["rows"]] == [
        ("2026-01-26", "0.00", 0),
        ("2026-02-02", "200.00", 1),
        ("2026-02-09", "3000.00", 1),
        ("2026-02-16", "300.00", 0),
        ("2026-02-23", "100.00", 1),
    ]


def test_dynamics_in_moscow_moves_the_last_evening_to_march(ch):
    report = feb(ch, lambda c, q: dynamics(c, q, "month"), tz="Europe/Moscow")
    assert report["totals"]["revenue"] == "3500.00" and report["totals"]["won"] == 2


def test_active_clients_and_win_back(ch):
    report = feb(ch, active_clients)
    # Feb: A, B, D paid. The 28 days before (4–31 Jan): A and C paid; C did not pay in Feb.
    assert report["totals"]["active_clients"] == 3
    assert report["totals"]["active_clients_previous_period"] == 2
    assert [(r["client_id"], r["revenue_previous_period"]) for r in report["win_back"]] == [
        ("C", "700.00")
    ]


@pytest.mark.parametrize("page", [WHOLE, ListPage(4), ListPage(4, 8, "-last_paid_at")])
def test_with_nobody_to_win_back_the_counts_still_come(clickhouse, page):
    k = DealStory("k", at(1, 2), "100", client="K").pay("100", at(1, 10)).pay("50", at(2, 10))
    m = DealStory("m", at(2, 2), "70", client="M").pay("70", at(2, 12))
    load(clickhouse, k.events + m.events)
    q = ReportQuery(Period.parse("2026-02-01", "2026-03-01", "UTC"))
    totals = active_clients(clickhouse, q, page)["totals"]
    assert (totals["active_clients"], totals["active_clients_previous_period"]) == (2, 1)
    assert totals["win_back"] == 0


def test_repeat_sales(ch):
    totals = feb(ch, repeat_sales)["totals"]
    # Won in Feb: a2, b1, d1; only A had won before (a1 in January).
    assert (totals["won_deals"], totals["repeat_deals"], totals["repeat_deal_share"]) == (
        3,
        1,
        0.3333,
    )
    assert (totals["clients_with_won_deal"], totals["repeat_clients"]) == (3, 1)


def test_abc(ch):
    report = feb(ch, abc)
    # B 3000 (before 0 % → A), A 500 (before 83.33 % → B), D 100 (before 97.22 % → C).
    assert [(r["client_id"], r["revenue"], r["class"]) for r in report["rows"]] == [
        ("B", "3000.00", "A"),
        ("A", "500.00", "B"),
        ("D", "100.00", "C"),
    ]
    assert [r["share_before_pct"] for r in report["rows"]] == [0.0, 83.3333, 97.2222]
    assert report["totals"]["revenue"] == "3600.00"


def test_client_profitability(ch):
    report = feb(ch, client_profitability)
    assert [(r["client_id"], r["revenue"], r["cost"], r["margin"]) for r in report["rows"]] == [
        ("B", "3000.00", "1000.00", "2000.00"),
        ("A", "500.00", "200.00", "300.00"),
        ("D", "100.00", "0.00", "100.00"),
    ]
    assert report["totals"] == {"revenue": "3600.00", "cost": "1200.00", "margin": "2400.00"}


def test_cohorts(ch):
    report = run(ch, cohorts, "2026-01-01", "2026-03-01")
    # January: A and C paid first; A paid again in February. February: B and D.
    assert report["rows"][0]["cohort"] == "2026-01" and report["rows"][0]["clients"] == 2
    assert report["rows"][0]["retention"] == [{"month": 1, "clients": 1, "share": 0.5}]
    assert (report["rows"][1]["cohort"], report["rows"][1]["clients"]) == ("2026-02", 2)
    assert report["rows"][1]["retention"] == []


def test_amount_distribution(ch):
    report = feb(ch, lambda c, q: amount_distribution(c, q, parse_edges("0,500,1000")))
    assert [{k: v for k, v in r.items() if k != "drill"} for r in report["rows"]] == [
        {
            "month": "2026-02",
            "buckets": [
                {"bucket": "0-500", "deals": 1},
                {"bucket": "500-1000", "deals": 1},
                {"bucket": "1000+", "deals": 1},
            ],
        }
    ]


def test_managers_with_plan_and_forecast(ch):
    now = at(2, 15, 0)  # 14 of 28 days have passed: the forecast doubles revenue so far
    report = by(feb(ch, lambda c, q: managers(c, q, now=now))["rows"], "manager_id")
    m1, m2, m3 = report["m1"], report["m2"], report["m3"]
    assert (m1["name"], m1["deals_opened"], m1["deals_won"], m1["conversion"]) == (
        "Anna",
        1,
        1,
        1.0,
    )
    assert (m1["revenue"], m1["avg_cycle_days"], m1["tasks_done"], m1["tasks_overdue"]) == (
        "500.00",
        2.0,
        2,
        1,
    )
    assert (m1["plan"], m1["forecast"], m1["forecast_to_plan_pct"]) == ("1000.00", "1000.00", 100.0)
    # m2 opened b1, d1, b2 and won b1 (9 days) and d1 (13 days 13.5 h): cycle 11.28 days.
    assert (m2["deals_opened"], m2["deals_opened_won"], m2["conversion"]) == (3, 2, 0.6667)
    assert (m2["revenue"], m2["avg_cycle_days"], m2["tasks_done"], m2["tasks_overdue"]) == (
        "3100.00",
        11.28,
        0,
        1,
    )
    assert (m2["plan"], m2["forecast"], m2["forecast_to_plan_pct"]) == ("4000.00", "6200.00", 155.0)
    assert (m3["deals_opened"], m3["conversion"], m3["plan"], m3["avg_cycle_days"]) == (
        3,
        0.0,
        None,
        None,
    )


def test_plan_is_prorated_for_part_of_a_month(ch):
    report = run(ch, lambda c, q: managers(c, q, now=at(3, 1)), "2026-02-01", "2026-02-08")
    # 7 of February's 28 days: a quarter of the plan.
    assert by(report["rows"], "manager_id")["m2"]["plan"] == "1000.00"


def test_weighted_pipeline(ch):
    report = feb(ch, weighted_pipeline)
    rows = {r["stage"]: (r["deals"], r["amount"], r["weighted"]) for r in report["rows"]}
    # proposal 2000 × 0.5, invoice 1000 × 0.8, new 0 × 0.1.
    assert rows == {
        "new": (1, "0.00", "0.00"),
        "proposal": (1, "2000.00", "1000.00"),
        "invoice": (1, "1000.00", "800.00"),
    }
    assert report["totals"] == {"deals": 3, "amount": "3000.00", "weighted": "1800.00"}


def test_manager_filter_applies_to_money(ch):
    report = feb(ch, lambda c, q: dynamics(c, q, "month"), manager="m1")
    assert report["totals"]["revenue"] == "500.00" and report["totals"]["won"] == 1


def test_compare_with_previous_period(ch):
    report = feb(ch, lambda c, q: dynamics(c, q, "month"), compare="previous_period")
    totals = report["totals"]
    # The 28 days before: a1 (1000, 12 Jan) and c1 (700, 26 Jan) paid; both won then.
    assert totals["previous"]["revenue"] == "1700.00"
    assert totals["delta"]["revenue"] == "1900.00"
    assert totals["delta_pct"]["revenue"] == 111.76
    assert (totals["previous"]["won"], totals["delta"]["won"]) == (2, 1)


def test_payments_in_another_currency_count_in_the_base_currency(ch):
    from datetime import date
    from decimal import Decimal

    story = DealStory("g1", at(2, 14), "100", client="G", manager="m1").win(at(2, 14, 12))
    story.pay("100.55", at(2, 15))
    usd = story.events[-1].model_copy(update={"currency": "USD"})
    load(ch, [*story.events[:-1], usd])
    ch.insert(
        "currency_rates",
        [
            [date(2026, 1, 1), "USD", Decimal("80")],
            [date(2026, 2, 1), "USD", Decimal("90.5")],
            [date(2026, 2, 20), "USD", Decimal("95")],
        ],
        ["date", "currency", "rate"],
    )
    month = feb(ch, lambda c, q: dynamics(c, q, "month"))
    # 100.55 USD on 15 Feb at 90.5 (the latest rate on or before it) = 9099.775 → 9099.78.
    assert month["totals"]["revenue"] == "12699.78"  # 3600 in RUB + 9099.78
    assert by(feb(ch, abc)["rows"], "client_id")["G"]["revenue"] == "9099.78"


@pytest.mark.parametrize(
    ("now", "note"),
    [
        (at(2, 1, 1), "no forecast until one full day of the period has elapsed"),
        (at(1, 31, 23), "no forecast: the period has not started"),
    ],
)
def test_no_forecast_before_one_full_day(ch, now, note):
    report = feb(ch, lambda c, q: managers(c, q, now=now))
    assert report["forecast_note"] == note
    m2 = by(report["rows"], "manager_id")["m2"]
    assert (m2["plan"], m2["forecast"], m2["forecast_to_plan_pct"]) == ("4000.00", None, None)


def test_the_forecast_starts_after_one_full_day(ch):
    report = feb(ch, lambda c, q: managers(c, q, now=at(2, 2, 0)))
    assert report["forecast_note"] is None
    # The history's payments (3100.00 for m2) all count as "so far": × 28 days ÷ 1 day.
    assert by(report["rows"], "manager_id")["m2"]["forecast"] == "86800.00"


def test_a_period_shorter_than_a_day_has_its_forecast_once_over(ch):
    report = run(ch, lambda c, q: managers(c, q, now=at(3, 1)), "2026-02-11", "2026-02-11T12:00")
    assert report["forecast_note"] is None
    assert by(report["rows"], "manager_id")["m2"]["forecast"] == "3000.00"


@pytest.mark.parametrize(
    ("edges", "counts"),
    [
        # d1 (100.00) is below the first edge and left out; 3000 reaches the edge it equals.
        ("100.001,500,3000,1E+20", [0, 1, 1, 0]),
        # Edges between two cents: an amount with cents reaches the edge iff it reaches the
        # next cent up, so 100.00 is in [99.995, 100.005) and 500 in the last bucket.
        ("99.995,100.005", [1, 2]),
        ("0.001,0.002", [0, 3]),  # both edges round up to one cent: the first bucket is empty
    ],
)
def test_amount_buckets_follow_the_edges_exactly(ch, edges, counts):
    report = feb(ch, lambda c, q: amount_distribution(c, q, parse_edges(edges)))
    assert [b["deals"] for b in report["rows"][0]["buckets"]] == counts
