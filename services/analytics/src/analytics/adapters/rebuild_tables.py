"""The ClickHouse side of a rebuild: a fresh database beside the live one, and the swap."""

from __future__ import annotations

from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.adapters.schema import migrate
from analytics.application.reports.sql import Sql

DROP = Sql("DROP DATABASE IF EXISTS {db} SYNC")
EXCHANGE = Sql("EXCHANGE TABLES {pairs}")
# `{db}` is the live database; the fresh one is a bound identifier. `{table}` is one of ours.
PAIR = Sql("{db}.{table} AND {fresh:Identifier}.{table}")


def exchange(database: str, tables: tuple[str, ...]) -> Sql:
    """One statement swapping each live table with its namesake in `database`."""
    pairs = ", ".join(PAIR.fill(table=table).text for table in tables)
    return EXCHANGE.fill(pairs=pairs).bind(fresh=database)


class ClickHouseDatabases:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch
        self.live = ch.db

    def prepare(self, database: str) -> ClickHouseProjectionStore:
        fresh = self.ch.on_database(database)
        fresh.command(DROP.text)
        migrate(fresh)
        return ClickHouseProjectionStore(fresh)

    def swap(self, database: str, tables: tuple[str, ...]) -> None:
        statement = exchange(database, tables)
        with self.ch.swapping():  # no report sees half of it
            self.ch.command(statement.text, dict(statement.params))

    def drop(self, database: str) -> None:
        self.ch.on_database(database).command(DROP.text)
