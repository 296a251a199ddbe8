"""Every count of every report links to its rows, and the drill-down's `total` is the count.
Each report runs over a small hand-made history; each link is followed through the HTTP API."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.attribution import attribution
from analytics.application.reports.cohorts import amount_distribution, cohorts, parse_edges
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.leads import lead_funnel
from analytics.application.reports.money import abc, active_clients, dynamics, repeat_sales
from analytics.application.reports.sales import managers, weighted_pipeline
from services.analytics.tests.apps import offline_client
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import Compute, load, run
from services.analytics.tests.test_attribution import history as attribution_history
from services.analytics.tests.test_funnels_compare_drill import lead_history
from services.analytics.tests.test_money_reports import history as money_history

KEY = {"X-API-Key": "drill-key"}


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def api_for(clickhouse: ClickHouse, tmp_path: Path) -> TestClient:
    return offline_client(clickhouse, tmp_path, api_key=KEY["X-API-Key"])


def lost_stories():
    """Lost deals of February: at `new` for price, at `qualified` with no reason and with the
    reason literally 'unspecified' (the funnel counts both as unspecified)."""
    g1 = DealStory("g1", at(2, 4), "10", client="G", manager="m3")
    g1.move("qualified", at(2, 5)).move("lost", at(2, 6), "lost")
    blank = g1.events[-1].model_copy(update={"lost_reason": ""})
    g2 = DealStory("g2", at(2, 4, 12), "20", client="G", manager="m3")
    g2.move("qualified", at(2, 5)).move("lost", at(2, 7), "lost", "unspecified")
    g3 = DealStory("g3", at(2, 8), "30", client="H", manager="m3")
    g3.move("lost", at(2, 9), "lost", "price")
    return [*g1.events[:-1], blank, *g2.events, *g3.events]


@pytest.fixture
def money(clickhouse: ClickHouse, tmp_path: Path) -> tuple[ClickHouse, TestClient]:
    load(clickhouse, money_history() + lost_stories())
    return clickhouse, api_for(clickhouse, tmp_path)


@pytest.fixture
def marketing(clickhouse: ClickHouse, tmp_path: Path) -> tuple[ClickHouse, TestClient]:
    load(clickhouse, attribution_history() + lead_history() + campaigns())
    return clickhouse, api_for(clickhouse, tmp_path)


def campaigns():
    """Two March leads with a campaign, so that a group by campaign has named and empty keys."""
    deal = DealStory("k1", at(3, 16, 11), "300", client="K", lead_id="k1")
    deal.win(at(3, 17)).pay("300", at(3, 18))
    return [
        lead("k1", at(3, 16), utm_source="yandex", utm_medium="cpc", utm_campaign="spring"),
        lead("k2", at(3, 16, 12), utm_source="vk", utm_medium="social", utm_campaign="spring"),
        *deal.events,
    ]


def follow(api: TestClient, link: str) -> int:
    response = api.get(link, headers=KEY)
    assert response.status_code == 200, (link, response.text)
    return response.json()["total"]


def assert_links(api: TestClient, pairs: list[tuple[str, object, str]]) -> None:
    """`pairs`: (name, number, link). Every link's total is its number, and some are not 0."""
    assert pairs and any(number for _, number, _ in pairs)
    assert all(link and link.startswith("/v1/drill/") for _, _, link in pairs), pairs
    expected = {name: number for name, number, _ in pairs}
    assert {name: follow(api, link) for name, _, link in pairs} == expected


def feb(ch: ClickHouse, compute: Compute, **query: Any) -> Any:
    return run(ch, compute, "2026-02-01", "2026-03-01", **query)


def march(ch: ClickHouse, compute: Compute, **query: Any) -> Any:
    return run(ch, compute, "2026-03-01", "2026-04-01", **query)


