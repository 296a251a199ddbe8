"""A lock that many hold at once (`shared`) or one alone (`exclusive`), for threads.

Reports read under it shared, and a rebuild swaps the tables under it alone: the swap waits
for the reports already running and holds up new ones until it is done, so no report reads
some tables from before the swap and some from after. An exclusive wait holds up new
readers, so a stream of reports cannot put a swap off for ever."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SharedLock:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._exclusive = False  # held, or waited for (new readers wait behind it)

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._exclusive)
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                if not self._readers:
                    self._changed.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._exclusive)
            self._exclusive = True
            self._changed.wait_for(lambda: not self._readers)
        try:
            yield
        finally:
            with self._changed:
                self._exclusive = False
                self._changed.notify_all()
