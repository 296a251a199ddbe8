"""The event store: one `eventsourcing` Application on SQLite or PostgreSQL (chosen by the
library's environment variables), how aggregates are stored and loaded, snapshots, and
retrying a use case when another writer saved the same aggregate first. Store refusals are
turned into the shared refusals here, at the edge, so no adapter above knows them."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import (
    ApplicationRecorder,
    DataError,
    InfrastructureFactory,
    JSONTranscoder,
    Notification,
    PersistenceError,
    RecordConflictError,
    Transcoding,
)
from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import Environment

from crm_contracts.runtime.errors import Conflict, Invalid
from deal_pipeline.adapters.group_commit import GroupCommitRecorder
from deal_pipeline.adapters.latest_deals import LatestDeals
from deal_pipeline.adapters.recent_events import RecentEvents
from deal_pipeline.adapters.sqlite_reads import ThreadReadsDatastore
from deal_pipeline.adapters.stored_ids import stored_ids
from deal_pipeline.domain.counter import Counter
from deal_pipeline.domain.deal import Deal, Invoice, Payment, Task
from deal_pipeline.domain.errors import NotFound

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)
CONFLICT_RETRIES = 30
SNAPSHOT_INTERVAL = 50
COUNTER_SNAPSHOT_INTERVAL = 5
STARTUP_ATTEMPTS = 5
TOO_MANY_WRITERS = "too many concurrent writers on this deal; try again"


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ValueAsDict(Transcoding):
    """A deal's value object as the dict of its fields: the shape older snapshots hold."""

    def encode(self, obj: Task | Invoice | Payment) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in fields(obj)}

    def decode(self, data: Mapping[str, Any]) -> object:
        return self.type(**data)


class TaskAsDict(ValueAsDict):
    type = Task
    name = "deal_task"


class InvoiceAsDict(ValueAsDict):
    type = Invoice
    name = "deal_invoice"


