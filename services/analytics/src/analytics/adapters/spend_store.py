"""Ad spend and currency rates in ClickHouse."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.spend import Rates


class ClickHouseSpendStore:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def rates(self, currencies: set[str], until: date) -> Rates:
        found: Rates = {c: ([], []) for c in currencies}
        if not currencies:
            return found
        rows = self.ch.rows(
            "SELECT currency, date, rate FROM {db}.currency_rates FINAL "
            "WHERE currency IN {currencies:Array(String)} AND date <= {until:Date} "
            "ORDER BY currency, date",
            {"currencies": sorted(currencies), "until": until},
        )
        for row in rows:
            dates, rates = found[row["currency"]]
            dates.append(row["date"])
            rates.append(row["rate"])
        return found

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        self.ch.insert(table, rows, columns)

    def spend(self, start: date, end: date, limit: int) -> list[dict[str, Any]]:
        return self.ch.rows(
            "SELECT date, source, medium, campaign, cost, currency, cost_base, clicks, "
            "impressions FROM {db}.ad_spend FINAL WHERE date >= {start:Date} AND date < "
            "{end:Date} ORDER BY date, source, medium, campaign LIMIT {limit:UInt32}",
            {"start": start, "end": end, "limit": limit},
        )
