"""Ad spend and currency rates imported by operators (`ad_spend`, docs/reports.md).

Spend is one row per (date, source, medium, campaign); a re-import replaces it
(ReplacingMergeTree by `updated_at`). `cost_base` is the cost in the base currency: the cost
itself, or cost × the latest rate of its currency on or before the spend date, rounded half up
to the kopeck. A request is checked whole before anything is written: one bad row, or a
currency without a rate, refuses all of it."""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from analytics.domain.tabular import (
    Errors,
    Labelled,
    a_currency,
    a_date,
    count,
    decimal,
    text,
)
from crm_contracts.runtime.errors import Invalid

SPEND_COLUMNS = (
    "date",
    "source",
    "medium",
    "campaign",
    "cost",
    "currency",
    "clicks",
    "impressions",
)
RATE_COLUMNS = ("date", "currency", "rate")
KOPECK = Decimal("0.01")
MONEY_LIMIT = Decimal(10) ** 16  # Decimal(18, 2)
MAX_ROWS = 100_000

SPEND_FIELDS = {
    "date": a_date,
    # Lower-cased like the touchpoints' utm_source/utm_medium, so spend joins onto touches.
    "source": lambda raw: text(200, required=True)(raw).lower(),
    "medium": lambda raw: text(200, required=False)(raw).lower(),
    "campaign": text(500, required=False),
    "cost": decimal(2),
    "currency": a_currency,
    "clicks": count,
    "impressions": count,
}
RATE_FIELDS = {"date": a_date, "currency": a_currency, "rate": decimal(6, positive=True)}
Rates = dict[str, tuple[list[date], list[Decimal]]]  # currency → its rate dates and rates


class SpendStore(Protocol):
    """The `ad_spend` and `currency_rates` tables (adapters/spend_store.py)."""

    def rates(self, currencies: set[str], until: date) -> Rates:
        """Per currency, its rate dates (ascending) and rates, up to `until`."""
        ...

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        """One INSERT."""
        ...

    def spend(self, start: date, end: date, limit: int) -> list[dict[str, Any]]:
        """Spend rows with `start <= date < end`, ordered by their key."""
        ...


class _Clock:
    """`updated_at` for ReplacingMergeTree: strictly increasing within the process, so a
    re-import in the same millisecond still wins over the import before it."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            now = datetime.now(UTC)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # DateTime64(3)
            self._last = max(now, self._last + timedelta(milliseconds=1))
            return self._last


CLOCK = _Clock()


def _parse(rows: list[Labelled], fields: dict[str, Any], key: tuple[str, ...]) -> list[Labelled]:
    """Every field of every row, all errors at once; a key repeated in one request is refused
    (which of the two should win would be a guess)."""
    errors, parsed, seen = Errors(), [], {}
    for label, raw in rows:
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            errors.add(label, f"unknown fields: {', '.join(unknown)}")
        values = {
            name: errors.check(label, name, parse, raw.get(name)) for name, parse in fields.items()
        }
        if any(values[name] is None for name in fields):
            continue
        identity = tuple(values[name] for name in key)
        if identity in seen:
            errors.add(label, f"same {'/'.join(key)} as {seen[identity]}")
        seen[identity] = label
        parsed.append((label, values))
    errors.raise_if_any()
    return parsed


def import_spend(store: SpendStore, rows: list[Labelled], base: str) -> dict[str, Any]:
    parsed = _parse(rows, SPEND_FIELDS, ("date", "source", "medium", "campaign"))
    foreign = {v["currency"] for _, v in parsed if v["currency"] != base}
    until = max((v["date"] for _, v in parsed), default=date.min)
    rates = store.rates(foreign, until)
    errors, out, updated_at = Errors(), [], CLOCK.now()
    for label, v in parsed:
        cost_base = v["cost"]
        if v["currency"] != base:
            dates, values = rates[v["currency"]]
            at = bisect_right(dates, v["date"])
            if not at:
                errors.add(
                    f"{label}.currency",
                    f"no {v['currency']}→{base} rate on or before {v['date']}; "
                    "load it with POST /v1/currency-rates",
                )
                continue
            cost_base = (v["cost"] * values[at - 1]).quantize(KOPECK, rounding=ROUND_HALF_UP)
            if cost_base >= MONEY_LIMIT:
                errors.add(f"{label}.cost", f"{cost_base} {base} does not fit Decimal(18, 2)")
                continue
        out.append([*(v[name] for name in SPEND_COLUMNS), cost_base, updated_at])
    errors.raise_if_any()
    store.insert("ad_spend", out, [*SPEND_COLUMNS, "cost_base", "updated_at"])
    return {"imported": len(out), "base_currency": base}


def import_rates(store: SpendStore, rows: list[Labelled], base: str) -> dict[str, Any]:
    parsed = _parse(rows, RATE_FIELDS, ("date", "currency"))
    errors = Errors()
    for label, v in parsed:
        if v["currency"] == base:
            errors.add(f"{label}.currency", f"{base} is the base currency; its rate is always 1")
    errors.raise_if_any()
    updated_at = CLOCK.now()
    out = [[v["date"], v["currency"], v["rate"], updated_at] for _, v in parsed]
    store.insert("currency_rates", out, [*RATE_COLUMNS, "updated_at"])
    return {"imported": len(out), "base_currency": base}


def list_spend(store: SpendStore, start: date, end: date, limit: int) -> dict[str, Any]:
    """Spend rows with `start <= date < end`, money as decimal strings."""
    if end <= start:
        raise Invalid("must be after from", "to")
    rows = store.spend(start, end, limit)
    for row in rows:
        row["date"] = row["date"].isoformat()
        row["cost"], row["cost_base"] = str(row["cost"]), str(row["cost_base"])
    return {"rows": rows, "count": len(rows)}
