"""Money reports and attribution over rows a redelivery or a late, older version leaves until a
merge: no figure may change (their queries read the latest state of each key, whatever way)."""

from datetime import UTC, datetime

import pytest

from analytics.application.reports.attribution import attribution
from analytics.application.reports.money import (
    abc,
    active_clients,
    client_profitability,
    dynamics,
    repeat_sales,
)
from analytics.domain.attribution import MODELS
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import awaiting_merge, load, merged, run

TABLES = ("leads", "touchpoints", "deals", "payments", "known_payments")


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def history():
    events = [
        lead("l1", at(2, 20), utm_source="yandex", utm_medium="cpc", utm_campaign="brand"),
        lead("l2", at(3, 1), utm_source="google", utm_medium="cpc"),
        lead("l3", at(3, 2)),
        lead("l4", at(3, 3), utm_source="vk", utm_medium="social"),
    ]
    # A: won in February and twice in March (repeat deals and client); B: paid in February
    # only (win-back); C: a deal of its own lead, no client (not in repeat sales).
    a1 = DealStory("a1", at(2, 20, 11), "700", lead_id="l1", client="A", manager="m1")
    a1.win(at(2, 22)).pay("700", at(2, 23))
    a2 = DealStory("a2", at(3, 1, 11), "900", lead_id="l2", client="A", manager="m1", cost="300")
    a2.win(at(3, 5)).pay("400", at(3, 6)).pay("500", at(3, 20))
    a3 = DealStory("a3", at(3, 2, 11), "1200", lead_id="l3", client="A", manager="m2")
    a3.move("lost", at(3, 4), "lost").move("proposal", at(3, 7), "open").win(at(3, 9))
    a3.pay("1200", at(3, 10))
    b1 = DealStory("b1", at(2, 2), "500", client="B", manager="m2").win(at(2, 3))
    b1.pay("500", at(2, 4))
    c1 = DealStory("c1", at(3, 3, 11), "50", lead_id="l4", manager="m2", cost="10")
    c1.win(at(3, 12)).pay("50", at(3, 13))
    for story in (a1, a2, a3, b1, c1):
        events += story.events
    return events


REPORTS = {
    "dynamics": lambda ch, q: dynamics(ch, q, "week"),
    "active-clients": active_clients,
    "repeat-sales": repeat_sales,
    "abc": abc,
    "client-profitability": client_profitability,
} | {
    f"attribution {model}": (lambda m: lambda ch, q: attribution(ch, q, m, "source"))(model)
    for model in MODELS
}


def answers(ch):
    return {
        name: [
            run(ch, compute, "2026-03-01", "2026-04-01", compare="previous_period"),
            run(ch, compute, "2026-03-01", "2026-04-01", manager="m1"),
        ]
        for name, compute in REPORTS.items()
    }


@pytest.mark.parametrize("extra", ["duplicates", "older_versions"])
def test_rows_awaiting_a_merge_change_nothing(clickhouse, extra):
    load(clickhouse, history())
    merged(clickhouse, TABLES)
    expected = answers(clickhouse)
    repeat = expected["repeat-sales"][0]["totals"]
    assert (repeat["won_deals"], repeat["repeat_deals"], repeat["repeat_clients"]) == (2, 2, 1)
    assert [r["client_id"] for r in expected["active-clients"][0]["win_back"]] == ["B"]
    assert expected["attribution linear"][0]["totals"]["won"] == 3
    awaiting_merge(clickhouse, TABLES, redelivered=extra == "duplicates")
    if extra == "older_versions":
        # Each deal's state before its latest change, arriving late: open, another client and
        # manager, not closed.
        clickhouse.command(
            "INSERT INTO {db}.deals SELECT * REPLACE (version - 1 AS version, 'open' AS status, "
            "'Z' AS client_id, 'nobody' AS manager_id, NULL AS closed_at) "
            "FROM {db}.deals WHERE version > 1"
        )
    rows = clickhouse.rows("SELECT count() AS n FROM {db}.deals")
    assert rows[0]["n"] > len(clickhouse.rows("SELECT * FROM {db}.deals FINAL"))
    assert answers(clickhouse) == expected
