"""The funnels as their one-pass SQL computes them: a deal counts by its latest row only (an
older row left unmerged may pass the filters or the period where the latest does not), each
group of the cohort folds into the stages (a stay of no length, a stay in a stage the
pipeline no longer has), and a comparison's two periods stay apart."""

from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import pytest

from analytics.application.reports.compare import _merge
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.leads import lead_funnel
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.serialize import report_json
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import awaiting_merge, by, load, run

MARCH = ("2026-03-01", "2026-04-01")


def at(month, day, hour=10, year=2026):
    return datetime(year, month, day, hour, tzinfo=UTC)


def history():
    """March 2026: d1 lost after qualifying, d2 at proposal, d3 opened in February (the same
    quarter), d4 reassigned to m2, d5 moved to another pipeline; d6 and d7 opened from l5."""
    events = [
        lead("l1", at(3, 2), utm_source="yandex", utm_medium="cpc"),
        lead("l2", at(3, 3), utm_source="google", utm_medium="cpc"),
        lead("l3", at(2, 5), utm_source="yandex", utm_medium="cpc"),
        lead("l4", at(3, 4)),
        lead("l5", at(3, 5), utm_source="yandex", utm_medium="cpc"),
    ]
    d1 = DealStory("d1", at(3, 2, 11), "100", lead_id="l1")
    d1.move("qualified", at(3, 3)).move("lost", at(3, 6), "lost", "price")
    d2 = DealStory("d2", at(3, 3, 11), "200", lead_id="l2").move("proposal", at(3, 4))
    d3 = DealStory("d3", at(2, 5, 11), "300", lead_id="l3").move("qualified", at(2, 6))
    d4 = DealStory("d4", at(3, 4, 11), "400", lead_id="l4", manager="m2")
    d5 = DealStory("d5", at(3, 5, 11), "500", lead_id="l3")
    d6 = DealStory("d6", at(3, 5, 12), "600", lead_id="l5").win(at(3, 7)).pay("600", at(3, 8))
    d7 = DealStory("d7", at(3, 6, 12), "700", lead_id="l5")
    stories = (d1, d2, d3, d4, d5, d6, d7)
    return events + [e for s in stories for e in s.events]


def stale_rows(ch):
    """Older versions of deals, each passing what its latest row does not: d3 opened in March,
    d4 with m1, d5 in the default pipeline from lead l2, d2 lost for another reason."""
    ch.command(
        "INSERT INTO {db}.deals SELECT * REPLACE (version - 1 AS version, "
        "multiIf(deal_id = 'd3', toDateTime64('2026-03-10 10:00:00', 3, 'UTC'), opened_at) "
        "AS opened_at, 'm1' AS manager_id, 'default' AS pipeline_id, "
        "if(deal_id = 'd5', 'l2', lead_id) AS lead_id, "
        "if(deal_id = 'd2', 'lost', status) AS status, "
        "if(deal_id = 'd2', 'stale', lost_reason) AS lost_reason, "
        "if(deal_id = 'd2', 'new', lost_at_stage) AS lost_at_stage) "
        "FROM {db}.deals FINAL WHERE deal_id IN ('d2', 'd3', 'd4', 'd5')"
    )


def answers(ch):
    funnels = {
        "sales": lambda ch, q: sales_funnel(ch, q),
        "leads": lambda ch, q: lead_funnel(ch, q, "source"),
    }
    return {
        (name, filters): run(ch, compute, *MARCH, **dict(filters))
        for name, compute in funnels.items()
        for filters in ((), (("manager", "m1"),), (("pipeline", "default"),))
    }


def moved_to_another_pipeline(ch):
    ch.command(
        "ALTER TABLE {db}.deals UPDATE pipeline_id = 'p2' WHERE deal_id = 'd5' "
        "SETTINGS mutations_sync = 1"
    )


def test_older_rows_passing_where_the_latest_does_not_change_nothing(clickhouse):
    load(clickhouse, history())
    moved_to_another_pipeline(clickhouse)
    expected = answers(clickhouse)
    sales = expected[("sales", (("manager", "m1"),))]
    # d1, d2, d6, d7 (d3 opened in February, d4 is m2's, d5 in another pipeline).
    assert (sales["deals"], sales["lost"]["deals"]) == (4, 1)
    assert sales["lost"]["by_reason"] == [{"reason": "price", "deals": 1}]
    leads = by(expected[("leads", ())]["rows"], "source")
    assert (leads["google"]["leads"], leads["google"]["deals"]) == (1, 1)  # l2: d2, not d5
    awaiting_merge(clickhouse, ("deals",), redelivered=False)
    count = "SELECT count() AS n FROM {db}.deals"
    rows = clickhouse.rows(count)[0]["n"]
    stale_rows(clickhouse)
    assert clickhouse.rows(count)[0]["n"] == rows + 4
    assert answers(clickhouse) == expected


def test_each_group_folds_into_its_stages(clickhouse):
    # s1 leaves `new` the moment it opens (a stay of no length), passes through a stage the
    # pipeline does not have (no stage of the funnel) and back to proposal; s2 stays in new.
    s1 = DealStory("s1", at(3, 2), "10.25", lead_id="")
    s1.move("qualified", at(3, 2)).move("archive", at(3, 2, 12)).move("proposal", at(3, 3))
    s2 = DealStory("s2", at(3, 4), "0.75", lead_id="")
    load(clickhouse, s1.events + s2.events)
    report = run(clickhouse, sales_funnel, *MARCH)
    stages = report["stages"]
    assert [s["reached"] for s in stages] == [2, 1, 1, 0, 0]
    assert [s["current"] for s in stages] == [1, 0, 1, 0, 0]
    assert [s["amount"] for s in stages] == ["11.00", "10.25", "10.25", "0.00", "0.00"]
    assert [s["avg_duration_seconds"] for s in stages] == [0.0, 7200.0, None, None, None]


