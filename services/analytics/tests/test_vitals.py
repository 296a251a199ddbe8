"""Business vitals in /metrics: today's leads by channel, deals won and revenue in the base
currency, counted from the start of today in the report's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from prometheus_client import REGISTRY

from analytics.adapters.analyst_views import create_views
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.vitals_store import ClickHouseVitals
from analytics.application.vitals import Vitals, VitalsMonitor
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import load


def test_today_counts_only_todays_leads_wins_and_payments(clickhouse: ClickHouse) -> None:
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1, hours=1)
    won_today = DealStory("d1", now, "100", client="c1", lead_id="l1").win(now).pay("70", now)
    won_before = DealStory("d2", yesterday, "50", client="c2", lead_id="l2")
    won_before = won_before.win(yesterday).pay("50", yesterday)
    load(
        clickhouse,
        [
            lead("l1", now, utm_source="google", utm_medium="cpc"),
            lead("l3", now, utm_source="google", utm_medium="cpc"),
            lead("l4", now),
            lead("l2", yesterday, utm_source="google", utm_medium="cpc"),
            *won_today.events,
            *won_before.events,
        ],
    )
    create_views(clickhouse, "RUB")
    vitals = ClickHouseVitals(clickhouse).today("UTC")
    assert sum(vitals.leads_by_channel.values()) == 3
    assert vitals.leads_by_channel.get("paid") == 2
    assert vitals.deals_won == 1
    assert vitals.revenue == Decimal("70")


async def test_the_monitor_sets_the_gauges_and_zeroes_a_channel_gone_quiet() -> None:
    class Source:
        def __init__(self) -> None:
            self.answers = [
                ({"paid": 2, "direct": 1}, 1, Decimal("70.5")),
                ({"paid": 1}, 0, Decimal("0")),
            ]

        def today(self, tz: str) -> Vitals:
            leads, won, revenue = self.answers.pop(0)
            return Vitals(leads, won, revenue)

    monitor = VitalsMonitor(Source(), "Europe/Moscow")
    await monitor.refresh()
    sample = REGISTRY.get_sample_value
    assert sample("crm_leads_today", {"channel": "direct"}) == 1
    assert sample("crm_revenue_today") == 70.5
    await monitor.refresh()
    assert sample("crm_leads_today", {"channel": "direct"}) == 0
    assert sample("crm_leads_today", {"channel": "paid"}) == 1
    assert sample("crm_deals_won_today") == 0
