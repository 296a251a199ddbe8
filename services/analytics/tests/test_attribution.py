"""Attribution on the real engine. Three won deals with paths of two, one and five touches;
every number below was worked out by hand (time-decay weights with a calculator)."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.application.reports.attribution import CENT, attribution
from analytics.application.reports.attribution_query import (
    credit_by_group,
    credited_deals,
    stored_paths,
    weighted,
)
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql
from analytics.domain.attribution import MODELS, PathTouch, as_decimal, weights
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


# ---------------------------------------------------------------- SQL models vs the oracle
# The query's weights and sums against the Python models (`weights`, exact fractions and
# 40-digit decimals) on random paths fed in as rows of the path shape (the swappable CTE).

CASES_TABLE = """
CREATE TABLE {db}.attribution_cases (
    deal_id String, opened_at DateTime64(3, 'UTC'), status String, revenue Decimal(38, 2),
    touch_at Array(DateTime64(3, 'UTC')), channel Array(LowCardinality(String)),
    source Array(LowCardinality(String)), campaign Array(String)
) ENGINE = ReplacingMergeTree ORDER BY deal_id
"""
CASE_DEALS = Sql(
    "SELECT deal_id, '' AS lead_id, '' AS client_id, opened_at, status, "
    "CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS closed_at FROM {db}.attribution_cases"
)
CASE_PAID = Sql("SELECT deal_id, revenue FROM {db}.attribution_cases")
CASE_PATHS = stored_paths("attribution_cases")
CHANNELS = ("direct", "paid", "social", "email", "organic", "")
REVENUES = ("0.01", "0.03", "0.05", "0.10", "1000.01", "333.33", "0.00")


def random_case(rng, i, half_life_days):
    """A deal with a random path: short or long, equal timestamps, gaps of whole half-lives
    (exact powers of two), touches beyond the lookback and after the opening, and revenues
    that split into exact half cents."""
    opened = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(100_000))
    n = rng.choice((1, 1, 2, 3, 4, 5, 6, 7, 8, 12))
    times = set()
    for _ in range(n):
        kind = rng.random()
        if kind < 0.3:
            times.add(opened - timedelta(days=half_life_days * rng.randrange(0, 5)))
        elif kind < 0.95:
            times.add(opened - timedelta(milliseconds=rng.randrange(120 * 86_400_000)))
        else:
            times.add(opened + timedelta(hours=1))
    touches = sorted(
        (t, rng.choice(CHANNELS), f"s{i % 40}:{rng.randrange(3)}", rng.choice(("", "a", "b")))
        for t in times
        for _ in range(rng.choice((1, 1, 1, 2)))
    )
    touches = sorted(set(touches))  # identical touches once, oldest first (ties by fields)
    revenue = (
        Decimal(rng.choice(REVENUES))
        if rng.random() < 0.8
        else Decimal(rng.randrange(100_000_00)) / 100
    )
    status = "won" if rng.random() < 0.7 else "open"
    return [
        f"d{i:04}",
        opened,
        status,
        revenue,
        [t[0] for t in touches],
        [t[1] for t in touches],
        [t[2] for t in touches],
        [t[3] for t in touches],
    ]


def oracle(cases, model, lookback_days, half_life_days, group, channel=None):
    """The old report's arithmetic: Python weights per deal, exact sums (won, revenue)."""
    credit: dict[str, list[Decimal]] = {}
    for _, opened, status, revenue, *arrays in cases:
        path = [
            PathTouch(*touch)
            for touch in zip(*arrays, strict=True)
            if opened - timedelta(days=lookback_days) <= touch[0] <= opened
        ]
        for t, w in zip(path, weights(model, path, opened, half_life_days), strict=True):
            if w and (channel is None or t.channel == channel):
                sums = credit.setdefault(getattr(t, group), [Decimal(0), Decimal(0)])
                if status == "won":
                    sums[0] += as_decimal(w)
                sums[1] += revenue * as_decimal(w)
    return credit


def rounded(credit):
    figures = {k: (round(float(w), 4), r.quantize(CENT)) for k, (w, r) in credit.items()}
    total_won = sum((w for w, _ in credit.values()), Decimal(0))
    total_revenue = sum((r for _, r in credit.values()), Decimal(0))
    return figures, (round(float(total_won), 4), total_revenue.quantize(CENT))


def case_ctes(model, lookback_days, half_life_days):
    return weighted(
        model,
        deals=CASE_DEALS,
        paid=CASE_PAID,
        closed_in=Sql("1"),
        lookback_days=lookback_days,
        half_life_days=half_life_days,
        paths=CASE_PATHS,
    )


@pytest.fixture(scope="module")
def random_cases():
    rng = random.Random(11)
    return {
        half_life: [random_case(rng, i, half_life) for i in range(600)]
        for half_life in (7.0, 0.5, 1.3)
    }


