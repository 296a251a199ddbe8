"""Which of many aggregate ids have events stored, in one read: a batch of leads asks this of
its deals and contacts, which are mostly new, instead of loading each (two reads of the
library's repository, a snapshot and the events, and an exception when nothing is there)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, InterfaceError, OperationalError
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

CHUNK = 500  # ids per statement: within SQLite's oldest limit on bound parameters (999)


def stored_ids(recorder: ApplicationRecorder, ids: Iterable[UUID]) -> set[UUID]:
    wanted = list(dict.fromkeys(ids))
    found: set[UUID] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        if isinstance(recorder, SQLiteAggregateRecorder):
            found |= _sqlite(recorder, chunk)
        elif isinstance(recorder, PostgresAggregateRecorder):
            found |= _postgres(recorder, chunk)
        else:  # another store: one by one
            found |= {i for i in chunk if recorder.select_events(i, limit=1)}
    return found


def _sqlite(recorder: SQLiteAggregateRecorder, ids: list[UUID]) -> set[UUID]:
    by_hex = {i.hex: i for i in ids}  # how the library writes a UUID id (`_insert_events`)
    table = recorder.events_table_name  # the library's name, not input
    marks = ",".join("?" * len(ids))
    statement = f"SELECT DISTINCT originator_id FROM {table} WHERE originator_id IN ({marks})"
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, list(by_hex))
        return {by_hex[row["originator_id"]] for row in cursor.fetchall()}


# Retried on a dropped connection, as the library retries its own reads.
@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
def _postgres(recorder: PostgresAggregateRecorder, ids: list[UUID]) -> set[UUID]:
    datastore = recorder.datastore
    statement = SQL(
        "SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)"
    ).format(schema=Identifier(datastore.schema), table=Identifier(recorder.events_table_name))
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, [ids])
        return {row["originator_id"] for row in cursor.fetchall()}
