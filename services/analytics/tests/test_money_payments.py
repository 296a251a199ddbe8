"""The client reports' own read of the payments (`client_payments`: a hash of the deal id in
PREWHERE, only the columns they use) gives the rows `payments_between` gives, whatever lies
unmerged in the tables; and their links, made by concatenation, are the `keyed_linker`'s."""

from collections import Counter
from datetime import UTC, datetime

import pytest

from analytics.adapters import known_payments
from analytics.application.reports.common import (
    client_payments,
    manager_payments,
    payments_between,
)
from analytics.application.reports.money import _keyed_links
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql
from services.analytics.tests.history import DealStory
from services.analytics.tests.reports_support import awaiting_merge, load

TABLES = ("deals", "payments", "known_payments")


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def ch(clickhouse):
    a = DealStory("a", at(1, 10), "900", client="K", manager="m1").win(at(1, 20))
    a.pay("100", at(2, 15)).pay("400", at(3, 5))
    b = DealStory("b", at(1, 11), "700", client="M", manager="m2").win(at(1, 21))
    b.pay("700", at(3, 6)).pay("50.25", at(3, 7))
    c = DealStory("c", at(2, 1), "300", client="Z z/ä", manager="m1").pay("300", at(3, 8))
    load(clickhouse, a.events + b.events + c.events)
    awaiting_merge(clickhouse, TABLES, redelivered=True)  # every row twice
    # Older rows naming another manager and client; a payment without a client (its deal's
    # then) and one of a deal the table does not have; a rate for another currency.
    clickhouse.command(
        "INSERT INTO {db}.deals SELECT * REPLACE ('m2' AS manager_id, 'old' AS client_id, "
        "version - 1 AS version) FROM {db}.deals FINAL WHERE deal_id IN ('a', 'c')"
    )
    clickhouse.command(
        "INSERT INTO {db}.payments SELECT * REPLACE (payment_id || '-x' AS payment_id, "
        "'' AS client_id, 'USD' AS currency) FROM {db}.payments FINAL WHERE deal_id = 'b'"
    )
    clickhouse.command(
        "INSERT INTO {db}.payments SELECT * REPLACE ('gone' AS deal_id, "
        "payment_id || '-g' AS payment_id) FROM {db}.payments FINAL WHERE deal_id = 'a'"
    )
    clickhouse.command(
        "INSERT INTO {db}.currency_rates VALUES ('2026-01-01', 'USD', 90.5, now64(3))"
    )
    known_payments.fill_missing(clickhouse)  # as the projection keeps them beside payments
    return clickhouse


def rows(ch, sql: Sql) -> Counter:
    select = Sql("SELECT client_id, amount, paid_at FROM ({payments})").fill(payments=sql)
    return Counter(tuple(r.values()) for r in ch.select(select))


@pytest.mark.parametrize(
    "filters", [{}, {"manager": "m1"}, {"manager": "m2"}, {"pipeline": "default"}]
)
@pytest.mark.parametrize(
    ("start", "end"), [("2026-03-01", "2026-04-01"), ("2026-01-01", "2027-01-01")]
)
def test_client_payments_are_the_payments_between(ch, filters, start, end):
    q = ReportQuery(Period.parse(start, end, "UTC"), **filters)
    expected = rows(ch, payments_between(q))
    assert rows(ch, client_payments(q)) == expected
    within = Period.parse("2026-02-01", end, "UTC")
    assert rows(ch, client_payments(q, within, "w_")) == rows(ch, payments_between(q, within, "w_"))
    if not filters and start == "2026-03-01":
        assert sum(expected.values()) == 6  # the duplicates once, the unknown deal's not at all


@pytest.mark.parametrize("filters", [{}, {"manager": "m1"}, {"pipeline": "default"}])
def test_the_managers_payments_are_the_payments_between(ch, filters):
    # Payments naming no manager (their deal's latest row names m1, an older one m2), kept
    # beside the others as the projection keeps them.
    ch.command(
        "INSERT INTO {db}.payments SELECT * REPLACE (payment_id || '-n' AS payment_id, "
        "'' AS manager_id) FROM {db}.payments FINAL WHERE deal_id IN ('a', 'b')"
    )
    known_payments.fill_missing(ch)
    q = ReportQuery(Period.parse("2026-01-01", "2027-01-01", "UTC"), **filters)
    select = Sql("SELECT manager_id, amount, paid_at FROM ({payments})")
    got = Counter(tuple(r.values()) for r in ch.select(select.fill(payments=manager_payments(q))))
    want = Counter(tuple(r.values()) for r in ch.select(select.fill(payments=payments_between(q))))
    assert got == want
    if not filters:
        assert sum(n for (manager, *_), n in got.items() if manager == "m1") == 5


@pytest.mark.parametrize("filters", [{}, {"manager": "m 1&x=ä"}, {"channel": "a+b"}])
def test_links_are_the_keyed_linkers(filters):
    q = ReportQuery(Period.parse("2026-03-01", "2026-04-01", "Europe/Moscow"), **filters)
    values = ["K", "", "Z z/ä", "a-b_c.d~e", "x&y=z", "%41", "+", "_", "&"]
    for link in (
        q.keyed_linker("deals", "client"),
        q.keyed_linker("deals", "client", basis="paid"),
    ):
        assert _keyed_links(link, values) == [link(v) for v in values]
        safe = ["K", "a-b_c.d~e", "0f", "_"]
        assert _keyed_links(link, safe) == [link(v) for v in safe]
        assert _keyed_links(link, []) == []
