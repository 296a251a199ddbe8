"""Attribution on the real engine. Three won deals with paths of two, one and five touches;
every number below was worked out by hand (time-decay weights with a calculator)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from analytics.domain.attribution import PathTouch, weights
from analytics.reports.attribution import attribution
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import by, load, run


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def history():
    events = [
        # Client c1: a paid click in February, then a social visit that became the won deal.
        lead("l1", at(2, 20), utm_source="google", utm_medium="cpc", utm_campaign="brand"),
        lead("l2", at(3, 5), referrer="https://vk.com/feed"),
        # Client c2: one direct visit.
        lead("l3", at(3, 2, 9)),
        # Client c3: five visits; only the deal of the last one is won.
        lead("l4", at(3, 10), utm_source="newsletter", utm_medium="email", utm_campaign="march"),
        lead(
            "l5",
            at(3, 11),
            utm_source="yandex",
            utm_medium="cpc",
            utm_campaign="spring",
            yclid="42",
        ),
        lead("l6", at(3, 12)),
        lead("l7", at(3, 13), referrer="https://www.google.com/search?q=crm"),
        lead("l8", at(3, 14)),
    ]
    d1 = DealStory("d1", at(2, 20, 10, 5), "1000", client="c1", lead_id="l1")
    d2 = DealStory("d2", at(3, 5, 10, 5), "1000", client="c1", lead_id="l2")
    d2.move("proposal", at(3, 6)).win(at(3, 10)).pay("1000", at(3, 12))
    d3 = DealStory("d3", at(3, 2, 9, 5), "900", client="c2", lead_id="l3")
    d3.win(at(3, 3)).pay("600", at(3, 4)).pay("300", at(4, 2))  # April: outside the period
    others = [
        DealStory(f"d{i}", at(3, 6 + i, 10, 5), "500", client="c3", lead_id=f"l{i}")
        for i in (4, 5, 6, 7)
    ]
    d8 = DealStory("d8", at(3, 14, 10, 5), "2000", client="c3", lead_id="l8")
    d8.win(at(3, 20)).pay("2000", at(3, 21))
    for story in (d1, d2, d3, *others, d8):
        events += story.events
    return events


def spend(ch):
    rows = [
        [
            date(2026, 3, 1),
            "yandex",
            "cpc",
            "spring",
            Decimal("3000"),
            "RUB",
            Decimal("3000"),
            100,
            1000,
        ],
        [
            date(2026, 3, 15),
            "google",
            "cpc",
            "brand",
            Decimal("1500"),
            "RUB",
            Decimal("1500"),
            50,
            500,
        ],
        [date(2026, 4, 1), "google", "cpc", "brand", Decimal("999"), "RUB", Decimal("999"), 1, 1],
    ]
    ch.insert(
        "ad_spend",
        rows,
        [
            "date",
            "source",
            "medium",
            "campaign",
            "cost",
            "currency",
            "cost_base",
            "clicks",
            "impressions",
        ],
    )


@pytest.fixture
def march(clickhouse):
    load(clickhouse, history())
    spend(clickhouse)

    def report(channel=None, **kwargs):
        return run(
            clickhouse,
            lambda ch, q: attribution(ch, q, **kwargs),
            "2026-03-01",
            "2026-04-01",
            channel=channel,
        )

    return report


def credit(report):
    return {
        k: (r["won"], r["revenue"])
        for k, r in by(report["rows"], "channel").items()
        if r["won"] or r["revenue"] != "0.00"
    }


def test_first_touch(march):
    report = march(model="first_touch")
    assert credit(report) == {
        "paid": (1.0, "1000.00"),
        "direct": (1.0, "600.00"),
        "email": (1.0, "2000.00"),
    }
    paid = by(report["rows"], "channel")["paid"]
    # Spend in March: 3000 (yandex) + 1500 (google); one paid lead (l5) in March.
    assert (paid["spend"], paid["leads"], paid["deals"]) == ("4500.00", 1, 1)
    assert (paid["cpl"], paid["cpo"], paid["average_check"]) == ("4500.00", "4500.00", "1000.00")
    assert (paid["romi_pct"], paid["drr_pct"]) == (-77.78, 450.0)
    assert report["totals"]["won"] == 3.0 and report["totals"]["revenue"] == "3600.00"


def test_last_touch(march):
    report = march(model="last_touch")
    assert credit(report) == {"direct": (2.0, "2600.00"), "social": (1.0, "1000.00")}
    paid = by(report["rows"], "channel")["paid"]
    assert (paid["won"], paid["cpo"], paid["romi_pct"], paid["drr_pct"]) == (
        0.0,
        None,
        -100.0,
        None,
    )


def test_last_non_direct(march):
    assert credit(march(model="last_non_direct")) == {
        "social": (1.0, "1000.00"),
        "direct": (1.0, "600.00"),
        "organic": (1.0, "2000.00"),
    }


def test_linear(march):
    assert credit(march(model="linear")) == {
        "paid": (0.7, "900.00"),
        "social": (0.5, "500.00"),
        "direct": (1.4, "1400.00"),
        "email": (0.2, "400.00"),
        "organic": (0.2, "400.00"),
    }


def test_position_based(march):
    # d8 has five touches: 40 % first (email), 40 % last (direct), 20 % / 3 to each middle one.
    assert credit(march(model="position_based")) == {
        "paid": (0.5667, "633.33"),
        "social": (0.5, "500.00"),
        "direct": (1.4667, "1533.33"),
        "email": (0.4, "800.00"),
        "organic": (0.0667, "133.33"),
    }


def test_time_decay(march):
    assert credit(march(model="time_decay")) == {
        "paid": (0.3957, "575.08"),
        "social": (0.7837, "783.69"),
        "direct": (1.4395, "1478.96"),
        "email": (0.1625, "324.94"),
        "organic": (0.2187, "437.34"),
    }


def test_lookback_window_drops_old_touches(march):
    # With 10 days, d2's path loses the February click: first touch is the social visit.
    assert credit(march(model="first_touch", lookback_days=10)) == {
        "social": (1.0, "1000.00"),
        "direct": (1.0, "600.00"),
        "email": (1.0, "2000.00"),
    }


def test_group_by_campaign(march):
    report = march(model="first_touch", group_by="campaign")
    rows = by(report["rows"], "campaign")
    assert (rows["brand"]["won"], rows["brand"]["revenue"], rows["brand"]["spend"]) == (
        1.0,
        "1000.00",
        "1500.00",
    )
    assert (rows["(none)"]["won"], rows["(none)"]["revenue"]) == (1.0, "600.00")
    assert (rows["march"]["won"], rows["march"]["revenue"]) == (1.0, "2000.00")
    assert (rows["spring"]["won"], rows["spring"]["spend"], rows["spring"]["leads"]) == (
        0.0,
        "3000.00",
        1,
    )


def test_channel_filter_selects_touches(march):
    report = march(model="linear", channel="paid")
    assert [r["channel"] for r in report["rows"]] == ["paid"]
    assert report["totals"]["revenue"] == "900.00"


def touch(day):
    return PathTouch(datetime(2026, 1, day, tzinfo=UTC), "paid", "s", "c")


@pytest.mark.parametrize(
    "model, n, expected",
    [
        ("position_based", 1, ["1"]),
        ("position_based", 2, ["1/2", "1/2"]),
        ("position_based", 4, ["2/5", "1/10", "1/10", "2/5"]),
        ("linear", 3, ["1/3", "1/3", "1/3"]),
        ("first_touch", 3, ["1", "0", "0"]),
        ("last_touch", 3, ["0", "0", "1"]),
    ],
)
def test_model_weights(model, n, expected):
    from fractions import Fraction

    path = [touch(d) for d in range(1, n + 1)]
    got = weights(model, path, datetime(2026, 1, 10, tzinfo=UTC))
    assert got == [Fraction(e) for e in expected]


def test_time_decay_halves_per_half_life():
    path = [touch(1), touch(8)]  # 7 days apart; the deal opens on the 8th
    w = weights("time_decay", path, datetime(2026, 1, 8, tzinfo=UTC), half_life_days=7)
    assert [round(float(x), 6) for x in w] == [0.333333, 0.666667]
