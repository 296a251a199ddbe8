"""The projection's writes to ClickHouse: rows by table, column by column, and the history
and keys of folded tables."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import attrgetter

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
        columns = row_type.columns()
        # Column-oriented: one list per column, taken straight from the dataclasses.
        data = [list(map(attrgetter(c), rows)) for c in columns]
        self.ch.insert_columns(row_type.TABLE, data, columns)

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