def test_duplicate_stays_and_touches_count_once(clickhouse):
    load(clickhouse, history())
    expected = answers(clickhouse)
    paid = by(expected[("leads", ())]["rows"], "source")["yandex"]
    # l1 (d1), l3 (received in February: not a lead here), l5 (d6 won and paid, d7).
    assert (paid["leads"], paid["deals"], paid["won"], paid["paid"]) == (2, 3, 1, 1)
    awaiting_merge(clickhouse, ("deals", "touchpoints", "deal_stage_intervals"), True)
    clickhouse.command(  # and d1's stays once more (a mean over all twice is equal)
        "INSERT INTO {db}.deal_stage_intervals "
        "SELECT * FROM {db}.deal_stage_intervals FINAL WHERE deal_id = 'd1'"
    )
    assert answers(clickhouse) == expected


FIGURES = ("reached", "current", "amount", "avg_duration_seconds")
COUNTS = ("leads", "deals", "won", "paid")
PREVIOUS = {
    "previous_period": (("2026-01-29", "2026-03-01"), 3, [3, 3, 2]),  # d3 opened 5 February
    "previous_year": (("2025-03-01", "2025-04-01"), 2, [2, 2, 2]),
}


@pytest.mark.parametrize("compare", PREVIOUS)
def test_a_comparison_keeps_its_periods_apart(clickhouse, compare):
    earlier = {"previous_period": at(2, 20), "previous_year": at(3, 20, year=2025)}[compare]
    events = history()
    for n in range(2):  # e0, e1: opened in the previous period, straight to proposal
        story = DealStory(f"e{n}", earlier, "50", lead_id=f"le{n}")
        story.move("proposal", earlier.replace(hour=12 + n))
        events += [lead(f"le{n}", earlier, utm_source="yandex", utm_medium="cpc"), *story.events]
    load(clickhouse, events)
    period, deals, reached = PREVIOUS[compare]

    sales = run(clickhouse, sales_funnel, *MARCH, compare=compare)
    now, before = run(clickhouse, sales_funnel, *MARCH), run(clickhouse, sales_funnel, *period)
    assert (sales["deals"], sales["previous"]["deals"]) == (now["deals"], deals) == (6, deals)
    assert [s["previous"]["reached"] for s in sales["stages"][:3]] == reached
    for both, current, earlier_stage in zip(
        sales["stages"], now["stages"], before["stages"], strict=True
    ):
        assert {k: both[k] for k in FIGURES} == {k: current[k] for k in FIGURES}
        # (a mean the previous period has none of shows as 0 there: compare.py's way)
        previous = {k: earlier_stage[k] or 0.0 for k in FIGURES}
        assert {k: both["previous"].get(k, 0.0) for k in FIGURES} == previous

    leads = by(run(clickhouse, lead_funnel, *MARCH, compare=compare)["rows"], "channel")
    now_rows = by(run(clickhouse, lead_funnel, *MARCH)["rows"], "channel")
    before_rows = by(run(clickhouse, lead_funnel, *period)["rows"], "channel")
    assert (leads["paid"]["leads"], leads["paid"]["previous"]["leads"]) == (3, deals)
    for channel, row in leads.items():
        assert {k: row[k] for k in COUNTS} == {k: now_rows[channel][k] for k in COUNTS}
        earlier_row = before_rows.get(channel, dict.fromkeys(COUNTS, 0))
        assert {k: row["previous"][k] for k in COUNTS} == {k: earlier_row[k] for k in COUNTS}


def separately(ch, compute, q):
    """`compute`'s comparison as it was made before one statement read both periods: each
    period's report alone, then merged."""
    earlier = q.previous()
    return report_json(
        {
            **_merge(compute(ch, replace(q, compare=None)), compute(ch, earlier)),
            "comparison": {"compare": q.compare, **earlier.period.query()},
        }
    )


@pytest.mark.parametrize(
    "compute", [sales_funnel, lead_funnel, partial(lead_funnel, group_by="source")]
)
def test_overlapping_periods_count_a_deal_in_each(clickhouse, compute):
    """Fifteen months compared with the fifteen before them (`previous_year`): the three months
    both periods cover count in both, as each period computed alone counts them."""
    events = history()
    for n, month in enumerate((1, 4, 11)):  # 2025: before, inside and after the overlap
        when = at(month, 10, year=2025)
        story = DealStory(f"o{n}", when, "70", lead_id=f"lo{n}").move("proposal", when)
        events += [lead(f"lo{n}", when, utm_source="google", utm_medium="cpc"), *story.events]
    load(clickhouse, events)
    period = ("2025-03-01", "2026-06-01", "Europe/Moscow")
    q = ReportQuery(Period.parse(*period), compare="previous_year")
    both = run(clickhouse, compute, *period, compare="previous_year")
    assert both == separately(clickhouse, compute, q)
    totals = both if compute is sales_funnel else both["totals"]
    assert (totals["deals"], totals["previous"]["deals"]) == (9, 2)  # o1 in both