def test_sales_funnel_counts_open_their_deals(money):
    ch, api = money
    report = feb(ch, sales_funnel)
    lost = report["lost"]
    pairs = [("deals", report["deals"], report["drill"]), ("lost", lost["deals"], lost["drill"])]
    for s in report["stages"]:
        pairs += [
            (f"reached {s['stage']}", s["reached"], s["drill"]),
            (f"current {s['stage']}", s["current"], s["drill_current"]),
        ]
    pairs += [
        (f"lost at {r['stage']}", r["deals"], lost["drill_by_stage"][r["stage"]])
        for r in lost["by_stage"]
    ]
    pairs += [
        (f"lost for {r['reason']}", r["deals"], lost["drill_by_reason"][r["reason"]])
        for r in lost["by_reason"]
    ]
    # Blank and literal 'unspecified' reasons are one group of two.
    assert {r["reason"]: r["deals"] for r in lost["by_reason"]} == {"price": 2, "unspecified": 2}
    assert_links(api, pairs)


def test_sales_funnel_with_a_manager_filter_links_the_filtered_deals(money):
    ch, api = money
    report = feb(ch, sales_funnel, manager="m3")
    pairs = [(s["stage"], s["reached"], s["drill"]) for s in report["stages"]]
    assert_links(api, [*pairs, ("lost", report["lost"]["deals"], report["lost"]["drill"])])


def test_lead_funnel_counts_open_their_leads_and_deals(marketing):
    ch, api = marketing
    for group_by in ("channel", "campaign"):
        report = march(ch, lambda c, q, g=group_by: lead_funnel(c, q, g))
        pairs = []
        for r in report["rows"]:
            key = f"{group_by}={r[group_by]}"
            pairs += [
                (f"{key} leads", r["leads"], r["drill"]),
                (f"{key} deals", r["deals"], r["drill_deals"]),
                (f"{key} won", r["won"], r["drill_won"]),
                (f"{key} paid", r["paid"], r["drill_paid"]),
            ]
            pairs += [(f"{key} {s['stage']}", s["reached"], s["drill"]) for s in r["stages"]]
        totals = report["totals"]
        pairs += [(f"total {n}", totals[n], report["drill_totals"][n]) for n in totals]
        assert_links(api, pairs)


def test_lead_funnel_by_campaign_has_an_empty_campaign_whose_link_still_matches(marketing):
    ch, api = marketing
    report = march(ch, lambda c, q: lead_funnel(c, q, "campaign"))
    rows = {r["campaign"]: r for r in report["rows"]}
    assert rows["spring"]["leads"] == 3 and rows["(none)"]["leads"] > 3  # l5, k1, k2
    assert follow(api, rows["(none)"]["drill"]) == rows["(none)"]["leads"]


def test_lead_funnel_with_a_channel_filter_selects_by_the_leads_touch(marketing):
    ch, api = marketing
    report = march(ch, lead_funnel, channel="paid")
    [row] = report["rows"]
    assert_links(
        api,
        [
            ("leads", row["leads"], row["drill"]),
            ("deals", row["deals"], row["drill_deals"]),
            ("won", row["won"], row["drill_won"]),
        ],
    )


@pytest.mark.parametrize("model", ["first_touch", "last_touch", "last_non_direct"])
def test_attribution_counts_open_their_leads_and_credited_deals(marketing, model):
    ch, api = marketing
    for group_by in ("channel", "campaign"):
        report = march(ch, lambda c, q, g=group_by: attribution(c, q, model, g))
        pairs = []
        for r in [*report["rows"], report["totals"] | {group_by: "total"}]:
            key = f"{group_by}={r[group_by]}"
            pairs += [
                (f"{key} leads", r["leads"], r["drill"]),
                (f"{key} deals", r["deals"], r["drill_opened"]),
                # A single-touch model credits a whole deal: `won` is a count.
                (f"{key} won", int(r["won"]), r["drill_deals"]),
            ]
        assert_links(api, pairs)


