"""JSON for reports: money as decimal strings with kopecks, never floats (the analysts' SQL
answers with `adapters.sql_readonly.exact_json`, which keeps every digit instead).
`report_json` gives the values, `report_bytes` the API's answer: the same JSON, written in one
pass."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from analytics.application.reports.json_rows import JsonRows

CENT = Decimal("0.01")


PLAIN = frozenset((str, int, float, bool, type(None)))  # as they are in JSON


def report_json(value: Any) -> Any:
    if type(value) in PLAIN:  # most values of a long report: checked first, by exact type
        return value
    if isinstance(value, Decimal):
        return str(value.quantize(CENT))
    if isinstance(value, dict):
        return {k: report_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | JsonRows):
        return [report_json(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC).isoformat()  # DateTime64(3, 'UTC') comes back naive
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# As `report_json` writes them: a naive date-time is UTC; keys that are not text as text.
OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


def report_bytes(value: Any) -> bytes:
    """`report_json(value)` as compact JSON, written by orjson straight from the values: a
    client list at 10 M events has some 200 000 rows, and converting them to a copy first,
    then having the framework walk that copy again, cost seconds."""
    return orjson.dumps(value, default=_money, option=OPTIONS)


def _money(value: Any) -> Any:
    """What orjson cannot write itself: money (`report_json` writes any other value as is),
    and rows the engine wrote as JSON already."""
    if isinstance(value, Decimal):
        return str(value.quantize(CENT))
    if isinstance(value, JsonRows):
        return orjson.Fragment(value.json())
    raise TypeError(f"no JSON for {type(value).__name__}")
