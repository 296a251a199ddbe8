"""The event store's own database, for the read model's tables: one small wrapper so that the
same statements (bound `?` parameters only) run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

Row = dict[str, Any]
NUL, REPLACEMENT = "\x00", "\ufffd"


class Tx:
    def __init__(self, cursor: Any, postgres: bool) -> None:
        self.cursor = getattr(cursor, "sqlite_cursor", cursor)  # the library's wrapper hides it
        self.postgres = postgres

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        if self.postgres:  # psycopg's placeholder; statements hold no literal ? or %
            statement = statement.replace("?", "%s")
            # The API refuses NUL, but a stored event may still hold one (an older version, another
            # producer on the bus) and PostgreSQL text cannot: one such event must not stop the
            # read model for good, so it is shown as the replacement character instead.
            params = [p.replace(NUL, REPLACEMENT) if isinstance(p, str) else p for p in params]
        self.cursor.execute(statement, tuple(params))
        if self.cursor.description is None:
            return []
        return [dict(row) for row in self.cursor.fetchall()]


class Database:
    def __init__(self, recorder: ApplicationRecorder) -> None:
        datastore = getattr(recorder, "datastore", None)
        if not isinstance(datastore, SQLiteDatastore | PostgresDatastore):
            raise TypeError("the read model needs an SQLite or PostgreSQL event store")
        self.datastore = datastore
        self.postgres = isinstance(datastore, PostgresDatastore)

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Tx]:
        """Committed when `commit` and no exception, rolled back otherwise."""
        with self.datastore.transaction(commit=commit) as cursor:
            yield Tx(cursor, self.postgres)
