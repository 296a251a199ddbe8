"""What rows carry so that reports read one table: the summary of stays on each deal's row
(the funnels read it instead of the stays), folded as the stays are written and equal to what
they say however the events come; and each lead's own touch source on its row. Both given to
the rows of an install from before them (migrations 4 and 5) or written by an older release
since."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from analytics.adapters import schema
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.adapters.schema import fill_missing, migrate
from analytics.application.ingest import Projector
from analytics.application.reports.attribution import attribution
from analytics.application.reports.drill import drill_deals, drill_leads
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.leads import lead_funnel
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.folds import apply_deal, deal_key, fold
from analytics.domain.projection.rows import (
    DealRow,
    LeadOwnerRow,
    LeadRow,
    OwnerPathRow,
    PipelineRow,
    Row,
)
from crm_contracts.events import LeadReceived
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import LEAD_FACTS, run, schema_at

T0 = datetime(2026, 3, 1, 7, 0, 0, 123456, tzinfo=UTC)  # sub-millisecond: stored to the ms
H = timedelta(hours=1, microseconds=777)
STAGES = ("new", "qualified", "proposal", "won", "lost")
SUMMARY = list(schema.SUMMARY_COLUMNS)
PERIOD = ("2026-01-01", "2027-01-01")
LATEST = schema.MIGRATIONS[-1][0]
BY_SOURCE = {"group_by": "source", "group": ["yandex"]}
# What each row type did not have before migrations 4 and 5.
NEWER = {DealRow: SUMMARY + list(LEAD_FACTS), LeadRow: ["touch_source"]}  # and 9's


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


def as_older_release(store: ClickHouseProjectionStore) -> ClickHouseProjectionStore:
    """A store that writes deals and leads as a release before migrations 4 and 5 did."""
    write = store.write

    def old_write(rows: Any) -> None:
        if rows and isinstance(rows[0], LeadOwnerRow | OwnerPathRow):
            return None  # links came later still (migration 6)
        newer = NEWER.get(type(rows[0])) if rows else None
        if newer is None:
            return write(rows)
        columns = [c for c in type(rows[0]).columns() if c not in newer]
        body = orjson.dumps([{c: getattr(r, c) for c in columns} for r in rows], default=str)
        store.ch.insert_json(type(rows[0]).TABLE, body, columns)

    store.write = old_write  # type: ignore[method-assign]
    store.lead_facts_of = lambda deals: {}  # type: ignore[method-assign]
    store.linked_leads = lambda: iter(())  # type: ignore[method-assign]
    store.owners_of = lambda leads: []  # type: ignore[method-assign]
    return store


def project(store: ClickHouseProjectionStore, events: list[Any]) -> None:
    data = [orjson.loads(e.model_dump_json()) for e in events]
    Projector(store, ProjectionConfig()).project(events, data)


def funnels(ch: ClickHouse) -> list[Any]:
    """The reports that read the summaries and the leads' own touches, and a drill of each."""
    return [
        run(ch, sales_funnel, *PERIOD),
        run(ch, lambda c, q: lead_funnel(c, q, "source"), *PERIOD),
        run(ch, lambda c, q: attribution(c, q, "linear", "source"), *PERIOD),
        run(ch, lambda c, q: attribution(c, q, "first_touch", "channel"), *PERIOD, source="yandex"),
        run(ch, lambda c, q: drill_leads(c, q, 100, 0, "received", BY_SOURCE), *PERIOD),
        run(
            ch, lambda c, q: drill_leads(c, q, 100, 0, "opened_deal"), *PERIOD, source="google.com"
        ),
        run(ch, lambda c, q: drill_deals(c, q, "opened", {"reached_stage": "won"}, 99, 0), *PERIOD),
    ]


@pytest.fixture
def earlier(chdb_client, monkeypatch):  # type: ignore[no-untyped-def]
    """A database as the schema before migrations 4 and 5 left it."""
    with schema_at(chdb_client, monkeypatch, 3) as ch:
        yield ch


def all_events(seed: int) -> list[Any]:
    stories = random_stories(seed, 30)
    touches: list[dict[str, str]] = [
        {"utm_source": " Yandex", "utm_campaign": "spring"},  # stored stripped, lower-cased
        {"referrer": "https://www.google.com/search?q=crm"},  # the referring host
        {},  # (direct)
    ]
    leads = [lead(s.lead_id, T0 - H, **touches[n % 3]) for n, s in enumerate(stories)]
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
    project(as_older_release(ClickHouseProjectionStore(earlier)), events)
    project(ClickHouseProjectionStore(clickhouse), events)  # the current release, from scratch

    assert migrate(earlier) == LATEST
    assert summaries(earlier) == summaries(clickhouse) == from_stays(clickhouse)
    assert touch_sources(earlier) == touch_sources(clickhouse)
    assert funnels(earlier) == funnels(clickhouse)
    versions = "SELECT deal_id, version FROM {db}.deals FINAL ORDER BY deal_id"
    assert earlier.rows(versions) == clickhouse.rows(versions)  # each row keeps its version
    assert migrate(earlier) == LATEST  # again: nothing to do
    assert summaries(earlier) == summaries(clickhouse)


