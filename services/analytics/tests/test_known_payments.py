"""`known_payments`, what the client reports read without a deal filter: the payments of the
deals the projection knows, each with its client (the payment's, else its deal's), equal to
what the events say however they come (shuffled, redelivered, through a projector that
remembers few deals, restarted); a payment that comes before its deal's opening is there once
the opening comes. Filled for an install from before it (migration 8) and for payments an
older release stored without one."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from analytics.adapters import known_payments, schema
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.adapters.schema import migrate
from analytics.application.ingest import Projector
from analytics.application.rebuild import STREAM_TABLES
from analytics.application.reports.common import (
    client_payments,
    manager_payments,
    payments_between,
)
from analytics.application.reports.money import abc
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.rows import KnownPaymentRow
from crm_contracts.events import DealOpened, DealPaymentReceived
from services.analytics.tests.history import DealStory
from services.analytics.tests.reports_support import LEAD_FACTS, run, schema_at
from services.analytics.tests.test_row_summaries import deliver

T0 = datetime(2026, 3, 1, 7, 0, 0, 123000, tzinfo=UTC)
COLUMNS = "payment_id, deal_id, client_id, manager_id, amount, currency, paid_at"
Known = set[tuple[Any, ...]]


def story_events(seed: int, deals: int = 24) -> list[Any]:
    """Deals with and without a client, paid in parts, some payments naming no client or one
    of their own, some in another currency; and payments of a deal whose opening never
    comes."""
    rng = random.Random(seed)
    events: list[Any] = []
    for n in range(deals + 1):
        at = T0 + timedelta(days=rng.randrange(100), seconds=rng.randrange(86400))
        client = rng.choice([None, f"c{n % 5}"])
        story = DealStory(f"d{n}", at, str(rng.randrange(1, 900)), client=client)
        for _ in range(rng.randrange(4)):
            at += timedelta(hours=rng.randrange(1, 300))
            if rng.random() < 0.3:
                story.move(rng.choice(["qualified", "proposal"]), at)
            story.pay(str(rng.randrange(1, 500)), at)
        if n == deals:
            story.pay("10", at + timedelta(hours=1))
        mine = story.events if n < deals else story.events[1:]  # the last: never opened
        events += [_varied(e, rng) for e in mine]
    return events


def _varied(event: Any, rng: random.Random) -> Any:
    if not isinstance(event, DealPaymentReceived):
        return event
    if rng.random() < 0.4:  # none of its own (the deal's, if any), or another one
        event = event.model_copy(update={"client_id": rng.choice([None, "own"])})
    if rng.random() < 0.2:
        event = event.model_copy(update={"currency": "USD"})
    if rng.random() < 0.2:
        event = event.model_copy(update={"manager_id": None})
    return event


def expected(events: list[Any]) -> Known:
    """The payments whose deal was opened, with the payment's client or the deal's."""
    opened = {e.deal_id: e for e in events if isinstance(e, DealOpened)}
    return {
        (p.payment_id, p.deal_id, p.client_id or opened[p.deal_id].client_id or "")
        + (p.manager_id or "", p.amount, p.currency, p.paid_at)
        for p in events
        if isinstance(p, DealPaymentReceived) and p.deal_id in opened
    }


def kept(ch: ClickHouse) -> Known:
    rows = ch.rows(f"SELECT {COLUMNS} FROM {{db}}.known_payments FINAL")
    return {(*list(r.values())[:6], r["paid_at"].replace(tzinfo=UTC)) for r in rows}


def project(ch: ClickHouse, events: list[Any], capacity: int = 100) -> None:
    """Through a fresh projector (a restart: it remembers nothing)."""
    projector = Projector(ClickHouseProjectionStore(ch), ProjectionConfig(), capacity)
    projector.project(events, [orjson.loads(e.model_dump_json()) for e in events])


@pytest.mark.parametrize("seed", range(5))
def test_they_are_the_payments_of_the_opened_deals_however_the_events_come(clickhouse, seed):
    events = story_events(seed)
    deliver(clickhouse, events, seed)
    want = expected(events)
    assert kept(clickhouse) == want
    clients = {row[2] for row in want}
    assert {"", "own"} < clients and any(row[5] == "USD" for row in want)  # every case met
    given = {e.payment_id: e.client_id for e in events if isinstance(e, DealPaymentReceived)}
    assert any(given[row[0]] is None and row[2] for row in want)  # the deal's client taken
    paid = {e.payment_id for e in events if isinstance(e, DealPaymentReceived)}
    assert len(paid) > len(want)  # the unopened deal's payments are left out
    # What the reports read of them is what the payments joined to their deals give.
    q = ReportQuery(Period.parse("2026-01-01", "2027-01-01", "Europe/Moscow"))
    for name, read in (("client_id", client_payments(q)), ("manager_id", manager_payments(q))):
        select = Sql(f"SELECT {name}, amount, paid_at FROM ({{payments}})")
        got = Counter(tuple(r.values()) for r in clickhouse.select(select.fill(payments=read)))
        between = select.fill(payments=payments_between(q))
        assert got == Counter(tuple(r.values()) for r in clickhouse.select(between))


def test_a_payment_before_its_deal_counts_once_the_deal_opens(clickhouse):
    story = DealStory("d1", T0, "500").pay("300", T0 + timedelta(days=1))
    opening, payment = story.events
    period = ("2026-03-01", "2026-04-01")
    project(clickhouse, [payment])
    assert kept(clickhouse) == set()
    assert run(clickhouse, abc, *period)["rows"] == []
    project(clickhouse, [opening])  # another projector: the deal's history is read back
    assert kept(clickhouse) == expected(story.events)
    assert kept(clickhouse) and run(clickhouse, abc, *period)["rows"] == []  # no client: none
    client = DealStory("d2", T0, "500", client="k").pay("300", T0 + timedelta(days=1))
    project(clickhouse, client.events[1:])
    project(clickhouse, client.events[:1] + client.events[1:])  # and redelivered with it
    rows = run(clickhouse, abc, *period)["rows"]
    assert [(r["client_id"], r["revenue"]) for r in rows] == [("k", "300.00")]


def test_the_fill_gives_what_the_projection_gives_and_then_nothing(clickhouse):
    events = story_events(7)
    deliver(clickhouse, events, 7)
    projected = kept(clickhouse)
    clickhouse.command("TRUNCATE TABLE {db}.known_payments")
    known_payments.fill_missing(clickhouse)
    assert kept(clickhouse) == projected
    stored = clickhouse.rows("SELECT count() AS n FROM {db}.known_payments")[0]["n"]
    known_payments.fill_missing(clickhouse)  # a writer elected again: nothing missing
    assert clickhouse.rows("SELECT count() AS n FROM {db}.known_payments")[0]["n"] == stored


def test_payments_an_older_writer_stored_are_added_when_a_writer_is_elected(clickhouse):
    events = story_events(11)
    store = ClickHouseProjectionStore(clickhouse)
    write = store.write  # an older release's writer: no known payments
    store.write = lambda rows: (
        None if rows and isinstance(rows[0], KnownPaymentRow) else write(rows)
    )  # type: ignore[method-assign]
    Projector(store, ProjectionConfig()).project(
        events, [orjson.loads(e.model_dump_json()) for e in events]
    )
    assert kept(clickhouse) == set() != expected(events)
    schema.fill_missing(clickhouse)  # what a replica does once elected
    assert kept(clickhouse) == expected(events)


def test_an_upgrade_fills_it_from_the_stored_payments(clickhouse, chdb_client, monkeypatch):
    events = story_events(3)
    deliver(clickhouse, events, 3)
    with schema_at(chdb_client, monkeypatch, 7) as earlier:
        tables = earlier.rows(
            "SELECT name FROM system.tables WHERE database = {d:String}", {"d": earlier.db}
        )
        assert "known_payments" not in {t["name"] for t in tables}
        # The columns release 7 had: its deals had no lead facts.
        for table, columns in (("payments", "*"), ("deals", f"* EXCEPT ({', '.join(LEAD_FACTS)})")):
            earlier.command(
                f"INSERT INTO {{db}}.{table} SELECT {columns} FROM {clickhouse.db}.{table}"
            )
        monkeypatch.undo()  # every migration again
        assert migrate(earlier) == schema.MIGRATIONS[-1][0] >= 8
        assert kept(earlier) == expected(events)


def test_it_is_merged_once_an_hour_old_and_swapped_by_a_rebuild(clickhouse):
    create = clickhouse.rows(
        "SELECT create_table_query AS q FROM system.tables"
        " WHERE database = {d:String} AND name = 'known_payments'",
        {"d": clickhouse.db},
    )[0]["q"]
    assert "min_age_to_force_merge_seconds = 3600" in create
    assert "known_payments" in STREAM_TABLES


def test_amounts_keep_their_cents(clickhouse):
    story = DealStory("d1", T0, "5", client="k").pay("0.07", T0 + timedelta(hours=1))
    project(clickhouse, story.events)
    assert [row[4] for row in kept(clickhouse)] == [Decimal("0.07")]
