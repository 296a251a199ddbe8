"""The ClickHouse of the process, over chDB (embedded) or HTTP (server): two connections.

The writer's (the projection's INSERTs and look-ups, the schema, a rebuild) and the readers'
(reports). The engine runs a query on one while an INSERT lands through the other, so a
report never holds up the projection and a batch never holds up a report. chDB calls are
synchronous, so every call is meant to be run in a worker thread (`asyncio.to_thread`). Each
connection takes one call at a time (a lock of its own): a server refuses a second query in a
session still running one, and a chDB handle takes one call at a time itself. A report of
several queries that must not see a write land between them holds `consistent()`, which the
writes take too. Reads hold a shared lock that a rebuild's swap of the tables takes alone
(`swapping()`), so no read sees half of a swap."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from analytics.adapters.shared_lock import SharedLock
from analytics.settings import AnalyticsSettings

# Query parameters are naive UTC date-times; the engine must read them as UTC whatever the
# host's or the server's time zone is. `FINAL` merges within a partition only, and takes a
# partition of one merged part as it is: no key of ours spans two partitions (schema.py).
SESSION = {"session_timezone": "UTC", "do_not_merge_across_partitions_select_final": 1}


def connect(settings: AnalyticsSettings) -> Client:
    if settings.clickhouse_mode == "chdb":
        settings.chdb_path.mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(
            interface="chdb", path=str(settings.chdb_path), settings=SESSION
        )
    return clickhouse_connect.get_client(
        host=settings.clickhouse_host,
        port=settings.clickhouse_port,
        username=settings.clickhouse_user,
        password=settings.clickhouse_password,
        settings=SESSION,
    )


class Statement(Protocol):
    """A statement and its parameters (`reports.sql.Sql`); `{db}` names the database."""

    @property
    def text(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


class ClickHouse:
    """`client` writes (and runs DDL); `reader` (by default the same connection) answers
    `rows`, `select` and `columns`."""

    def __init__(self, client: Client, database: str, reader: Client | None = None) -> None:
        self.client = client
        self.reader = reader or client
        self.db = database
        self._lock = threading.RLock()
        self._tables = SharedLock()
        # Each connection's turn: the projection's look-ups and its INSERTs (which overlap,
        # on two threads) share the writer's; reports share the readers'.
        self._writer_turn = threading.Lock()
        self._reader_turn = self._writer_turn if self.reader is client else threading.Lock()

    def on_database(self, database: str) -> ClickHouse:
        """The same connections and locks on another database (a rebuild fills one beside the
        live)."""
        return self._sibling(database, self.reader)

    def for_writer(self) -> ClickHouse:
        """The same, reading through the writer's connection: the projection's own look-ups
        do not queue behind a long report on the readers' one."""
        return self._sibling(self.db, self.client)

    def _sibling(self, database: str, reader: Client) -> ClickHouse:
        other = ClickHouse(self.client, database, reader)
        other._lock, other._tables = self._lock, self._tables
        other._writer_turn = self._writer_turn
        other._reader_turn = self._writer_turn if reader is self.client else self._reader_turn
        return other

    def reading(self) -> AbstractContextManager[None]:
        """Held by every read (and by an analyst's connection while it queries): a swap of
        the tables waits for it."""
        return self._tables.shared()

    @contextmanager
    def swapping(self) -> Iterator[None]:
        """Held alone while a rebuild exchanges the tables: no write lands and no read runs
        meanwhile, so nothing sees some tables from before and some from after."""
        with self._lock, self._tables.exclusive():
            yield

    def consistent(self) -> threading.RLock:
        """Hold while running several queries of one report, so that no write lands between
        them (embedded mode; a server gives no such snapshot across queries). Writes take it
        for each statement; a single query needs none."""
        return self._lock

    def command(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        with self._lock, self._writer_turn:
            return self.client.command(sql.replace("{db}", self.db), parameters=params)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.reading(), self._reader_turn:
            result = self.reader.query(sql.replace("{db}", self.db), parameters=params)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    def select(self, statement: Statement) -> list[dict[str, Any]]:
        return self.rows(statement.text, dict(statement.params) or None)

    def columns(self, statement: Statement, width: int) -> list[list[Any]]:
        """The answer as one list per column (`width` of them, in the order selected; empty
        lists when no row came back): a long list (200 000 clients) is read without a dict
        made per row."""
        with self.reading(), self._reader_turn:
            result = self.reader.query(
                statement.text.replace("{db}", self.db), parameters=dict(statement.params) or None
            )
        columns: list[list[Any]] = [list(c) for c in result.result_columns]
        return columns or [[] for _ in range(width)]

    def insert_json(self, table: str, body: bytes, columns: Sequence[str]) -> None:
        """Rows as one JSON array of objects (JSONEachRow takes it): the engine parses it
        without the GIL, where the driver's own encoding would loop over every value in
        Python. Date-times carry their offset, so they are read as the instants they are."""
        with self._lock, self._writer_turn:
            self.client.raw_insert(
                f"{self.db}.{table}",
                list(columns),
                insert_block=body,
                settings={"date_time_input_format": "best_effort"},
                fmt="JSONEachRow",
            )

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        if not rows:
            return
        with self._lock, self._writer_turn:
            self.client.insert(f"{self.db}.{table}", list(rows), column_names=list(columns))


def open_clickhouse(settings: AnalyticsSettings) -> ClickHouse:
    """The writer's connection and the readers' one (chDB: two handles on the one engine)."""
    return ClickHouse(connect(settings), settings.database, reader=connect(settings))
