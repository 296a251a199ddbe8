"""The domain events this process saved last, by their position in the notification log. The
relay and the read model follow that log right behind the saves, and each decoded every event
it read from its stored JSON again (a lead's client and deal, twice: 70-120 µs of CPU a lead,
measured in process); the events saved here are the same immutable objects the decoding gives
(tests/test_recent_events.py), so they are taken as they are. Events of other processes, and
any older than the last `SIZE`, are decoded as before."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from eventsourcing.persistence import Recording

SIZE = 8192  # events: many seconds of saves at hundreds of leads a second


class RecentEvents:
    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._events: OrderedDict[int, object] = OrderedDict()  # the oldest first
        self._lock = threading.Lock()  # saves and readers run on several threads

    def keep(self, recordings: Iterable[Recording[Any]]) -> None:
        with self._lock:
            events = self._events
            for recording in recordings:
                events[recording.notification.id] = recording.domain_event
            while len(events) > self.size:
                events.popitem(last=False)

    def get(self, notification_id: int) -> object | None:
        return self._events.get(notification_id)
