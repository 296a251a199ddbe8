"""The projection use case against a fake store: which rows of which tables one batch writes,
and that latest-state rows are folded from the stored history the port returns."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from analytics.application.ingest import ingest, parse_batch
from analytics.projection.config import ProjectionConfig
from analytics.projection.rows import (
    DealRow,
    EventRow,
    FoldEventRow,
    Row,
    StageIntervalRow,
)
from crm_contracts.envelope import Event
from crm_contracts.events import ANY_EVENT
from services.analytics.tests.history import DealStory

T0 = datetime(2026, 3, 1, 7, tzinfo=UTC)


class FakeStore:
    """Keeps written rows; the fold history is the `fold_events` rows written so far."""

    def __init__(self) -> None:
        self.writes: list[list[Row]] = []

    def write(self, rows: Sequence[Row]) -> None:
        if rows:
            self.writes.append(list(rows))

    def history(self, stream: str, keys: set[str]) -> list[Event]:
        stored = [
            r
            for rows in self.writes
            for r in rows
            if isinstance(r, FoldEventRow) and r.stream == stream and r.key in keys
        ]
        stored.sort(key=lambda r: (r.key, r.version))
        return [ANY_EVENT.validate_json(r.payload) for r in stored]

    def rows(self, row_type: type[Row]) -> list[Row]:
        return [r for rows in self.writes for r in rows if type(r) is row_type]


def test_one_batch_writes_each_table_once_and_folds_the_deal():
    story = DealStory("d1", T0, "100").move("qualified", T0 + timedelta(hours=1))
    store = FakeStore()
    ingest(store, story.events, [e.model_dump_json() for e in story.events], ProjectionConfig())

    assert all(len({type(r) for r in rows}) == 1 for rows in store.writes)  # one table a write
    assert len(store.rows(EventRow)) == 2
    assert len(store.rows(StageIntervalRow)) == 3
    [deal] = store.rows(DealRow)
    assert isinstance(deal, DealRow)
    assert (deal.stage, deal.version) == ("qualified", 2)


def test_a_later_batch_refolds_from_the_stored_history():
    story = DealStory("d1", T0, "100").move("qualified", T0 + timedelta(hours=1))
    first, second = story.events
    store = FakeStore()
    ingest(store, [second], [second.model_dump_json()], ProjectionConfig())
    assert store.rows(DealRow) == []  # a change without its opening makes no row
    ingest(store, [first], [first.model_dump_json()], ProjectionConfig())
    [deal] = store.rows(DealRow)
    assert isinstance(deal, DealRow)
    assert (deal.stage, deal.version) == ("qualified", 2)


def test_bodies_that_are_not_events_are_rejected_by_index():
    event = DealStory("d1", T0).events[0].model_dump_json().encode()
    parsed = parse_batch([b"not json", b"[]", event])
    assert [index for index, _ in parsed.rejected] == [0, 1]
    assert len(parsed.events) == len(parsed.payloads) == 1
