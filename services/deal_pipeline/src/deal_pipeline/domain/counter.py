"""A stored counter: the next number of a sequence (invoice numbers) or of a round robin.
It lives in the event store, so it survives restarts and is shared by replicas; two writers
drawing the same number collide on its version and one of them retries."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from crm_contracts.envelope import derived_id


class Counter(Aggregate):
    class Started(Aggregate.Created):
        name: str

    class Advanced(Aggregate.Event):
        value: int

        def apply(self, counter: Counter) -> None:
            counter.value = self.value

    @staticmethod
    def create_id(name: str, **_: object) -> UUID:
        return derived_id("counter", name)

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0

    def draw(self, count: int = 1) -> int:
        """The next number, starting at 1; `count` numbers at once end at the one returned."""
        if count < 1:
            raise ValueError("draw at least one number")
        self.trigger_event(self.Advanced, value=self.value + count)
        return self.value