@pytest.mark.parametrize(
    "model, half_life",
    [(model, 7.0) for model in MODELS] + [("time_decay", 0.5), ("time_decay", 1.3)],
)
def test_query_matches_python_models_on_random_paths(clickhouse, random_cases, model, half_life):
    cases = random_cases[half_life]
    clickhouse.command(CASES_TABLE)
    clickhouse.insert(
        "attribution_cases",
        cases,
        ["deal_id", "opened_at", "status", "revenue", "touch_at", "channel", "source", "campaign"],
    )
    for lookback, group, channel in [
        (90, "source", None),  # sources are per few deals: small sums, exact half cents
        (30, "channel", None),
        (90, "campaign", "paid"),
    ]:
        ctes = case_ctes(model, lookback, half_life)
        selected = Sql.equals("channel", "t_channel", channel) if channel else Sql("1")
        rows = clickhouse.select(credit_by_group(ctes, model, group, selected))
        got = {r["grp"]: [r["won"], r["revenue"]] for r in rows}
        expected = oracle(cases, model, lookback, half_life, group, channel)
        assert rounded(got) == rounded(expected), (lookback, group, channel)

    # The drill's deals: those a touch of the group has a share of (won ones, paid ones).
    ctes = case_ctes(model, 90, half_life)
    rows = clickhouse.select(credited_deals(ctes, model, Sql("1"), "channel", ["paid", ""]))
    credited = {(r["deal_id"], bool(r["won"]), bool(r["paid"])) for r in rows}
    expected_deals = set()
    for deal_id, opened, status, revenue, *arrays in cases:
        path = [
            PathTouch(*t)
            for t in zip(*arrays, strict=True)
            if opened - timedelta(days=90) <= t[0] <= opened
        ]
        ws = weights(model, path, opened, half_life)
        if any(w and t.channel in ("paid", "") for t, w in zip(path, ws, strict=True)):
            expected_deals.add((deal_id, status == "won", bool(revenue)))
    assert credited == expected_deals

    # Each touch's weight, not only the sums; and every deal with a path in the window.
    per_touch = Sql(ctes.text + "SELECT deal_id, weight FROM weighted", ctes.params)
    got_weights = {r["deal_id"]: r["weight"] for r in clickhouse.select(per_touch)}
    expected_weights = {}
    for deal_id, opened, _, _, *arrays in cases:
        path = [
            PathTouch(*t)
            for t in zip(*arrays, strict=True)
            if opened - timedelta(days=90) <= t[0] <= opened
        ]
        if path:
            expected_weights[deal_id] = [
                as_decimal(w) for w in weights(model, path, opened, half_life)
            ]
    assert got_weights.keys() == expected_weights.keys()
    tolerance = Decimal("1e-15") if model == "time_decay" else Decimal("1e-34")
    for deal_id, expected in expected_weights.items():
        got = got_weights[deal_id]
        assert len(got) == len(expected)
        assert all(abs(a - b) <= tolerance for a, b in zip(got, expected, strict=True)), deal_id


# ---------------------------------------------------------------- stored paths
# The paths the projection keeps (what the report reads) give the same credit as the
# reference computed when the query runs (`PATHS`), stored per deal or per owner in tables
# filled here from that CTE, over every deal.

PATH_TABLE = """
CREATE TABLE {{db}}.{name} (
    {key} String, touch_at Array(DateTime64(3, 'UTC')), channel Array(LowCardinality(String)),
    source Array(LowCardinality(String)), campaign Array(String)
) ENGINE = ReplacingMergeTree ORDER BY {key}
"""
EVERY_DEAL = (
    "WITH credited AS (SELECT deal_id, opened_at, 0 AS won, toDecimal128(0, 2) AS revenue, "
    "if(client_id != '', client_id, concat('lead:', lead_id)) AS owner "
    "FROM {db}.deals FINAL), "
)


def test_stored_paths_give_the_same_credit(march, clickhouse):
    from analytics.application.reports.attribution import credit_of_groups
    from analytics.application.reports.attribution_query import PATHS

    clickhouse.command(PATH_TABLE.format(name="deal_paths", key="deal_id"))
    clickhouse.command(PATH_TABLE.format(name="reference_paths", key="owner"))
    fill = EVERY_DEAL + PATHS.text
    clickhouse.command(
        "INSERT INTO {db}.deal_paths " + fill + " SELECT deal_id, touch_at, channel, source, "
        "campaign FROM paths"
    )
    clickhouse.command(
        "INSERT INTO {db}.reference_paths " + fill + " SELECT owner, arrayMap(x -> x.1, touches), "
        "arrayMap(x -> x.2, touches), arrayMap(x -> x.3, touches), arrayMap(x -> x.4, touches) "
        "FROM owner_touches"
    )
    q = ReportQuery(Period.parse("2026-03-01", "2026-04-01", "UTC"))
    for model in MODELS:
        for lookback in (90, 10):
            expected = credit_of_groups(clickhouse, q, model, "channel", lookback, 7.0)
            assert expected
            for paths in (stored_paths("deal_paths"), stored_paths("reference_paths", "owner")):
                got = credit_of_groups(clickhouse, q, model, "channel", lookback, 7.0, paths)
                assert sorted(got, key=lambda r: r["grp"]) == sorted(
                    expected, key=lambda r: r["grp"]
                )
