"""What the use cases need from the event store (the adapter `adapters.event_store`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from deal_pipeline.domain.errors import NotFound

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


class AggregateStore(Protocol):
    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """None when nothing of this kind is stored under this id."""
        ...

    def load(self, cls: type[A], aggregate_id: UUID, missing: type[NotFound], what: str) -> A:
        """Raises `missing` when nothing of this kind is stored under this id."""
        ...

    def existing(self, aggregate_ids: Iterable[UUID]) -> set[UUID]:
        """The ids among these under which something is stored, in one read: for a batch
        whose aggregates are mostly new, instead of a `find` of each."""
        ...

    def save(self, *aggregates: Aggregate | None) -> Any:
        """All or nothing; a concurrent writer's earlier save makes it fail (retried by
        `retrying`)."""
        ...

    def retrying(self, use_case: Callable[[], T]) -> T:
        """Runs a load-decide-save use case again on fresh state after a concurrent write."""
        ...

    def history(self, aggregate_id: UUID) -> list[Any]:
        """Every stored event of one aggregate, oldest first."""
        ...

    def version(self, aggregate_id: UUID) -> int | None:
        """The version of the aggregate's latest stored event (None: nothing stored). One small
        read, for caches of what is derived from an aggregate."""
        ...


# Runs a blocking use case from the event loop: in place or in a worker thread, as the store
# is best served (`EventStore.call`).
StoreCall = Callable[..., Awaitable[Any]]
