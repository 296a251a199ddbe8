"""Deal amounts in the base currency: a closed deal at the latest rate on or before its
closing date, an open one at today's latest rate, no rate → the amount as it is; the funnel,
won amounts, weighted pipeline, amount distribution and its drill-down all agree."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.cohorts import amount_distribution, parse_edges
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.money import dynamics
from analytics.application.reports.sales import weighted_pipeline
from services.analytics.tests.apps import offline_client
from services.analytics.tests.history import DealStory
from services.analytics.tests.reports_support import Compute, load, run

KEY = {"X-API-Key": "fx-key"}


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def in_currency(story: DealStory, currency: str) -> list:
    return [
        e.model_copy(update={"currency": currency}) if hasattr(e, "currency") else e
        for e in story.events
    ]


@pytest.fixture
def ch(clickhouse: ClickHouse) -> ClickHouse:
    won_usd = DealStory("w1", at(2, 3), "100", client="A").win(at(2, 16))
    open_usd = DealStory("o1", at(2, 4), "10", client="B")
    won_eur = DealStory("x1", at(2, 5), "7", client="C").win(at(2, 10))  # EUR has no rate
    won_rub = DealStory("r1", at(2, 6), "1000", client="D").win(at(2, 12))
    load(
        clickhouse,
        [
            *in_currency(won_usd, "USD"),
            *in_currency(open_usd, "USD"),
            *in_currency(won_eur, "EUR"),
            *won_rub.events,
        ],
    )
    clickhouse.insert(
        "currency_rates",
        [
            [date(2026, 2, 1), "USD", Decimal("90.5")],
            [date(2026, 2, 20), "USD", Decimal("95")],  # the latest: open deals use it
        ],
        ["date", "currency", "rate"],
    )
    return clickhouse


def feb(ch: ClickHouse, compute: Compute) -> Any:
    return run(ch, compute, "2026-02-01", "2026-03-01")


def test_won_amounts_use_the_rate_at_closing(ch):
    # w1: 100 USD won 16 Feb at 90.5 = 9050; x1: 7 EUR as it is; r1: 1000 RUB.
    assert feb(ch, lambda c, q: dynamics(c, q, "month"))["totals"]["won_amount"] == "10057.00"


def test_open_deals_use_todays_latest_rate(ch):
    assert feb(ch, weighted_pipeline)["totals"]["amount"] == "950.00"  # 10 USD at 95


def test_the_funnel_sums_converted_amounts(ch):
    first = feb(ch, sales_funnel)["stages"][0]
    assert (first["reached"], first["amount"]) == (4, "11007.00")  # 9050 + 950 + 7 + 1000


def test_amount_buckets_and_their_drill_use_the_converted_amount(ch, tmp_path):
    compute = lambda c, q: amount_distribution(c, q, parse_edges("0,1000,5000"))  # noqa: E731
    report = feb(ch, compute)
    [month] = report["rows"]
    assert [b["deals"] for b in month["buckets"]] == [1, 1, 1]  # 7 | 1000 | 9050
    api = offline_client(ch, tmp_path, api_key=KEY["X-API-Key"])
    expected = {"0-1000": ["x1"], "1000-5000": ["r1"], "5000+": ["w1"]}
    for label, link in report["drill_rows"]["2026-02"].items():
        rows = api.get(link, headers=KEY).json()
        assert (rows["total"], [r["deal_id"] for r in rows["rows"]]) == (1, expected[label])
