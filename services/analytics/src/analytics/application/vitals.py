"""Business vitals for operators' dashboards (Grafana): today's leads by channel, deals won and
revenue in the base currency, "today" in the report time zone. Read from the projection every
half minute, so a scrape of /metrics never queries ClickHouse."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from analytics.metrics import DEALS_WON_TODAY, LEADS_TODAY, REVENUE_TODAY


@dataclass(frozen=True)
class Vitals:
    leads_by_channel: dict[str, int]
    deals_won: int
    revenue: Decimal


class VitalsSource(Protocol):
    """Today's figures (adapters/vitals_store.py); blocking, run in a thread."""

    def today(self, tz: str) -> Vitals: ...


class VitalsMonitor:
    def __init__(self, source: VitalsSource, tz: str) -> None:
        self.source = source
        self.tz = tz
        self._channels: set[str] = set()  # seen before: shown as 0 once a new day starts

    async def refresh(self) -> None:
        vitals = await asyncio.to_thread(self.source.today, self.tz)
        self._channels |= set(vitals.leads_by_channel)
        for channel in self._channels:
            LEADS_TODAY.labels(channel).set(vitals.leads_by_channel.get(channel, 0))
        DEALS_WON_TODAY.set(vitals.deals_won)
        REVENUE_TODAY.set(float(vitals.revenue))