def test_attribution_with_a_channel_filter_links_the_selected_touches_only(marketing):
    ch, api = marketing
    report = march(ch, lambda c, q: attribution(c, q, "first_touch"), channel="paid")
    [row] = report["rows"]
    assert_links(
        api,
        [
            ("leads", row["leads"], row["drill"]),
            ("deals", row["deals"], row["drill_opened"]),
            ("won", int(row["won"]), row["drill_deals"]),
            ("total won", int(report["totals"]["won"]), report["totals"]["drill_deals"]),
        ],
    )


def test_attribution_under_a_fractional_model_lists_every_deal_the_group_has_a_share_of(
    marketing,
):
    ch, api = marketing
    report = march(ch, lambda c, q: attribution(c, q, "linear"))
    rows = {r["channel"]: r for r in report["rows"]}
    # linear: paid has a half of d2, a fifth of d8 and the whole of dp1 and k1 (one touch each);
    # the four deals are listed, and paid in March, all four are behind its revenue too.
    assert rows["paid"]["won"] == 2.7
    assert follow(api, rows["paid"]["drill_deals"]) == 4
    assert follow(api, rows["paid"]["drill_revenue"]) == 4
    time_decay = march(ch, lambda c, q: attribution(c, q, "time_decay"))
    assert "half_life_days=7.0" in time_decay["totals"]["drill_deals"]
    assert follow(api, time_decay["totals"]["drill_deals"]) == 5  # d2, d3, d8, dp1 and k1


def test_dynamics_counts_open_their_deals(money):
    ch, api = money
    for bucket in ("day", "week", "month"):
        report = feb(ch, lambda c, q, b=bucket: dynamics(c, q, b))
        pairs = [(r["bucket"], r["won"], r["drill"]) for r in report["rows"]]
        assert_links(api, [*pairs, ("total", report["totals"]["won"], report["totals"]["drill"])])
    # Revenue links list the deals with a payment in the bucket: a2 (twice), b1, d1.
    totals = report["totals"]
    assert follow(api, totals["drill_revenue"]) == 3
    assert follow(api, report["drill_rows"]["2026-02-01"]["revenue"]) == 3


def test_dynamics_in_moscow_links_the_local_buckets(money):
    ch, api = money
    report = run(
        ch, lambda c, q: dynamics(c, q, "day"), "2026-02-28", "2026-03-02", "Europe/Moscow"
    )
    pairs = [(r["bucket"], r["won"], r["drill"]) for r in report["rows"]]
    assert [n for _, n, _ in pairs] == [0, 1]  # d1 won at 02:30 on 1 March in Moscow
    assert_links(api, pairs)


def test_amount_distribution_buckets_open_their_deals(money):
    ch, api = money
    # Edges between cents: a deal of 100.00 is in [99.995, 500.5), one of 500.00 too.
    for edges in ("0,500,1000", "0,99.995,500.5,1000", "150,1000"):
        report = feb(ch, lambda c, q, e=edges: amount_distribution(c, q, parse_edges(e)))
        pairs = []
        for row in report["rows"]:
            links = report["drill_rows"][row["month"]]
            pairs += [
                (f"{row['month']} {b['bucket']}", b["deals"], links[b["bucket"]])
                for b in row["buckets"]
            ]
        pairs += [(f"total {b['bucket']}", b["deals"], b["drill"]) for b in report["totals"]]
        assert_links(api, pairs)


def test_repeat_sales_counts_open_their_deals_and_clients(money):
    ch, api = money
    totals = feb(ch, repeat_sales)["totals"]
    assert_links(
        api,
        [
            ("won deals", totals["won_deals"], totals["drill"]),
            ("repeat deals", totals["repeat_deals"], totals["drill_repeat_deals"]),
            ("clients", totals["clients_with_won_deal"], totals["drill_clients"]),
            ("repeat clients", totals["repeat_clients"], totals["drill_repeat_clients"]),
        ],
    )


