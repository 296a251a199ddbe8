"""The event store side of the application: how things are stored and loaded, snapshots,
and retrying a use case when another writer saved the same aggregate first."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InternalError,
    JSONTranscoder,
    OperationalError,
    RecordConflictError,
    Transcoding,
)

from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.deal import Deal
from deal_pipeline.domain.errors import NotFound

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)
CONFLICT_RETRIES = 30
SNAPSHOT_INTERVAL = 50


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


STARTUP_ATTEMPTS = 5


class Store(Application[UUID]):
    # Long deals are loaded from their latest snapshot plus the events after it.
    # The round-robin and invoice counters take an event per lead / invoice: snapshot them too.
    snapshotting_intervals = {Deal: SNAPSHOT_INTERVAL, Counter: SNAPSHOT_INTERVAL}

    def __init__(
        self, env: dict[str, str] | None = None, snapshot_interval: int = SNAPSHOT_INTERVAL
    ) -> None:
        # Replicas starting together on a fresh PostgreSQL database race on creating the
        # tables ("tuple concurrently updated"): try again, the second time they exist.
        for attempt in range(STARTUP_ATTEMPTS):
            try:
                super().__init__(env)
                break
            except (InternalError, OperationalError):
                if attempt == STARTUP_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        self.snapshotting_intervals = {Deal: snapshot_interval, Counter: snapshot_interval}
        # Told after each save: the relay and the read model follow at once instead of polling.
        self.saved_listeners: list[Callable[[], None]] = []

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        for listener in self.saved_listeners:
            listener()
        return recordings

    def load(self, cls: type[A], aggregate_id: UUID, missing: type[NotFound], what: str) -> A:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(f"no {what}") from None
        if not isinstance(aggregate, cls):  # an id of another kind of aggregate
            raise missing(f"no {what}")
        return aggregate

    def find(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def retrying(self, use_case: Callable[[], T]) -> T:
        """Run a load-decide-save use case; when a concurrent writer saved first, run it again
        on fresh state, so that no update is lost. Domain errors pass through (nothing saved)."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                return use_case()
            except RecordConflictError:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                # Jitter, so that writers which collided do not collide again in lockstep.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise AssertionError("unreachable")
