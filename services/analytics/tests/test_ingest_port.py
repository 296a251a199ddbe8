"""The projection use case against a fake store: which rows of which tables one batch writes,
that latest-state rows are applied in memory, and folded from the stored history the port
returns only when a late event, a restart or an eviction makes that necessary."""

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from analytics.application.ingest import Projector, ingest, parse_batch
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.rows import (
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

    def keys(self, stream: str) -> set[str]:
        folded = (r for rows in self.writes for r in rows if isinstance(r, FoldEventRow))
        return {r.key for r in folded if r.stream == stream}

    def linked_leads(self) -> list[str]:
        return []

    def owners_of(self, leads: set[str]) -> list[tuple[str, str]]:
        return []

    def touches_of(self, leads: set[str]) -> dict[str, list]:
        return {}

    def lead_facts_of(self, deals: set[str]) -> dict[str, tuple]:
        return {
            r.deal_id: (r.lead_received_at, r.lead_channel, r.lead_touch_source, r.lead_campaign)
            for r in self.rows(DealRow)
            if r.deal_id in deals and r.lead_received_at is not None
        }

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


def test_an_event_type_that_is_not_a_string_is_rejected_not_raised():
    event = DealStory("d1", T0).events[0].model_dump(mode="json")
    odd = json.dumps(event | {"event_type": ["deal.opened"]}).encode()
    parsed = parse_batch([odd, json.dumps(event).encode()])
    assert [index for index, _ in parsed.rejected] == [0]
    assert len(parsed.events) == 1


def test_fold_history_keeps_no_unknown_key_and_no_default_made_at_parse_time():
    # A producer's extra key (with a contact in it) must not reach fold_events, and an event
    # without `occurred_at` must read back with the time it was projected with, every time.
    moved = story("d9").events[1].model_dump(mode="json")
    extra = moved | {"payer_email": "ann@mail.ru"}
    opened = story("d9").events[0].model_dump(mode="json")
    del opened["occurred_at"]
    store = FakeStore()
    parsed = parse_batch([json.dumps(opened).encode(), json.dumps(extra).encode()])
    Projector(store, ProjectionConfig()).project(parsed.events, parsed.data)
    folds = [r for r in store.rows(FoldEventRow) if isinstance(r, FoldEventRow)]
    assert folds and all("ann@mail.ru" not in r.payload for r in folds)
    first = next(r for r in folds if r.version == 1)
    assert ANY_EVENT.validate_json(first.payload).occurred_at == parsed.events[0].occurred_at
    events = [r for r in store.rows(EventRow) if isinstance(r, EventRow)]
    assert all("ann@mail.ru" not in r.payload for r in events)


class CountingStore(FakeStore):
    """Counts the history reads, the cost the in-memory rows are there to avoid."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[set[str]] = []

    def history(self, stream: str, keys: set[str]) -> list[Event]:
        self.reads.append(set(keys))
        return super().history(stream, keys)


def batches(events: list[Event], size: int) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def project(projector: Projector, events: list[Event]) -> None:
    projector.project(events, [json.loads(e.model_dump_json()) for e in events])


def latest(store: FakeStore, deal_id: str) -> DealRow:
    rows = [r for r in store.rows(DealRow) if isinstance(r, DealRow) and r.deal_id == deal_id]
    top = max(r.version for r in rows)  # as ReplacingMergeTree(version) keeps it: the highest
    return [r for r in rows if r.version == top][-1]  # version, the last inserted of it


def story(name: str) -> DealStory:
    return (
        DealStory(name, T0, "100")
        .move("qualified", T0 + timedelta(hours=1))
        .set_amount("250", T0 + timedelta(hours=2), cost="30")
        .win(T0 + timedelta(hours=3))
        .pay("100", T0 + timedelta(hours=4))
    )


def test_in_order_events_are_applied_in_memory_without_reading_history():
    store = CountingStore()
    projector = Projector(store, ProjectionConfig())
    events = [e for name in ("d1", "d2", "d3") for e in story(name).events]
    for batch in batches(events, 2):
        project(projector, batch)
    assert store.reads == []
    deal = latest(store, "d2")
    assert (deal.status, deal.amount, deal.paid_total, deal.version) == ("won", 250, 100, 5)


def test_a_redelivered_batch_changes_nothing_and_reads_nothing():
    store = CountingStore()
    projector = Projector(store, ProjectionConfig())
    events = story("d1").events
    project(projector, events)
    written = len(store.rows(DealRow))
    project(projector, events)
    assert store.reads == [] and len(store.rows(DealRow)) == written


def test_a_late_older_event_refolds_its_key_from_history_only():
    store = CountingStore()
    projector = Projector(store, ProjectionConfig())
    events = story("d1").events
    amount_changed = events[2]
    project(projector, story("d2").events)
    project(projector, [e for e in events if e is not amount_changed])
    assert latest(store, "d1").cost == 0  # only the amount change sets the cost
    project(projector, [amount_changed])
    assert store.reads == [{"d1"}]
    assert (latest(store, "d1").cost, latest(store, "d1").version) == (30, 5)


def test_after_a_restart_or_eviction_a_stored_key_is_refolded_and_new_keys_are_not():
    store = CountingStore()
    events = story("d1").events
    project(Projector(store, ProjectionConfig()), events[:3])
    restarted = Projector(store, ProjectionConfig(), capacity=1)
    project(restarted, events[3:] + story("d2").events)
    assert store.reads == [{"d1"}]  # d2 was never stored: no read for it
    assert latest(store, "d1").version == 5 and latest(store, "d2").version == 5
    project(restarted, DealStory("d3", T0).events)  # evicts d2 (capacity 1)
    later = DealStory("d2", T0).events[0].model_copy(update={"aggregate_version": 6})
    project(restarted, [later])
    assert store.reads[-1] == {"d2"}


def test_forget_starts_cold():
    store = CountingStore()
    projector = Projector(store, ProjectionConfig())
    events = story("d1").events
    project(projector, events[:2])
    projector.forget()  # as after a rebuild swapped the tables
    project(projector, events[2:])
    assert store.reads == [{"d1"}] and latest(store, "d1").version == 5


class FailingOnce(CountingStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail_next_deal_write = True

    def write(self, rows: Sequence[Row]) -> None:
        if rows and isinstance(rows[0], DealRow) and self.fail_next_deal_write:
            self.fail_next_deal_write = False
            raise ConnectionError("ClickHouse went away")
        super().write(rows)


def test_a_batch_that_failed_half_way_lands_whole_when_it_comes_again():
    store = FailingOnce()
    projector = Projector(store, ProjectionConfig())
    events = story("d1").events
    with pytest.raises(ConnectionError):
        project(projector, events)
    assert store.rows(DealRow) == []
    project(projector, events)  # the handler retries the same batch
    assert latest(store, "d1").version == 5


class SlowHistories(CountingStore):
    """A store whose `fold_events` INSERT takes a while: the batch's other rows are computed
    meanwhile, on another thread."""

    def write(self, rows: Sequence[Row]) -> None:
        if rows and isinstance(rows[0], FoldEventRow):
            time.sleep(0.05)
        super().write(rows)


def test_a_refold_reads_the_history_only_once_its_own_batch_is_stored():
    store = SlowHistories()
    projector = Projector(store, ProjectionConfig())
    events = story("d1").events
    amount_changed = events[2]
    project(projector, [e for e in events if e is not amount_changed])
    project(projector, [amount_changed])  # late: re-folded from a history that must hold it
    assert store.reads == [{"d1"}]
    assert (latest(store, "d1").cost, latest(store, "d1").version) == (30, 5)


class FailingHistories(CountingStore):
    def write(self, rows: Sequence[Row]) -> None:
        if rows and isinstance(rows[0], FoldEventRow):
            raise ConnectionError("ClickHouse went away")
        super().write(rows)


def test_a_failed_write_fails_the_batch_after_every_other_write_of_it_settled():
    store = FailingHistories()
    projector = Projector(store, ProjectionConfig())
    with pytest.raises(ConnectionError):
        project(projector, story("d1").events)
    settled = len(store.writes)
    time.sleep(0.05)
    assert len(store.writes) == settled  # nothing of the failed batch still being written
    assert store.rows(FoldEventRow) == [] and projector.tables[0].latest.get("d1") is None
