"""The numbers of a digest, read from the analytics reports API. Tolerant on purpose: it
reads only three totals and accepts a few shapes, since that API evolves on its own. It
sends `X-API-Key` (a viewer key of analytics: `NOTIFICATION_ANALYTICS_API_KEY`).

- `GET {analytics_url}/v1/reports/dynamics?from=&to=&bucket=day&tz=` → won deals and revenue:
  `totals.won` / `totals.revenue` (also under `current.totals`), else the sum over the rows of
  `buckets`/`rows`/`series`/`current` (fields `won` or `won_deals`, and `revenue`).
- `GET {analytics_url}/v1/reports/lead-funnel?from=&to=&tz=` → leads: `totals.leads` (also
  under `current`), or top-level `leads`, else the sum of `leads` over `channels`/`rows`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from notification.domain.deliveries import SendError

_ROWS = ("buckets", "rows", "series", "channels", "current")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, dict):
        value = value.get("value", value.get("current", value.get("count", value.get("total"))))
    try:
        return None if value is None or isinstance(value, bool) else Decimal(str(value))
    except ArithmeticError:
        return None


def total(report: dict[str, Any], *names: str) -> Decimal:
    """The first of `names` found as a total, else summed over the report's rows; 0 if none."""
    inner = report.get("current")
    current: dict[str, Any] = inner if isinstance(inner, dict) else {}
    for holder in (report.get("totals"), current.get("totals"), current, report):
        if not isinstance(holder, dict):
            continue
        for name in names:
            found = _number(holder.get(name))
            if found is not None:
                return found
    for key in _ROWS:
        rows = report.get(key)
        if isinstance(rows, list):
            return sum((_row_value(row, names) for row in rows), Decimal(0))
    return Decimal(0)


def _row_value(row: Any, names: tuple[str, ...]) -> Decimal:
    for name in names if isinstance(row, dict) else ():
        found = _number(row.get(name))
        if found is not None:
            return found
    return Decimal(0)


class AnalyticsReports:
    def __init__(self, base_url: str, timeout: float, api_key: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers = {"X-API-Key": api_key} if api_key else {}

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(
                    f"{self.base_url}{path}", params=params, headers=self.headers
                )
        except httpx.HTTPError as exc:
            raise SendError(
                f"analytics {path}: {type(exc).__name__}: {exc}", transient=True
            ) from exc
        if response.status_code != 200:
            transient = response.status_code >= 500 or response.status_code == 429
            raise SendError(f"analytics {path}: HTTP {response.status_code}", transient=transient)
        body = response.json()
        return body if isinstance(body, dict) else {}

    async def digest(self, start: datetime, end: datetime, tz: str) -> dict[str, Any]:
        period = {"from": start.isoformat(), "to": end.isoformat(), "tz": tz}
        dynamics = await self._get("/v1/reports/dynamics", period | {"bucket": "day"})
        funnel = await self._get("/v1/reports/lead-funnel", period)
        return {
            "leads": int(total(funnel, "leads")),
            "won": int(total(dynamics, "won", "won_deals")),
            "revenue": total(dynamics, "revenue"),
            "currency": dynamics.get("currency", "RUB"),
        }
