"""Attribution read as one statement (credit, own-touch counts and spend together): what the
statement could get wrong that the hand-worked reports of test_attribution.py do not show.
Rows awaiting a merge in every table it reads, touches tied on their instant, credited deals
without a touch in their window, a lead that opened deals of two clients, and a comparison
whose two periods both have leads, credit and spend."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from analytics.application.reports.attribution import attribution
from analytics.domain.attribution import MODELS
from crm_contracts.events import Touch
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import awaiting_merge, by, load, merged, run

# Every table the statement reads.
TABLES = ("leads", "touchpoints", "deals", "payments", "ad_spend", "currency_rates")
MARCH = ("2026-03-01", "2026-04-01")
BEFORE = ("2026-01-29", "2026-03-01")  # March's previous period (31 days)
FIGURES = ("leads", "deals", "won", "revenue", "spend")


AD_SPEND_COLUMNS = (
    "date source medium campaign cost currency cost_base clicks impressions updated_at"
)


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def history():
    events = [
        lead("l1", at(2, 20), utm_source="google", utm_medium="cpc", utm_campaign="brand"),
        # l2 and l3: client A's touches at one instant, a direct visit and a social one
        lead("l2", at(3, 5)),
        lead("l3", at(3, 5), referrer="https://vk.com/feed"),
        # l4 opened deals of two clients (B won, C paid)
        lead("l4", at(3, 6), utm_source="newsletter", utm_medium="email", utm_campaign="m"),
        lead("l6", at(2, 1), utm_source="yandex", utm_medium="cpc"),  # client D, February
        lead(
            "l9",
            at(3, 2),
            utm_source="newsletter",
            utm_medium="email",
            first=Touch(at=at(2, 25), utm_source="google", utm_medium="cpc"),
        ),
        lead("l8", datetime(2025, 11, 1, tzinfo=UTC)),  # beyond the lookback of its deal
    ]
    a1 = DealStory("a1", at(2, 20, 10, 5), "100", client="A", lead_id="l1")
    a2 = DealStory("a2", at(3, 5, 10, 6), "100", client="A", lead_id="l2")
    a3 = DealStory("a3", at(3, 5, 10, 5), "1000", client="A", lead_id="l3")
    a3.win(at(3, 8)).pay("1000", at(3, 9))
    b4 = DealStory("b4", at(3, 6, 10, 5), "500", client="B", lead_id="l4", manager="m2")
    b4.win(at(3, 7)).pay("500", at(3, 8))
    c5 = DealStory("c5", at(3, 6, 10, 10), "250", client="C", lead_id="l4")
    c5.pay("250", at(3, 20))
    d6 = DealStory("d6", at(2, 1, 10, 5), "700", client="D", lead_id="l6")
    d6.win(at(2, 10)).pay("700", at(2, 11))
    d9 = DealStory("d9", at(3, 2, 10, 5), "400", client="D", lead_id="l9")
    d9.win(at(3, 15)).pay("400", at(3, 16))
    # Won and paid in March without a touch in their window: credited to no group.
    none = DealStory("n1", at(3, 3), "300", lead_id="").win(at(3, 12)).pay("300", at(3, 13))
    old = DealStory("o8", at(3, 4), "200", lead_id="l8").win(at(3, 12)).pay("200", at(3, 14))
    for story in (a1, a2, a3, b4, c5, d6, d9, none, old):
        events += story.events
    return events


def spend(ch):
    rows = [
        [date(2026, 2, 10), "yandex", "cpc", "", "600", 1],
        [date(2026, 3, 10), "yandex", "cpc", "", "900", 1],
        [date(2026, 3, 11), "google", "cpc", "brand", "1500", 1],
        [date(2026, 3, 12), "newsletter", "email", "m", "50", 1],
    ]
    ch.insert(
        "ad_spend",
        [
            [d, s, m, c, Decimal(v), "RUB", Decimal(v), 1, 1, at(1, day)]
            for d, s, m, c, v, day in rows
        ],
        AD_SPEND_COLUMNS.split(),
    )


@pytest.fixture
def march(clickhouse):
    load(clickhouse, history())
    spend(clickhouse)
    return clickhouse


def report(ch, model, group_by="channel", period=MARCH, **query):
    compute = lambda c, q: attribution(c, q, model, group_by)  # noqa: E731
    return run(ch, compute, *period, **query)


def answers(ch):
    """Every model, each group with and without a filter of the deals and of the touches."""
    cases = (("channel", {}), ("source", {"manager": "m1"}), ("campaign", {"channel": "email"}))
    return [
        report(ch, model, group_by, compare="previous_period", **query)
        for model in MODELS
        for group_by, query in cases
    ]


def test_rows_awaiting_a_merge_in_every_table_read_change_nothing(march):
    merged(march, TABLES)
    expected = answers(march)
    awaiting_merge(march, TABLES, redelivered=True)
    # Each deal's state before its latest change, naming another client and lead (l1 would
    # join b4's path), and spend as an earlier import had it.
    march.command(
        "INSERT INTO {db}.deals SELECT * REPLACE (version - 1 AS version, 'open' AS status, "
        "'B' AS client_id, 'l1' AS lead_id, 'nobody' AS manager_id, NULL AS closed_at) "
        "FROM {db}.deals WHERE version > 1"
    )
    march.command(
        "INSERT INTO {db}.ad_spend SELECT * REPLACE (cost_base + 1000 AS cost_base, "
        "updated_at - toIntervalDay(1) AS updated_at) FROM {db}.ad_spend"
    )
    for table in TABLES[:-1]:  # no rates here: their table stays empty
        rows = march.rows(f"SELECT count() AS n FROM {{db}}.{table}")[0]["n"]
        assert rows > len(march.rows(f"SELECT * FROM {{db}}.{table} FINAL")), table
    assert answers(march) == expected


def test_touches_at_one_instant_are_ordered_by_channel_source_campaign(march):
    # a3's path: the cpc click (Feb 20), then direct and social at one instant: the last
    # touch is the social one (its channel sorts after `direct`), whichever lead came first.
    credit = {
        model: {
            k: r["won"] for k, r in by(report(march, model)["rows"], "channel").items() if r["won"]
        }
        for model in ("first_touch", "last_touch", "linear")
    }
    # b4: email; d9 (client D): l6's cpc (Feb 1), l9's first touch, a cpc (Feb 25), and
    # l9's own email (Mar 2).
    assert credit["first_touch"] == {"paid": 2.0, "email": 1.0}
    assert credit["last_touch"] == {"social": 1.0, "email": 2.0}
    third = round(1 / 3, 4)
    assert credit["linear"] == {
        "paid": 1.0,
        "direct": third,
        "social": third,
        "email": round(1 + 1 / 3, 4),
    }


def test_deals_without_a_touch_in_their_window_are_credited_to_no_group(march):
    for model in MODELS:
        answer = report(march, model)
        # Won in March: a3, b4, d9, n1 (no lead, no client), o8 (its lead's touch is older
        # than the lookback); paid: those and c5 (l4, a lead of client C too).
        assert answer["totals"]["won"] == 3.0, model
        assert answer["totals"]["revenue"] == "2150.00", model  # 1000 + 500 + 250 + 400
        assert answer["totals"]["leads"] == 4  # l2, l3, l4, l9
        assert answer["totals"]["deals"] == 5  # l2, l3, l4 (two deals, one lead), l9, l8
        assert "(unknown)" not in {r["channel"] for r in answer["rows"]}


def test_a_comparison_shows_each_period_as_its_own_report(march):
    for model in ("last_touch", "time_decay"):
        for group_by in ("channel", "campaign"):
            both = report(march, model, group_by, compare="previous_period")
            now = by(report(march, model, group_by)["rows"], group_by)
            before = by(report(march, model, group_by, BEFORE)["rows"], group_by)
            assert before and {k for k, r in before.items() if r["won"]}, (model, group_by)
            for row in both["rows"]:
                key = row[group_by]
                assert {f: row[f] for f in FIGURES} == {f: now[key][f] for f in FIGURES}
                earlier = before.get(key, {})
                previous = {f: row["previous"][f] for f in FIGURES}
                zero = {"won": 0.0, "revenue": "0.00", "spend": "0.00", "leads": 0, "deals": 0}
                assert previous == {f: earlier.get(f, zero[f]) for f in FIGURES}, key
            assert both["totals"]["previous"]["spend"] == "600.00"
            assert both["totals"]["spend"] == "2450.00"
