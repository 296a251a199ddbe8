"""Hears saves made by other processes: PostgreSQL NOTIFYs its channel in every insert of
stored events (the `eventsourcing` recorder does this for its own subscriptions), so a thread
LISTENs there and wakes the relay. SQLite has no such signal: the relay's idle poll covers it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

log = logging.getLogger(__name__)


class StoreWatch:
    def __init__(self, recorder: ApplicationRecorder, wake: Callable[[], None]) -> None:
        self.recorder = recorder
        self.wake = wake
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def notifies(self) -> bool:
        return isinstance(self.recorder, PostgresApplicationRecorder)

    def start(self) -> None:
        if self.notifies:
            self._thread = threading.Thread(target=self._listen, name="store-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen(self) -> None:
        recorder = self.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        while not self._stopped.is_set():
            try:
                with recorder.datastore.get_connection() as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))
                    self.wake()  # saves made while we were not listening
                    while not self._stopped.is_set():
                        # A short timeout, so that stop() is noticed without a notification.
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self.wake()
            except Exception:
                log.warning("LISTEN on the event store failed; retrying", exc_info=True)
                time.sleep(1)
