"""Today's business vitals from the analysts' views (latest state, amounts in the base
currency), counted from the start of the day in the given time zone."""

from __future__ import annotations

from decimal import Decimal

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.sql import Sql
from analytics.application.vitals import Vitals

TODAY = Sql("toStartOfDay(now({tz:String}))")
LEADS = Sql(
    "SELECT channel, count() AS n FROM {db}.v_leads WHERE received_at >= {today} GROUP BY channel"
)
WON = Sql("SELECT count() AS n FROM {db}.v_deals WHERE status = 'won' AND closed_at >= {today}")
REVENUE = Sql("SELECT sum(amount_base) AS s FROM {db}.v_payments WHERE paid_at >= {today}")


class ClickHouseVitals:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def today(self, tz: str) -> Vitals:
        today = TODAY.bind(tz=tz)
        leads = self.ch.select(LEADS.fill(today=today))
        won = self.ch.select(WON.fill(today=today))
        revenue = self.ch.select(REVENUE.fill(today=today))
        return Vitals(
            leads_by_channel={r["channel"]: int(r["n"]) for r in leads},
            deals_won=int(won[0]["n"]),
            revenue=Decimal(revenue[0]["s"] or 0),
        )
