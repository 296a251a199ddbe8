"""Attribution's paths as the projection keeps them (`owner_paths`): per owner (a deal's
client, or its own lead without one) every touch of every lead that opened one of its deals,
sorted. Held to the same paths worked out in Python from the stored deals and touches however
the events come (shuffled, redelivered, a lead after its deal, few deals kept in memory); given
to an install from before them (migration 6) and to deals an older release's writer stored
without their links; and the same attribution either way."""

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
from analytics.application.rebuild import STREAM_TABLES
from analytics.application.reports.attribution import attribution, credit_of_groups
from analytics.application.reports.attribution_query import PATHS
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.paths import PathKeeper
from analytics.domain.projection.rows import KnownPaymentRow, LeadOwnerRow, OwnerPathRow
from crm_contracts.events import Touch
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import run, schema_at, without_lead_facts

T0 = datetime(2026, 3, 1, 7, 0, 0, 123456, tzinfo=UTC)
PERIOD = ("2026-01-01", "2027-01-01")
LATEST = schema.MIGRATIONS[-1][0]  # the schema version after every migration
SOURCES = [("google", "cpc"), ("vk", "cpc"), ("news", "email"), (None, None)]


def story_events(seed: int, clients: int = 6) -> list[Any]:
    """Clients with a few deals each (some won and paid), deals without a client, a deal
    without a lead; leads with their own touch and sometimes a visitor's first touch."""
    rng = random.Random(seed)
    events: list[Any] = []
    n = 0
    for c in range(clients + 1):
        for _ in range(rng.randrange(1, 5)):
            n += 1
            at = T0 + timedelta(days=rng.randrange(300), microseconds=rng.randrange(10**6))
            source, medium = rng.choice(SOURCES)
            touch = {"utm_source": source, "utm_medium": medium} if source else {}
            first = None
            if rng.random() < 0.5:
                first = Touch(at=at - timedelta(days=rng.randrange(1, 60)), utm_source="ya")
            lead_at = at - timedelta(minutes=5)
            events.append(lead(f"l{n}", lead_at, first=first, **touch))
            client = f"c{c}" if c < clients else None  # the last "client": deals without one
            amount = str(rng.randrange(1, 900))
            story = DealStory(f"d{n}", at, amount, client=client, lead_id=f"l{n}")
            if rng.random() < 0.5:
                story.win(at + timedelta(days=1)).pay("100", at + timedelta(days=2))
            events += story.events
    no_lead = DealStory("d0", T0 + timedelta(days=3), "50", client="c0", lead_id="")
    return events + no_lead.events


