"""The projection's writes to ClickHouse: rows by table, one INSERT each, and the history
and keys of folded tables."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import orjson

from analytics.adapters.clickhouse import ClickHouse
from analytics.domain.projection.rows import Row
from crm_contracts.envelope import Event
from crm_contracts.events import ANY_EVENT


class ClickHouseProjectionStore:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        row_type = type(rows[0])
        # orjson writes the dataclasses as they are (their fields are the columns), in C.
        body = orjson.dumps(rows, default=_decimal)
        self.ch.insert_json(row_type.TABLE, body, row_type.columns())

    def history(self, stream: str, keys: set[str]) -> list[Event]:
        if not keys:
            return []
        # No FINAL: a row stored twice is the same event twice, which the fold skips.
        rows = self.ch.rows(
            "SELECT payload FROM {db}.fold_events "
            "WHERE stream = {stream:String} AND key IN {keys:Array(String)}",
            {"stream": stream, "keys": sorted(keys)},
        )
        return [ANY_EVENT.validate_json(r["payload"]) for r in rows]

    def keys(self, stream: str) -> Iterator[str]:
        rows = self.ch.rows(
            "SELECT DISTINCT key FROM {db}.fold_events WHERE stream = {stream:String}",
            {"stream": stream},
        )
        return (r["key"] for r in rows)


def _decimal(value: Any) -> str:
    """Amounts as their exact text (a float would round them)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not serialisable: {type(value).__name__}")
