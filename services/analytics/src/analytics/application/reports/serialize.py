"""JSON for reports: money as decimal strings with kopecks, never floats (the analysts' SQL
answers with `adapters.sql_readonly.exact_json`, which keeps every digit instead)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")


PLAIN = frozenset((str, int, float, bool, type(None)))  # as they are in JSON


def report_json(value: Any) -> Any:
    if type(value) in PLAIN:  # most values of a long report: checked first, by exact type
        return value
    if isinstance(value, Decimal):
        return str(value.quantize(CENT))
    if isinstance(value, dict):
        return {k: report_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [report_json(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC).isoformat()  # DateTime64(3, 'UTC') comes back naive
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
