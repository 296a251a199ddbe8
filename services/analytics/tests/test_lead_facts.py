"""Each deal row's lead facts (domain/projection/lead_facts.py): the lead funnel reads them on
the deal's row instead of joining the deal to its lead, and joins only the deals whose row
lacks them. The answer must not depend on which: leads before or after their deals, shuffled,
redelivered, re-folded, an older writer's rows, the migration's fill."""

from __future__ import annotations

import random
from datetime import UTC, timedelta
from typing import Any

import pytest

from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.adapters.schema import fill_lead_facts, migrate
from analytics.application.ingest import Projector
from analytics.application.reports.leads import lead_funnel
from analytics.domain.projection import lead_facts
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.lead_facts import LeadFactKeeper, facts_of
from analytics.domain.projection.rows import DealRow, LeadRow
from crm_contracts.events import LeadReceived
from services.analytics.tests.history import lead
from services.analytics.tests.reports_support import (
    LEAD_FACTS,
    run,
    schema_at,
    without_lead_facts,
)
from services.analytics.tests.test_row_summaries import (
    T0,
    deliver,
    project,
    random_stories,
)

FACTS = list(LEAD_FACTS)
TOUCHES: list[dict[str, str]] = [
    {"utm_source": "Yandex", "utm_campaign": "spring"},
    {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "autumn"},
    {"referrer": "https://www.google.com/search?q=crm"},
    {},  # (direct)
]
# A quarter, and its comparison; the leads are received over half a year around it.
PERIOD = ("2026-04-01", "2026-07-01")


def history(seed: int, deals: int = 40) -> list[Any]:
    """Deals with leads received before them, a few after them (the deal's row is written
    first), some never; and a deal without a lead."""
    rng = random.Random(seed)
    stories = random_stories(seed, deals)
    leads = []
    for n, story in enumerate(stories):
        if n % 9 == 4:
            continue  # its lead is never received
        at = story.events[0].occurred_at + timedelta(days=rng.randrange(-90, 40))
        leads.append(lead(story.lead_id, at, **TOUCHES[rng.randrange(len(TOUCHES))]))
    leads.append(lead("alone", T0 + timedelta(days=50), utm_source="yandex"))  # no deal
    events = [e for s in stories for e in s.events]
    events.remove(next(e for e in events if getattr(e, "deal_id", "") == "d0"))  # not opened
    return sorted(leads + events, key=lambda e: e.occurred_at)


def funnels(ch: ClickHouse) -> list[Any]:
    """The lead funnel by each group, with each filter and with a comparison."""
    return [
        run(ch, lambda c, q: lead_funnel(c, q, "channel"), *PERIOD),
        run(ch, lambda c, q: lead_funnel(c, q, "source"), *PERIOD, compare="previous_period"),
        run(ch, lambda c, q: lead_funnel(c, q, "campaign"), *PERIOD, tz="Europe/Moscow"),
        run(ch, lambda c, q: lead_funnel(c, q, "source"), *PERIOD, campaign="spring"),
        run(ch, lambda c, q: lead_funnel(c, q, "campaign"), *PERIOD, source="yandex"),
        run(ch, lambda c, q: lead_funnel(c, q, "channel"), *PERIOD, channel="search"),
        run(ch, lambda c, q: lead_funnel(c, q, "channel"), "2026-01-01", "2027-01-01"),
    ]


def facts(ch: ClickHouse) -> dict[str, tuple[Any, ...]]:
    """Each deal's facts as its latest row carries them (None: none)."""
    rows = ch.rows("SELECT deal_id, " + ", ".join(FACTS) + " FROM {db}.deals FINAL")
    return {r["deal_id"]: tuple(r[c] for c in FACTS) for r in rows}


def leads_facts(ch: ClickHouse) -> dict[str, tuple[Any, ...]]:
    """What the leads' own rows say: the facts each deal with a stored lead should carry."""
    rows = ch.rows(
        "SELECT d.deal_id AS deal_id, l.received_at AS at, l.channel AS channel,"
        " l.touch_source AS source, l.utm_campaign AS campaign"
        " FROM {db}.deals AS d FINAL INNER JOIN {db}.leads AS l FINAL ON l.lead_id = d.lead_id"
    )
    return {r["deal_id"]: (r["at"], r["channel"], r["source"], r["campaign"]) for r in rows}


@pytest.fixture
def joined(clickhouse):  # type: ignore[no-untyped-def]
    """A second database, written by a projection that never completes a row: every deal is
    joined to its lead as the funnel reads it (what it did before the facts)."""
    other = clickhouse.on_database(clickhouse.db + "_joined")
    migrate(other)
    yield other
    other.command("DROP DATABASE IF EXISTS {db}")


