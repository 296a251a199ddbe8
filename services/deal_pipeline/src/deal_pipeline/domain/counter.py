"""A stored counter: the next number of a sequence (invoice numbers) or of a round robin.
It lives in the event store, so it survives restarts and is shared by replicas; two writers
drawing the same number collide on its version and one of them retries."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_contracts.envelope import derived_id


class Counter(Aggregate):
    @staticmethod
    def create_id(name: str, **_: object) -> UUID:
        return derived_id("counter", name)

    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0

    def draw(self) -> int:
        """The next number, starting at 1."""
        self._advanced(value=self.value + 1)
        return self.value

    @event("Advanced")
    def _advanced(self, value: int) -> None:
        self.value = value
