"""Funnels, cohorts and the sales reports read some tables without FINAL (deduping by key
themselves): rows a redelivery or a late, older version leaves until a merge must not change
a single figure."""

from datetime import UTC, datetime

import pytest

from analytics.application.reports.cohorts import amount_distribution, cohorts, parse_edges
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.leads import lead_funnel
from analytics.application.reports.sales import managers, weighted_pipeline
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import (
    awaiting_merge,
    late_stay_openings,
    load,
    merged,
    run,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EDGES = parse_edges("0,500,1000")

# Every table a report here reads, with or without FINAL.
TABLES = (
    "leads",
    "touchpoints",
    "deals",
    "deal_stage_intervals",
    "payments",
    "known_payments",
    "tasks",
)


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def history():
    events = [
        lead("l1", at(3, 2), utm_source="yandex", utm_medium="cpc"),
        lead("l2", at(3, 3), utm_source="google", utm_medium="cpc"),
        lead("l3", at(3, 4)),
    ]
    won = DealStory("d1", at(3, 2, 11), "900", lead_id="l1", client="A")
    won.move("qualified", at(3, 3)).move("proposal", at(3, 4, 15)).win(at(3, 5))
    won.pay("900", at(3, 6)).pay("100", at(4, 2))
    lost = DealStory("d2", at(3, 3, 11), "300", lead_id="l2", client="B")
    lost.move("qualified", at(3, 4)).move("lost", at(3, 6), "lost", "price")
    reopened = DealStory("d3", at(3, 4, 11), "1200", lead_id="l3", client="A")
    reopened.move("lost", at(3, 5), "lost").move("proposal", at(3, 7), "open")
    reopened.task("t1", at(3, 8), at(3, 5)).complete("t1", at(3, 9))
    again = DealStory("d4", at(4, 1, 11), "50", client="C").win(at(4, 3)).pay("50", at(4, 4))
    return events + won.events + lost.events + reopened.events + again.events


REPORTS = {
    "sales-funnel": sales_funnel,
    "lead-funnel": lead_funnel,
    "lead-funnel-source": lambda ch, q: lead_funnel(ch, q, "source"),
    "cohorts": cohorts,
    "amount-distribution": lambda ch, q: amount_distribution(ch, q, EDGES),
    "managers": lambda ch, q: managers(ch, q, NOW),
    "weighted-pipeline": weighted_pipeline,
}


def answers(ch):
    return {
        name: run(ch, compute, "2026-03-01", "2026-05-01", compare="previous_period")
        for name, compute in REPORTS.items()
    }


@pytest.mark.parametrize("extra", ["duplicates", "older_versions"])
def test_rows_awaiting_a_merge_change_nothing(clickhouse, extra):
    load(clickhouse, history())
    merged(clickhouse, TABLES)
    expected = answers(clickhouse)
    assert expected["sales-funnel"]["deals"] == 4
    assert [s["avg_duration_seconds"] is not None for s in expected["sales-funnel"]["stages"]][
        :2
    ] == [True, True]
    awaiting_merge(clickhouse, TABLES, redelivered=extra == "duplicates")
    if extra == "duplicates":  # and one deal's stays once more (a mean over all twice is equal)
        clickhouse.command(
            "INSERT INTO {db}.deal_stage_intervals "
            "SELECT * FROM {db}.deal_stage_intervals FINAL WHERE deal_id = 'd1'"
        )
    if extra == "older_versions":
        # Late rows of lower versions: a stay's opening row after its closing one, and each
        # deal's and task's state before its latest change.
        late_stay_openings(clickhouse)
        clickhouse.command(
            "INSERT INTO {db}.deals SELECT * REPLACE (version - 1 AS version, "
            "'open' AS status, 'new' AS stage, 'nobody' AS manager_id) "
            "FROM {db}.deals WHERE version > 1"
        )
        clickhouse.command(
            "INSERT INTO {db}.tasks SELECT * REPLACE (version - 1 AS version, "
            "'scheduled' AS status, NULL AS closed_at) FROM {db}.tasks WHERE version > 1"
        )
    rows = clickhouse.rows("SELECT count() AS n FROM {db}.deal_stage_intervals")
    assert rows[0]["n"] > len(clickhouse.rows("SELECT * FROM {db}.deal_stage_intervals FINAL"))
    assert answers(clickhouse) == expected
