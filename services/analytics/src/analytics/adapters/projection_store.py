"""The projection's writes to ClickHouse: rows by table, and the history of folded keys."""

from __future__ import annotations

from collections.abc import Sequence

from analytics.adapters.clickhouse import ClickHouse
from analytics.projection.rows import Row
from crm_contracts.envelope import Event
from crm_contracts.events import ANY_EVENT


class ClickHouseProjectionStore:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        row_type = type(rows[0])
        self.ch.insert(row_type.TABLE, [r.values() for r in rows], row_type.columns())

    def history(self, stream: str, keys: set[str]) -> list[Event]:
        if not keys:
            return []
        rows = self.ch.rows(
            "SELECT payload FROM {db}.fold_events FINAL "
            "WHERE stream = {stream:String} AND key IN {keys:Array(String)} ORDER BY key, version",
            {"stream": stream, "keys": sorted(keys)},
        )
        return [ANY_EVENT.validate_json(r["payload"]) for r in rows]
