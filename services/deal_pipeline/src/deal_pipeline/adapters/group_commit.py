"""Group commit for the SQLite event store. SQLite has one writer at a time and each commit
waits for its fsync (a few milliseconds), so saves made at the same time by several requests
queue on the write lock and the store does one commit per save. Here the save that finds no
commit under way writes every save waiting at that moment in one transaction, each in its own
savepoint, and commits them with one fsync. A save is answered only after that commit, so it is
as durable as before; a save that conflicts (another writer stored that version first) is
rolled back to its savepoint alone and raises as before; a failed commit fails every save in
it, none of which is stored."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder

# sqlite3's errors as the library raises them (checked in order: the first match wins).
ERRORS: tuple[tuple[type[sqlite3.Error], type[PersistenceError]], ...] = (
    (sqlite3.InterfaceError, InterfaceError),
    (sqlite3.DataError, DataError),
    (sqlite3.OperationalError, OperationalError),
    (sqlite3.IntegrityError, IntegrityError),
    (sqlite3.InternalError, InternalError),
    (sqlite3.ProgrammingError, ProgrammingError),
    (sqlite3.NotSupportedError, NotSupportedError),
    (sqlite3.DatabaseError, DatabaseError),
    (sqlite3.Error, PersistenceError),
)


def as_library_error(exc: Exception) -> Exception:
    return next((ours(exc) for theirs, ours in ERRORS if isinstance(exc, theirs)), exc)


class PendingSave:
    __slots__ = ("done", "error", "events", "kwargs", "notification_ids")

    def __init__(self, events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> None:
        self.events = events
        self.kwargs = kwargs
        self.done = False
        self.notification_ids: Sequence[int] | None = None
        self.error: BaseException | None = None


class GroupCommitRecorder(SQLiteApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = threading.Condition()
        self._waiting: list[PendingSave] = []
        self._writing = False

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        pending = PendingSave(stored_events, kwargs)
        with self._turn:
            self._waiting.append(pending)
            while self._writing and not pending.done:
                self._turn.wait()
            if not pending.done:  # nobody is writing: write every save waiting now
                self._writing = True
                batch, self._waiting = self._waiting, []
        if not pending.done:
            try:
                self._write(batch)
            finally:
                with self._turn:
                    self._writing = False
                    self._turn.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.notification_ids

    def _write(self, batch: list[PendingSave]) -> None:
        try:
            with self.datastore.transaction(commit=True) as cursor:
                for save in batch:
                    cursor.execute("SAVEPOINT save")
                    try:
                        save.notification_ids = self._insert_events(
                            cursor, save.events, **save.kwargs
                        )
                    except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
                        # A conflict or a bad value: this save only, the others go on. Any
                        # other error (the file locked past the busy timeout, a full disk)
                        # fails the whole batch at once instead of each save in turn.
                        cursor.execute("ROLLBACK TO save")
                        save.error = as_library_error(exc)
                    cursor.execute("RELEASE save")
        except BaseException as exc:  # nothing of the batch was committed
            for save in batch:
                save.notification_ids, save.error = None, save.error or exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for save in batch:
                save.done = True
