"""Attribution's paths as the projection keeps them per owner (`owner_paths`, which the
report reads) against the paths gathered per owner over every touch when the query runs
(`PATHS`, the reference, stored in a table of the test's own): the same credit under every
model, on a history with the edges of a path: a touch exactly at the lookback bound and one a
millisecond older, two leads with an identical touch, a touch after the opening, a deal with
one touch, a deal without a client. And the report's own figures, worked out by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.application.reports.attribution import attribution, credit_of_groups
from analytics.application.reports.attribution_query import PATHS, stored_paths
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import by, load, run

T = datetime(2026, 3, 10, 10, tzinfo=UTC)  # when the credited deal d6 opens
LOOKBACK = timedelta(days=90)
MINUTE = timedelta(minutes=5)


def history():
    events = [
        lead("l1", T - LOOKBACK, utm_source="google", utm_medium="cpc"),  # on the bound: in
        lead("l2", T - LOOKBACK - timedelta(milliseconds=1), utm_source="vk", utm_medium="cpc"),
        lead("l3", T - timedelta(days=10)),  # l3 and l4: one direct touch, the same instant
        lead("l4", T - timedelta(days=10)),
        lead("l6", T - timedelta(hours=1), utm_source="news", utm_medium="email"),
        lead("l7", T + timedelta(days=1), referrer="https://vk.com/feed"),  # after d6 opens
        lead("l8", T, utm_source="yandex", utm_medium="cpc"),  # c2's only touch
        lead("l9", T - timedelta(days=2), utm_source="news", utm_medium="email"),  # no client
    ]
    stories = [
        DealStory(f"d{i}", at + MINUTE, "100", client="c1", lead_id=f"l{i}")
        for i, at in ((1, T - LOOKBACK), (2, T - LOOKBACK), (3, T - timedelta(days=10)))
    ]
    stories.append(
        DealStory("d4", T - timedelta(days=10) + MINUTE, "100", client="c1", lead_id="l4")
    )
    d6 = DealStory("d6", T, "900", client="c1", lead_id="l6")
    d6.win(T + timedelta(days=2)).pay("900", T + timedelta(days=3))
    d7 = DealStory("d7", T + timedelta(days=1) + MINUTE, "100", client="c1", lead_id="l7")
    d7.pay("100", T + timedelta(days=4))  # paid, not won
    d8 = DealStory("d8", T + MINUTE, "500", client="c2", lead_id="l8")
    d8.win(T + timedelta(days=1)).pay("500", T + timedelta(days=1))
    d9 = DealStory("d9", T - timedelta(days=2) + MINUTE, "300", lead_id="l9")
    d9.win(T + timedelta(days=1))
    for story in (*stories, d6, d7, d8, d9):
        events += story.events
    return events


PATH_TABLE = """
CREATE TABLE {db}.reference_paths (
    owner String, touch_at Array(DateTime64(3, 'UTC')), channel Array(LowCardinality(String)),
    source Array(LowCardinality(String)), campaign Array(String)
) ENGINE = ReplacingMergeTree ORDER BY owner
"""
EVERY_DEAL = (
    "WITH credited AS (SELECT deal_id, opened_at, 0 AS won, toDecimal128(0, 2) AS revenue, "
    "if(client_id != '', client_id, concat('lead:', lead_id)) AS owner "
    "FROM {db}.deals FINAL) "
)


@pytest.fixture
def march(clickhouse):
    load(clickhouse, history())
    return clickhouse


def test_kept_paths_match_every_owners_paths(march):
    march.command(PATH_TABLE)
    march.command(
        "INSERT INTO {db}.reference_paths " + EVERY_DEAL + ", " + PATHS.text + " SELECT owner, "
        "arrayMap(x -> x.1, touches), arrayMap(x -> x.2, touches), arrayMap(x -> x.3, touches), "
        "arrayMap(x -> x.4, touches) FROM owner_touches"
    )
    q = ReportQuery(Period.parse("2026-03-01", "2026-04-01", "UTC"))
    stored = stored_paths("reference_paths", "owner")
    cases = [
        (model, lookback, group, 7.0)
        for model in ("first_touch", "last_touch", "last_non_direct", "linear", "position_based")
        for lookback in (90, 89, 10, 1)
        for group in ("channel", "source")
    ] + [("time_decay", 90, "channel", half_life) for half_life in (7.0, 0.5)]
    for model, lookback, group, half_life in cases:
        got = credit_of_groups(march, q, model, group, lookback, half_life)
        expected = credit_of_groups(march, q, model, group, lookback, half_life, stored)
        assert got, (model, lookback)
        assert sorted(got, key=_group) == sorted(expected, key=_group), (model, lookback, group)


def _group(row):
    return row["grp"]


def test_linear_credit_by_hand(march):
    report = run(march, lambda ch, q: attribution(ch, q, "linear"), "2026-03-01", "2026-04-01")
    rows = by(report["rows"], "channel")
    # d6 (won, 900 paid): google cpc on the bound, one direct touch for l3 and l4, its own
    # email → 1/3 each. d7 (100 paid, opened a day later): direct, email, its own social → 1/3
    # each; the cpc is out of its window. d8 (won, 500): its one touch. d9 (won, no client,
    # nothing paid): its own email.
    assert rows["paid"]["won"] == round(1 / 3 + 1, 4)
    assert rows["paid"]["revenue"] == "800.00"  # 300 + 500
    assert rows["direct"]["won"] == round(1 / 3, 4)
    assert rows["direct"]["revenue"] == "333.33"  # 300 + 33.33…
    assert rows["email"]["won"] == round(1 / 3 + 1, 4)
    assert rows["email"]["revenue"] == "333.33"
    assert rows["social"]["won"] == 0
    assert rows["social"]["revenue"] == "33.33"
    assert report["totals"]["won"] == 3
    assert report["totals"]["revenue"] == "1500.00"