def test_deals_an_older_writer_left_without_a_summary_are_given_one(clickhouse):
    events = all_events(8)
    project(ClickHouseProjectionStore(clickhouse), events)
    expected, reports = summaries(clickhouse), funnels(clickhouse)
    # An older release's writer, meanwhile, writes some deals again (here: as they were).
    moved = [
        e
        for e in events
        if getattr(e, "deal_id", None) in ("d3", "d4", "d5")
        or (isinstance(e, LeadReceived) and e.lead_id in ("l3", "l4", "l5"))
    ]
    project(as_older_release(ClickHouseProjectionStore(clickhouse)), moved)
    assert summaries(clickhouse)["d4"] == ([], [])
    assert touch_sources(clickhouse)["l4"] == ""
    assert funnels(clickhouse) != reports

    fill_missing(clickhouse)
    assert summaries(clickhouse) == expected
    assert funnels(clickhouse) == reports
    empty = "SELECT count() AS n FROM {db}.deals FINAL WHERE empty(stages_entered)"
    assert clickhouse.rows(empty) == [{"n": 0}]
    assert "" not in touch_sources(clickhouse).values()


def touch_sources(ch: ClickHouse) -> dict[str, str]:
    rows = ch.rows("SELECT lead_id, touch_source FROM {db}.leads FINAL")
    return {r["lead_id"]: r["touch_source"] for r in rows}


def test_a_leads_touch_source_is_its_own_touchpoints_source(clickhouse):
    project(ClickHouseProjectionStore(clickhouse), all_events(9))
    own = clickhouse.rows("SELECT lead_id, source FROM {db}.touchpoints FINAL WHERE kind = 'lead'")
    assert touch_sources(clickhouse) == {r["lead_id"]: r["source"] for r in own}
    assert set(touch_sources(clickhouse).values()) == {"yandex", "google.com", "(direct)"}


def test_a_summary_row_is_written_like_any_other_row():
    assert issubclass(DealRow, Row)
    assert DealRow.columns()[-9:-4] == tuple(SUMMARY)  # the migration's columns, in its order


def test_the_reports_compared_above_have_something_to_show(clickhouse):
    project(ClickHouseProjectionStore(clickhouse), all_events(7))
    sales, leads, linear, first, by_source, opened, reached = funnels(clickhouse)
    assert sales["stages"][1]["reached"] > 0 and sales["stages"][0]["avg_duration_seconds"]
    assert {r["source"] for r in leads["rows"]} == {"yandex", "google.com", "(direct)"}
    assert linear["totals"]["won"] > 0 and first["totals"]["leads"] > 0
    assert by_source["total"] > 0 and opened["total"] > 0 and reached["total"] > 0


ODD = ('qu"ote', "back\\slash, ünï", "tab\tand [brackets]")  # names JSON must escape


def test_the_stages_text_says_the_stages_whatever_their_names(clickhouse):
    """The funnels group deals by `stages_json`, which the engine makes of each row's
    `stages_entered` (migration 10), and read the stages back from it."""
    names = ["new", *ODD, "won", "lost"]
    pipeline = PipelineRow(
        "default", "Odd", names, ["open"] * 4 + ["won", "lost"], [0.1] * 4 + [1.0, 0.0], T0
    )
    ClickHouseProjectionStore(clickhouse).write([pipeline])
    d1 = DealStory("d1", T0, "10", lead_id="l1").move(ODD[1], T0 + H).move(ODD[0], T0 + 2 * H)
    d2 = DealStory("d2", T0, "20", lead_id="l2").move(ODD[2], T0 + H)
    leads = [lead("l1", T0 - H), lead("l2", T0 - H)]
    project(ClickHouseProjectionStore(clickhouse), leads + d1.events + d2.events)

    texts = clickhouse.rows("SELECT stages_entered, stages_json FROM {db}.deals FINAL")
    assert all(orjson.loads(r["stages_json"]) == list(r["stages_entered"]) for r in texts)
    sales = run(clickhouse, sales_funnel, *PERIOD)
    by_lead = run(clickhouse, lead_funnel, *PERIOD)
    # A stage skipped on the way counts as passed: d2 went from the first to the fourth.
    expected = {"new": 2, ODD[0]: 2, ODD[1]: 2, ODD[2]: 1, "won": 0}
    assert {s["stage"]: s["reached"] for s in sales["stages"]} == expected
    assert {s["stage"]: s["reached"] for s in by_lead["rows"][0]["stages"]} == expected