class PaymentAsDict(ValueAsDict):
    type = Payment
    name = "deal_payment"


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its per-event `isinstance` of a runtime
    protocol, which on Python 3.11 cost as much as decoding the event."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class Collected(ProcessingEvent[UUID]):
    """The library's `collect_events` asks each object saved whether it is a domain event or
    has events to collect by `isinstance` of two runtime protocols, which on Python 3.11 walk
    the protocol's attributes every time (a few per cent of a lead's CPU). An aggregate is
    taken by its class; anything else as the library takes it."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.events += obj.collect_events()
                self.aggregates[obj.id] = obj
            else:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


class EventStore(Application[UUID]):
    # The name keeps the tables (PostgreSQL) and variables of the existing stores.
    name = "deal_pipeline"
    # Long deals are loaded from their latest snapshot plus the events after it.
    # The round-robin and invoice counters take an event per lead / invoice and are read by
    # every new deal: snapshot them often (a snapshot is a few bytes), so a load replays little.
    snapshotting_intervals = {Deal: SNAPSHOT_INTERVAL, Counter: COUNTER_SNAPSHOT_INTERVAL}

    def __init__(
        self, env: Mapping[str, str] | None = None, snapshot_interval: int = SNAPSHOT_INTERVAL
    ) -> None:
        # Replicas starting together on a fresh PostgreSQL database race on creating the
        # tables: "tuple concurrently updated", a unique violation on pg_type, or "already
        # exists" despite IF NOT EXISTS. Try again: the second time they exist.
        for attempt in range(STARTUP_ATTEMPTS):
            try:
                super().__init__(env)
                break
            except PersistenceError:
                if attempt == STARTUP_ATTEMPTS - 1:
                    raise
                if hasattr(self, "factory"):  # the failed attempt's connection pool
                    self.factory.close()
                time.sleep(0.2 * (attempt + 1))
        counters = min(snapshot_interval, COUNTER_SNAPSHOT_INTERVAL)
        intervals: dict[type[Any], int] = {Deal: snapshot_interval, Counter: counters}
        self.snapshotting_intervals = intervals  # type: ignore[misc]  # a ClassVar in eventsourcing
        # Told after each save: the relay and the read model follow at once instead of polling.
        self.saved_listeners: list[Callable[[], None]] = []
        self.latest = LatestDeals()
        self.recent = RecentEvents()
        # Threads of this process retrying a use case after a conflict; see `retrying`.
        self._retrying: set[int] = set()
        self._one_at_a_time = threading.RLock()

    @property
    def local(self) -> bool:
        """SQLite: a file on this machine, each call well under a millisecond."""
        return isinstance(self.factory, SQLiteFactory)

    async def call(self, use_case: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """A blocking use case, from the event loop. On SQLite it runs right here: handing it
        to a worker thread cost more than the call, in GIL hand-offs between the thread (which
        lets go of the GIL around every SQLite step) and the loop (half the stage moves a
        second, measured). PostgreSQL waits on the network: a worker thread, as before."""
        if self.local:
            return use_case(*args, **kwargs)
        return await asyncio.to_thread(use_case, *args, **kwargs)

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        factory = super().construct_factory(env)
        # Reads on a connection of each thread (see `sqlite_reads`); replaced before any
        # recorder takes the datastore.
        if isinstance(factory, SQLiteFactory):
            pooled = factory.datastore
            factory.datastore = ThreadReadsDatastore.like(pooled)
            pooled.close()  # it has opened no connection yet
        return factory

    def construct_recorder(self) -> ApplicationRecorder:
        factory = self.factory
        if not isinstance(factory, SQLiteFactory):
            return super().construct_recorder()  # PostgreSQL commits concurrent saves itself
        recorder = GroupCommitRecorder(datastore=factory.datastore)
        if factory.env_create_table():
            recorder.create_table()
        return recorder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in (DateAsISO(), TaskAsDict(), InvoiceAsDict(), PaymentAsDict()):
            transcoder.register(transcoding)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        # The library's `Application.save` with `Collected` for its `ProcessingEvent` (and
        # without its deprecated `notify`, which does nothing here).
        processing_event = Collected()
        processing_event.collect_events(*objs, **kwargs)
        try:
            recordings = self._record(processing_event)
            self.recent.keep(recordings)
            for aggregate in processing_event.aggregates.values():
                if isinstance(aggregate, Deal):
                    self.latest.keep(aggregate)
            self._take_snapshots(processing_event)
            self._notify(recordings)
        except DataError as exc:
            # PostgreSQL refuses NUL in text: the save is rolled back, nothing is half-written.
            raise Invalid(str(exc), "body") from exc
        for listener in self.saved_listeners:
            listener()
        return recordings

    def domain_event(self, notification: Notification) -> Any:
        """The stored event as saved by this process lately (see `recent_events`), else
        decoded."""
        event = self.recent.get(notification.id)
        return event if event is not None else self.mapper.to_domain_event(notification)

    def load(self, cls: type[A], aggregate_id: UUID, missing: type[NotFound], what: str) -> A:
        aggregate = self.find(cls, aggregate_id)
        if aggregate is None:
            raise missing(f"no {what}")
        return aggregate

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """None when nothing is stored under this id, or an aggregate of another kind. A deal
        starts from the one kept in memory, if any (see `latest_deals`)."""
        aggregate: Any = self.latest.get(aggregate_id) if cls is Deal else None
        if aggregate is not None:
            newer = list(self.events.get(aggregate_id, gt=aggregate.version))
            aggregate, changed = project(aggregate, newer), bool(newer)
        else:
            try:
                aggregate = self.repository.get(aggregate_id, projector_func=project)
            except AggregateNotFoundError:
                return None
            changed = True
        if changed and isinstance(aggregate, Deal):
            self.latest.keep(aggregate)
        return aggregate if isinstance(aggregate, cls) else None

    def existing(self, aggregate_ids: Iterable[UUID]) -> set[UUID]:
        return stored_ids(self.recorder, aggregate_ids)

    def history(self, aggregate_id: UUID) -> list[DomainEventProtocol[UUID]]:
        return list(self.events.get(aggregate_id))

    def version(self, aggregate_id: UUID) -> int | None:
        latest = self.recorder.select_events(aggregate_id, desc=True, limit=1)
        return latest[0].originator_version if latest else None

    def retrying(self, use_case: Callable[[], T]) -> T:
        """Run a load-decide-save use case; when a concurrent writer saved first, run it again
        on fresh state, so that no update is lost. Domain errors pass through (nothing saved).

        Use cases run side by side; while one of this process is retrying, they take turns:
        saves that commit together (see `group_commit`) all read the same state, so on a hot
        aggregate (the round-robin counter, with every deal opened by hand) only one of them
        would win each round and the others would run out of retries."""
        me = threading.get_ident()
        try:
            for attempt in range(CONFLICT_RETRIES):
                try:
                    if not self._retrying:
                        return use_case()
                    with self._one_at_a_time:
                        return use_case()
                except RecordConflictError:
                    if attempt == CONFLICT_RETRIES - 1:
                        raise Conflict(TOO_MANY_WRITERS, error="Conflict") from None
                    self._retrying.add(me)
                    # Jitter, so that writers which collided do not collide again in lockstep.
                    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        finally:
            self._retrying.discard(me)
        raise AssertionError("unreachable")