def test_repeat_sales_ignores_won_deals_without_a_client_and_so_does_its_link(money):
    ch, api = money
    orphan = DealStory("o1", at(2, 2), "5", client=None).win(at(2, 3))
    load(ch, orphan.events)
    totals = feb(ch, repeat_sales)["totals"]
    assert totals["won_deals"] == 3
    assert follow(api, totals["drill"]) == 3


def test_active_clients_counts_open_their_clients(money):
    ch, api = money
    totals = feb(ch, active_clients)["totals"]
    assert_links(
        api,
        [
            ("active", totals["active_clients"], totals["drill"]),
            ("before", totals["active_clients_previous_period"], totals["drill_previous"]),
            ("win back", totals["win_back"], totals["drill_win_back"]),
        ],
    )
    rows = api.get(totals["drill_win_back"], headers=KEY).json()["rows"]
    assert [r["client_id"] for r in rows] == ["C"]


def test_managers_counts_open_their_deals(money):
    ch, api = money
    report = feb(ch, lambda c, q: managers(c, q, now=at(2, 15)))
    pairs = []
    for r in report["rows"]:
        m = r["manager_id"]
        pairs += [
            (f"{m} opened", r["deals_opened"], r["drill"]),
            (f"{m} opened won", r["deals_opened_won"], r["drill_opened_won"]),
            (f"{m} won", r["deals_won"], r["drill_won"]),
        ]
    assert_links(api, pairs)
    m2 = next(r for r in report["rows"] if r["manager_id"] == "m2")
    assert follow(api, m2["drill_revenue"]) == 2  # b1 and d1 were paid in February


def test_weighted_pipeline_counts_open_their_deals(money):
    ch, api = money
    report = feb(ch, weighted_pipeline)
    pairs = [(r["key"], r["deals"], r["drill"]) for r in report["rows"]]
    totals = report["totals"]
    assert_links(api, [*pairs, ("total", totals["deals"], report["drill_totals"]["deals"])])


def test_abc_classes_open_their_clients(money):
    ch, api = money
    report = feb(ch, abc)
    pairs = [(c["key"], c["clients"], c["drill"]) for c in report["classes"]]
    assert_links(api, [*pairs, ("total", report["totals"]["clients"], report["totals"]["drill"])])
    b = api.get(report["classes"][1]["drill"], headers=KEY).json()["rows"]
    assert [(r["client_id"], r["revenue"]) for r in b] == [("A", "500.00")]


def test_cohorts_and_their_retention_cells_open_their_clients(money):
    ch, api = money
    later = DealStory("a3", at(3, 2), "50", client="A").win(at(3, 3)).pay("50", at(3, 4))
    load(ch, later.events)
    report = run(ch, cohorts, "2026-01-01", "2026-04-01")
    pairs = []
    for row in report["rows"]:
        pairs.append((row["cohort"], row["clients"], row["drill"]))
        pairs += [
            (
                f"{row['cohort']} +{cell['month']}",
                cell["clients"],
                row["drill_retention"][str(cell["month"])],
            )
            for cell in row["retention"]
        ]
    # January (A, C): A pays again in February and March.
    january = report["rows"][0]["retention"]
    assert [c["clients"] for c in january] == [1, 1]
    assert_links(api, pairs)


def test_comparison_carries_the_previous_periods_links(money):
    ch, api = money
    report = feb(ch, sales_funnel, compare="previous_period")
    pairs = [("deals", report["previous"]["deals"], report["previous"]["drill"])]
    pairs += [
        (s["stage"], s["previous"]["reached"], s["previous"]["drill"]) for s in report["stages"]
    ]
    assert_links(api, pairs)
    dynamics_report = feb(ch, lambda c, q: dynamics(c, q, "month"), compare="previous_period")
    totals = dynamics_report["totals"]
    assert totals["previous"]["won"] == 2
    assert follow(api, totals["previous"]["drill"]) == 2
    lead_report = march(ch, lead_funnel, compare="previous_period")
    assert "drill_totals" in lead_report["previous"]
