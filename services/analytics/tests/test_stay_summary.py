"""The summary of stays on each deal's row (the funnels read it instead of the stays): folded
as the stays are written, equal to what the stays say however the events come, and given to
the deals of an install from before it (migration 4) or written by an older release since."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from analytics.adapters import schema
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.adapters.schema import fill_stay_summaries, migrate
from analytics.application.ingest import Projector
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.leads import lead_funnel
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.folds import apply_deal, deal_key, fold
from analytics.domain.projection.rows import DealRow, Row
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import run

T0 = datetime(2026, 3, 1, 7, 0, 0, 123456, tzinfo=UTC)  # sub-millisecond: stored to the ms
H = timedelta(hours=1, microseconds=777)
STAGES = ("new", "qualified", "proposal", "won", "lost")
SUMMARY = list(schema.SUMMARY_COLUMNS)
PERIOD = ("2026-01-01", "2027-01-01")


def test_the_fold_keeps_every_stage_entered_and_each_completed_stay():
    story = DealStory("d1", T0).move("proposal", T0 + H).move("lost", T0 + 2 * H, "lost", "x")
    story.move("qualified", T0 + 3 * H).move("proposal", T0 + 4 * H)  # reopened, then again
    row = fold(story.events, {}, deal_key, apply_deal, ProjectionConfig())["d1"]
    assert row.stages_entered == ("new", "proposal", "lost", "qualified")
    assert row.closed_stay_versions == (1, 2, 3, 4)
    assert row.closed_stay_stages == ("new", "proposal", "lost", "qualified")
    assert row.closed_stay_entered_at == (T0, T0 + H, T0 + 2 * H, T0 + 3 * H)
    assert row.closed_stay_left_at == (T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 4 * H)


def random_stories(seed: int, deals: int) -> list[DealStory]:
    rng = random.Random(seed)
    stories = []
    for n in range(deals):
        at = T0 + timedelta(days=rng.randrange(200), microseconds=rng.randrange(10**6))
        story = DealStory(f"d{n}", at, str(rng.randrange(1, 900)), lead_id=f"l{n}")
        for _ in range(rng.randrange(6)):
            at += timedelta(minutes=rng.randrange(1, 5000), microseconds=rng.randrange(10**6))
            to = rng.choice([s for s in STAGES if s != story.stage])
            if to in ("won", "lost"):
                story.move(to, at, to, "price" if to == "lost" else None)
            elif rng.random() < 0.3:
                story.set_amount(str(rng.randrange(1, 900)), at)
            else:
                story.move(to, at)
        stories.append(story)
    return stories


def deliver(ch: ClickHouse, events: list[Any], seed: int, capacity: int = 3) -> None:
    """Shuffled, in batches, a fifth of them twice, through a projector that remembers few
    deals (so that most are folded again from their stored history)."""
    rng = random.Random(seed)
    events = events + rng.sample(events, len(events) // 5)
    rng.shuffle(events)
    projector = Projector(ClickHouseProjectionStore(ch), ProjectionConfig(), capacity)
    for i in range(0, len(events), 7):
        batch = events[i : i + 7]
        projector.project(batch, [orjson.loads(e.model_dump_json()) for e in batch])


def summaries(ch: ClickHouse) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    rows = ch.rows("SELECT deal_id, " + ", ".join(SUMMARY) + " FROM {db}.deals FINAL")
    return {
        r["deal_id"]: (
            list(r["stages_entered"]),
            list(
                zip(
                    r["closed_stay_versions"],
                    r["closed_stay_stages"],
                    r["closed_stay_entered_at"],
                    r["closed_stay_left_at"],
                    strict=True,
                )
            ),
        )
        for r in rows
    }


def from_stays(ch: ClickHouse) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The same, worked out in Python from every stored stay row."""
    rows = ch.rows(
        "SELECT DISTINCT deal_id, stage, entered_version, entered_at, left_at"
        " FROM {db}.deal_stage_intervals"
    )
    stays: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        stays[r["deal_id"]].append(r)
    out = {}
    for deal_id, its in stays.items():
        entered: list[str] = []
        for r in sorted(its, key=lambda r: r["entered_version"]):
            if r["stage"] not in entered:
                entered.append(r["stage"])
        closed = sorted(
            (r["entered_version"], r["stage"], r["entered_at"], r["left_at"])
            for r in its
            if r["left_at"] is not None
        )
        out[deal_id] = (entered, closed)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_summary_says_what_the_stays_say_however_the_events_come(clickhouse, seed):
    stories = random_stories(seed, 25)
    deliver(clickhouse, [e for s in stories for e in s.events], seed)
    got = summaries(clickhouse)
    assert got == from_stays(clickhouse)
    assert len(got) == 25
    assert any(len(closed) >= 3 for _, closed in got.values())  # the stories do move