def without_facts(monkeypatch: Any) -> None:
    monkeypatch.setattr(LeadFactKeeper, "complete", lambda self, deals, *_: deals)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_funnel_is_the_same_whichever_rows_carry_the_facts(
    clickhouse, joined, monkeypatch, seed
):
    events = history(seed)
    deliver(clickhouse, events, seed)  # shuffled, a fifth twice, most deals re-folded
    with monkeypatch.context() as patched:
        without_facts(patched)
        project(ClickHouseProjectionStore(joined), events)
    assert set(facts(joined).values()) == {(None, "", "", "")}

    carried = facts(clickhouse)
    expected = leads_facts(clickhouse)
    # A row carries facts only of its own stored lead; the shuffle leaves some without.
    assert {k: v for k, v in carried.items() if v[0] is not None}.items() <= expected.items()
    assert 0 < sum(v[0] is not None for v in carried.values()) < len(expected)
    assert funnels(clickhouse) == funnels(joined)

    fill_lead_facts(clickhouse)  # migration 9's fill: every stored lead's facts
    assert {k: v for k, v in facts(clickhouse).items() if v[0] is not None} == expected
    assert funnels(clickhouse) == funnels(joined)


def test_in_order_each_deal_carries_its_leads_facts_through_every_version(clickhouse):
    events = history(4)
    store = ClickHouseProjectionStore(clickhouse)
    projector = Projector(store, ProjectionConfig(), capacity=2)  # most deals re-folded
    asked: list[set[str]] = []
    lookup = store.lead_facts_of
    store.lead_facts_of = lambda deals: asked.append(deals) or lookup(deals)  # type: ignore[method-assign]
    for i in range(0, len(events), 5):
        batch = events[i : i + 5]
        projector.project(batch, [e.model_dump(mode="json") for e in batch])

    carried, expected = facts(clickhouse), leads_facts(clickhouse)
    opened_at = {e.deal_id: e.occurred_at for e in events if e.event_type == "deal.opened"}
    late = {d for d, (at, *_) in expected.items() if at.replace(tzinfo=UTC) > opened_at[d]}
    assert late and len(late) < len(expected)
    for deal_id, its in expected.items():
        # A deal whose lead came later has them if a version of its came after the lead.
        assert carried[deal_id] == its or (deal_id in late and carried[deal_id][0] is None)
    assert any(asked)  # re-folded rows took their facts from their stored rows
    assert carried["d4"] == (None, "", "", "")  # its lead never came


def test_an_install_before_the_facts_is_filled_and_an_older_writers_rows_count_alike(
    chdb_client, monkeypatch, clickhouse
):
    events = history(5)
    project(ClickHouseProjectionStore(clickhouse), events)
    expected = funnels(clickhouse)
    with schema_at(chdb_client, monkeypatch, 8) as earlier:
        project(without_lead_facts(ClickHouseProjectionStore(earlier)), events)
        assert migrate(earlier) > 8
        assert facts(earlier) == facts(clickhouse)
        assert funnels(earlier) == expected
    # An older writer, after the upgrade, writes some deals again: the funnel still joins them.
    moved = [
        e
        for e in events
        if getattr(e, "deal_id", None) in ("d1", "d2")
        or (isinstance(e, LeadReceived) and e.lead_id in ("l1", "l2"))
    ]
    project(without_lead_facts(ClickHouseProjectionStore(clickhouse)), moved)
    assert facts(clickhouse)["d1"][0] is None
    assert funnels(clickhouse) == expected


def lead_row(lead_id: str, n: int) -> LeadRow:
    return LeadRow(
        lead_id, T0 + timedelta(days=n), "site", "form", "", "", 1, "search", "yandex", "cpc",
        f"c{n}", "", "", "", "", "yandex",
    )  # fmt: skip


def deal_row(deal_id: str, lead_id: str) -> DealRow:
    return DealRow(
        deal_id, lead_id, "", "default", "", "", "new", "open", "", 0, 0, "RUB", T0, T0, 1
    )  # type: ignore[arg-type]


def test_memory_keeps_the_latest_leads_and_asks_the_store_only_for_the_rest():
    keeper = LeadFactKeeper(recent=2)
    keeper.learn([lead_row("l1", 1), lead_row("l2", 2), lead_row("l3", 3)])
    assert list(keeper.recent) == ["l2", "l3"]  # bounded: the oldest forgotten
    asked: list[set[str]] = []

    def stored(deals: set[str]) -> dict[str, Any]:
        asked.append(deals)
        return {"d1": facts_of(lead_row("l1", 1))}

    deals = [deal_row("d1", "l1"), deal_row("d3", "l3"), deal_row("d9", "l9"), deal_row("d0", "")]
    deals.append(deal_row("d8", "l8"))  # in memory all along: its stored rows have nothing more
    done = keeper.complete(deals, stored, refolded={"d1", "d3", "d9"})
    assert asked == [{"d1", "d9"}]  # re-folded, and not known in memory
    assert [d.lead_campaign for d in done] == ["c1", "c3", "", "", ""]
    assert done[2].lead_received_at is None and done[3].lead_received_at is None
    assert keeper.complete([done[1]], stored, {"d3"}) == [done[1]] and len(asked) == 1
    assert lead_facts.lacks_facts(done[2]) and not lead_facts.lacks_facts(done[3])
