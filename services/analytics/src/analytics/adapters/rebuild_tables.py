"""The ClickHouse side of a rebuild: a fresh database beside the live one, and the swap."""

from __future__ import annotations

from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.adapters.schema import migrate


class ClickHouseDatabases:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch
        self.live = ch.db

    def prepare(self, database: str) -> ClickHouseProjectionStore:
        fresh = self.ch.on_database(database)
        fresh.command("DROP DATABASE IF EXISTS {db} SYNC")
        migrate(fresh)
        return ClickHouseProjectionStore(fresh)

    def swap(self, database: str, tables: tuple[str, ...]) -> None:
        pairs = ", ".join(f"{self.ch.db}.{t} AND {database}.{t}" for t in tables)
        with self.ch.consistent():  # no report sees half of it
            self.ch.command(f"EXCHANGE TABLES {pairs}")

    def drop(self, database: str) -> None:
        self.ch.on_database(database).command("DROP DATABASE IF EXISTS {db} SYNC")
