"""The event store fixture: every test that takes `store` runs on SQLite and on PostgreSQL;
and `memory`, an in-memory stand-in for the store port, for use-case tests without a database."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from deal_pipeline.domain.errors import NotFound
from deal_pipeline.main import UseCases, use_cases

STORES = ["sqlite", "postgres"]
T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


class MemoryStore:
    """Implements `application.ports.AggregateStore`: keeps copies of saved aggregates and
    records which kinds of aggregate each save held together."""

    def __init__(self) -> None:
        self.aggregates: dict[UUID, Aggregate] = {}
        self.events: dict[UUID, list[Any]] = {}
        self.saves: list[list[str]] = []  # the kinds of aggregate saved together, per save

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        found = self.aggregates.get(aggregate_id)
        return copy.deepcopy(found) if isinstance(found, cls) else None

    def load(self, cls: type[A], aggregate_id: UUID, missing: type[NotFound], what: str) -> A:
        found = self.find(cls, aggregate_id)
        if found is None:
            raise missing(f"no {what}")
        return found

    def existing(self, aggregate_ids: Iterable[UUID]) -> set[UUID]:
        return {i for i in aggregate_ids if i in self.aggregates}

    def save(self, *aggregates: Aggregate | None) -> None:
        batch = [a for a in aggregates if a is not None]
        for aggregate in batch:
            self.events.setdefault(aggregate.id, []).extend(aggregate.collect_events())
            self.aggregates[aggregate.id] = copy.deepcopy(aggregate)
        self.saves.append([type(a).__name__ for a in batch])

    def retrying(self, use_case: Callable[[], T]) -> T:
        return use_case()  # one writer: nothing to collide with

    def history(self, aggregate_id: UUID) -> list[Any]:
        return list(self.events.get(aggregate_id, []))

    def version(self, aggregate_id: UUID) -> int | None:
        found = self.aggregates.get(aggregate_id)
        return found.version if found is not None else None


@pytest.fixture
def memory() -> MemoryStore:
    return MemoryStore()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The `eventsourcing` variables of a fresh, empty event store."""
    if request.param == "sqlite":
        yield {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "d.db"),
        }
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.env(name)
    server.drop_database(name)


@pytest.fixture
def make_app(store: dict[str, str]) -> Iterator[Callable[..., UseCases]]:
    """More use-case sets on the same store, as other replicas would be."""
    apps: list[UseCases] = []

    def make(**kwargs: Any) -> UseCases:
        app = use_cases(store, **({"managers": ["m1", "m2"]} | kwargs))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def crm(make_app: Callable[..., UseCases]) -> UseCases:
    return make_app()