def deliver(ch: ClickHouse, events: list[Any], seed: int, capacity: int = 2) -> None:
    rng = random.Random(seed)
    events = events + rng.sample(events, len(events) // 4)
    rng.shuffle(events)
    projector = Projector(ClickHouseProjectionStore(ch), ProjectionConfig(), capacity)
    projector.paths = PathKeeper(recent=capacity)  # most leads' touches read back
    for i in range(0, len(events), 5):
        batch = events[i : i + 5]
        projector.project(batch, [orjson.loads(e.model_dump_json()) for e in batch])


def kept(ch: ClickHouse) -> dict[str, list[tuple[Any, ...]]]:
    rows = ch.rows("SELECT owner, arraySort(touches) AS p FROM {db}.owner_paths FINAL")
    return {r["owner"]: [tuple(t) for t in r["p"]] for r in rows}


def expected(ch: ClickHouse) -> dict[str, list[tuple[Any, ...]]]:
    """Worked out in Python from every deal's latest row and every stored touch."""
    touches = defaultdict(set)
    for t in ch.rows(
        "SELECT DISTINCT lead_id, touch_at, channel, source, campaign FROM {db}.touchpoints"
    ):
        touches[t["lead_id"]].add((t["touch_at"], t["channel"], t["source"], t["campaign"]))
    paths = defaultdict(set)
    for d in ch.rows("SELECT lead_id, client_id FROM {db}.deals FINAL WHERE lead_id != ''"):
        owner = d["client_id"] or "lead:" + d["lead_id"]
        paths[owner] |= touches[d["lead_id"]]
    return {owner: sorted(p) for owner, p in paths.items() if p}


def reports(ch: ClickHouse) -> list[Any]:
    return [
        run(ch, lambda c, q, m=model: attribution(c, q, m, "source"), *PERIOD)
        for model in ("linear", "first_touch", "time_decay")
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kept_paths_are_every_owners_touches_however_the_events_come(clickhouse, seed):
    events = story_events(seed)
    deliver(clickhouse, events, seed)
    got = kept(clickhouse)
    assert got == expected(clickhouse)
    assert "c0" in got and any(owner.startswith("lead:") for owner in got)
    assert any(len(path) >= 4 for path in got.values())  # repeat clients gather touches
    # An owner's touches are on several rows (one per batch that added some): the report
    # unites them as the query-time reference finds them.
    assert clickhouse.rows(
        "SELECT count() > uniqExact(owner) AS several FROM {db}.owner_paths"
    ) == [{"several": 1}]
    q = ReportQuery(Period.parse(*PERIOD, "UTC"))
    for model in ("linear", "first_touch", "time_decay"):
        credit, reference = (
            sorted(credit_of_groups(clickhouse, q, model, "source", 90, 7.0, *paths), key=str)
            for paths in ((), (PATHS,))
        )
        assert credit == reference
        assert credit  # something credited to compare


def test_a_lead_that_comes_after_its_deal_reaches_the_owners_path(clickhouse):
    received = lead("l1", T0, utm_source="google", utm_medium="cpc")
    deal = DealStory("d1", T0 + timedelta(minutes=5), "100", client="c1", lead_id="l1")
    earlier = lead("l2", T0 - timedelta(days=3), utm_source="vk", utm_medium="cpc")
    second = DealStory("d2", T0 + timedelta(days=1), "100", client="c1", lead_id="l2")
    for batch in ([*deal.events], [received], [*second.events], [earlier]):
        Projector(ClickHouseProjectionStore(clickhouse), ProjectionConfig()).project(
            batch, [orjson.loads(e.model_dump_json()) for e in batch]
        )
    [(owner, path)] = kept(clickhouse).items()
    assert owner == "c1"
    assert [source for _, _, source, _ in path] == ["vk", "google"]


@pytest.fixture
def earlier(chdb_client, monkeypatch):  # type: ignore[no-untyped-def]
    """A database as the schema before migration 6 left it."""
    with schema_at(chdb_client, monkeypatch, 5) as ch:
        yield ch


def as_older_release(store: ClickHouseProjectionStore) -> ClickHouseProjectionStore:
    """A store that writes no links and keeps no paths, as a release before them (nor the
    known payments and the deals' lead facts, which came later still)."""
    store = without_lead_facts(store)
    write = store.write

    def old_write(rows: Any) -> None:
        if rows and isinstance(rows[0], LeadOwnerRow | OwnerPathRow | KnownPaymentRow):
            return None
        return write(rows)

    store.write = old_write  # type: ignore[method-assign]
    store.linked_leads = lambda: iter(())  # type: ignore[method-assign]
    store.owners_of = lambda leads: []  # type: ignore[method-assign]
    return store


def test_an_install_from_before_the_paths_is_upgraded_in_place(earlier, clickhouse):
    events = story_events(4)
    deliver_with(as_older_release(ClickHouseProjectionStore(earlier)), events)
    deliver_with(ClickHouseProjectionStore(clickhouse), events)

    assert migrate(earlier) == LATEST
    assert kept(earlier) == kept(clickhouse) == expected(clickhouse)
    assert reports(earlier) == reports(clickhouse)
    assert migrate(earlier) == LATEST  # again: nothing to do
    assert kept(earlier) == kept(clickhouse)


def deliver_with(store: ClickHouseProjectionStore, events: list[Any]) -> None:
    data = [orjson.loads(e.model_dump_json()) for e in events]
    Projector(store, ProjectionConfig()).project(events, data)


def test_deals_an_older_writer_stored_without_links_get_their_paths(clickhouse):
    events = story_events(5)
    deliver_with(ClickHouseProjectionStore(clickhouse), events[:20])
    # An older release's writer, meanwhile, stores the rest.
    deliver_with(as_older_release(ClickHouseProjectionStore(clickhouse)), events[20:])
    assert kept(clickhouse) != expected(clickhouse)

    fill_missing(clickhouse)
    assert kept(clickhouse) == expected(clickhouse)
    fresh = ClickHouse(clickhouse.client, clickhouse.db + "_fresh")
    try:
        migrate(fresh)
        deliver_with(ClickHouseProjectionStore(fresh), events)
        assert reports(clickhouse) == reports(fresh)
    finally:
        fresh.command("DROP DATABASE IF EXISTS {db}")


def test_a_rebuild_swaps_the_paths_with_the_tables_they_come_from():
    assert {"owner_paths", "lead_owners", "touchpoints"} <= set(STREAM_TABLES)


def test_the_reports_compared_above_have_something_to_show(clickhouse):
    deliver_with(ClickHouseProjectionStore(clickhouse), story_events(4))
    for report in reports(clickhouse):
        assert report["totals"]["won"] > 0 and report["totals"]["revenue"] != "0.00"
