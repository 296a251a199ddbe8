"""Reads of the SQLite event store on a plain connection kept by each thread. Through the
library, a read took a connection from its pool and gave it back under the pool's locks, and
went through five context managers around BEGIN and ROLLBACK: a one-row read cost about 65 µs
where its SELECT took 7 (a stage move reads twice: the deal's newer events and its pipeline's
version). A read here is the same transaction, BEGIN … ROLLBACK, on a connection made as the
pool makes its own, and fails with the library's errors; writes still take the pool's
connections."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore

from deal_pipeline.adapters.group_commit import as_library_error
from deal_pipeline.adapters.sqlite_statements import StatementCachePool, connect


class ThreadReadsDatastore(SQLiteDatastore):
    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        library_pool, self.pool = self.pool, StatementCachePool.like(self.pool)
        library_pool.close()  # it has opened no connection yet
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

    @classmethod
    def like(cls, datastore: SQLiteDatastore) -> ThreadReadsDatastore:
        """One with the settings the library's factory gave `datastore`."""
        pool = datastore.pool
        return cls(
            pool.db_name,
            lock_timeout=pool.lock_timeout,
            single_row_tracking=datastore.single_row_tracking,
            originator_id_type=datastore.originator_id_type,
        )

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Any]:
        local = self._local
        reader = None if commit or getattr(local, "reading", False) else self._reader()
        if reader is None:
            with super().transaction(commit=commit) as cursor:
                yield cursor
            return
        local.reading = True
        cursor = reader.cursor()
        try:
            cursor.execute("BEGIN")
            yield cursor
        except sqlite3.Error as exc:
            raise as_library_error(exc) from exc
        finally:
            local.reading = False
            cursor.close()
            reader.rollback()

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's connection; None where the pool serves: an in-memory database
        (another connection would open another database), a closed store, and a read inside
        one of this thread's reads (see `transaction`)."""
        if self.pool.is_sqlite_memory_mode or self._closed:
            return None
        reader: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = connect(self.pool.db_name, self.pool.lock_timeout)
            with self._readers_lock:
                if self._closed:
                    reader.close()
                    return None
                self._readers.append(reader)
            self._local.reader = reader
        return reader

    def close(self) -> None:
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
        super().close()
