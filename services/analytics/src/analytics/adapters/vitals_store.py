"""Today's business vitals from the analysts' views (latest state, amounts in the base
currency), counted from the start of the day in the given time zone."""

from __future__ import annotations

from decimal import Decimal

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.vitals import Vitals

TODAY = "toStartOfDay(now({tz:String}))"


class ClickHouseVitals:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def today(self, tz: str) -> Vitals:
        params = {"tz": tz}
        leads = self.ch.rows(
            f"SELECT channel, count() AS n FROM {{db}}.v_leads WHERE received_at >= {TODAY} "
            "GROUP BY channel",
            params,
        )
        won = self.ch.rows(
            "SELECT count() AS n FROM {db}.v_deals "
            f"WHERE status = 'won' AND closed_at >= {TODAY}",
            params,
        )
        revenue = self.ch.rows(
            f"SELECT sum(amount_base) AS s FROM {{db}}.v_payments WHERE paid_at >= {TODAY}",
            params,
        )
        return Vitals(
            leads_by_channel={r["channel"]: int(r["n"]) for r in leads},
            deals_won=int(won[0]["n"]),
            revenue=Decimal(revenue[0]["s"] or 0),
        )