def without_summary(store: ClickHouseProjectionStore) -> ClickHouseProjectionStore:
    """A store that writes deals as a release before the summary did (no such columns)."""
    write = store.write

    def old_write(rows: Any) -> None:
        if rows and isinstance(rows[0], DealRow):
            columns = [c for c in DealRow.columns() if c not in SUMMARY]
            body = orjson.dumps([{c: getattr(r, c) for c in columns} for r in rows], default=str)
            store.ch.insert_json("deals", body, columns)
        else:
            write(rows)

    store.write = old_write  # type: ignore[method-assign]
    return store


def project(store: ClickHouseProjectionStore, events: list[Any]) -> None:
    data = [orjson.loads(e.model_dump_json()) for e in events]
    Projector(store, ProjectionConfig()).project(events, data)


def funnels(ch: ClickHouse) -> tuple[Any, Any]:
    return run(ch, sales_funnel, *PERIOD), run(ch, lead_funnel, *PERIOD)


@pytest.fixture
def earlier(chdb_client, monkeypatch):  # type: ignore[no-untyped-def]
    """A database as the schema before migration 4 left it."""
    ch = ClickHouse(chdb_client, f"t_{uuid.uuid4().hex[:12]}")
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:3])
    migrate(ch)
    monkeypatch.undo()
    yield ch
    ch.command("DROP DATABASE IF EXISTS {db}")


def all_events(seed: int) -> list[Any]:
    stories = random_stories(seed, 30)
    leads = [lead(s.lead_id, T0 - timedelta(hours=1)) for s in stories]
    return leads + [e for s in stories for e in s.events]


def test_an_install_from_before_the_summary_is_upgraded_in_place(earlier, clickhouse):
    events = all_events(7)
    columns = {
        r["name"]
        for r in earlier.rows(
            "SELECT name FROM system.columns WHERE database = {d:String} AND table = 'deals'",
            {"d": earlier.db},
        )
    }
    assert not columns & set(SUMMARY)
    project(without_summary(ClickHouseProjectionStore(earlier)), events)
    project(ClickHouseProjectionStore(clickhouse), events)  # the current release, from scratch

    assert migrate(earlier) == 4
    assert summaries(earlier) == summaries(clickhouse) == from_stays(clickhouse)
    assert funnels(earlier) == funnels(clickhouse)
    versions = "SELECT deal_id, version FROM {db}.deals FINAL ORDER BY deal_id"
    assert earlier.rows(versions) == clickhouse.rows(versions)  # each row keeps its version
    assert migrate(earlier) == 4  # again: nothing to do
    assert summaries(earlier) == summaries(clickhouse)


def test_deals_an_older_writer_left_without_a_summary_are_given_one(clickhouse):
    events = all_events(8)
    project(ClickHouseProjectionStore(clickhouse), events)
    expected, reports = summaries(clickhouse), funnels(clickhouse)
    # An older release's writer, meanwhile, writes some deals again (here: as they were).
    moved = [e for e in events if getattr(e, "deal_id", None) in ("d3", "d4", "d5")]
    project(without_summary(ClickHouseProjectionStore(clickhouse)), moved)
    assert summaries(clickhouse)["d4"] == ([], [])
    assert funnels(clickhouse) != reports

    fill_stay_summaries(clickhouse)
    assert summaries(clickhouse) == expected
    assert funnels(clickhouse) == reports
    empty = "SELECT count() AS n FROM {db}.deals FINAL WHERE empty(stages_entered)"
    assert clickhouse.rows(empty) == [{"n": 0}]


def test_a_summary_row_is_written_like_any_other_row():
    assert issubclass(DealRow, Row)
    assert DealRow.columns()[-5:] == tuple(SUMMARY)  # the migration's columns, in its order
