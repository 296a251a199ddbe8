"""Lead funnel, period comparison across 29 February, filters and drill-down links."""

from datetime import UTC, datetime
from functools import partial
from urllib.parse import parse_qs, urlsplit

from analytics.application.reports import leads
from analytics.application.reports.drill import drill_deals, drill_leads
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.leads import lead_funnel
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql
from services.analytics.tests.history import DealStory, lead
from services.analytics.tests.reports_support import by, load, run


def at(year, month, day, hour=10):
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_previous_year_of_29_february_is_28_february():
    period = Period.parse("2028-02-29", "2028-03-01", "Europe/Moscow")
    previous = period.previous_year()
    assert previous.local(previous.start).isoformat() == "2027-02-28T00:00:00+03:00"
    assert previous.local(previous.end).isoformat() == "2027-03-01T00:00:00+03:00"
    # A period ending (exclusive) on the 29th keeps its length: 22–29 Feb is seven days.
    week = Period.parse("2028-02-22", "2028-02-29", "UTC").previous_year()
    assert (week.start.isoformat(), week.end.isoformat()) == (
        "2027-02-22T00:00:00+00:00",
        "2027-03-01T00:00:00+00:00",
    )
    whole = Period.parse("2028-02-01", "2028-03-01", "UTC").previous_year()
    assert (whole.start.isoformat(), whole.end.isoformat()) == (
        "2027-02-01T00:00:00+00:00",
        "2027-03-01T00:00:00+00:00",
    )


def test_funnel_compared_with_the_previous_year_across_29_february(clickhouse):
    events = []
    for name, opened in (
        ("x1", at(2028, 2, 29)),
        ("x2", at(2028, 2, 29, 15)),
        ("y1", at(2027, 2, 28)),
    ):
        story = DealStory(name, opened, "100")
        if name == "x1":
            story.move("proposal", at(2028, 2, 29, 12))
        events += story.events
    load(clickhouse, events)
    report = run(clickhouse, sales_funnel, "2028-02-29", "2028-03-01", compare="previous_year")
    new, _, proposal = report["stages"][:3]
    assert (
        new["reached"],
        new["previous"]["reached"],
        new["delta"]["reached"],
        new["delta_pct"]["reached"],
    ) == (2, 1, 1, 100.0)
    assert (
        proposal["reached"],
        proposal["previous"]["reached"],
        proposal["delta_pct"]["reached"],
    ) == (1, 0, None)
    assert report["comparison"]["from"] == "2027-02-28T00:00:00+00:00"


def lead_history():
    events = [
        lead("p1", at(2026, 3, 2), utm_source="yandex", utm_medium="cpc"),
        lead("p2", at(2026, 3, 3), utm_source="yandex", utm_medium="cpc"),
        lead("o1", at(2026, 3, 4)),
        lead("old", at(2026, 2, 27), utm_source="yandex", utm_medium="cpc"),
    ]
    won = DealStory("dp1", at(2026, 3, 2, 11), "900", lead_id="p1", client="A")
    won.move("qualified", at(2026, 3, 3)).win(at(2026, 3, 5)).pay("900", at(2026, 3, 6))
    open_ = DealStory("dp2", at(2026, 3, 3, 11), "100", lead_id="p2", client="B")
    open_.move("proposal", at(2026, 3, 4))
    old = DealStory("dold", at(2026, 2, 27, 11), "1", lead_id="old", client="C")
    return events + won.events + open_.events + old.events


def test_lead_funnel_by_channel(clickhouse):
    load(clickhouse, lead_history())
    report = run(clickhouse, lead_funnel, "2026-03-01", "2026-04-01")
    rows = by(report["rows"], "channel")
    paid, direct = rows["paid"], rows["direct"]
    assert (paid["leads"], paid["deals"], paid["won"], paid["paid"]) == (2, 2, 1, 1)
    # dp1 won (reached every stage); dp2 skipped qualified to proposal.
    assert [s["reached"] for s in paid["stages"]] == [2, 2, 2, 1, 1]
    assert (paid["conversion_to_deal"], paid["conversion_to_won"]) == (1.0, 0.5)
    assert (direct["leads"], direct["deals"], direct["conversion_to_deal"]) == (1, 0, 0.0)
    assert report["totals"] == {"leads": 3, "deals": 2, "won": 1, "paid": 1}


def test_lead_funnel_counts_a_deal_for_its_own_lead_whatever_the_ids_hash_to(
    clickhouse, monkeypatch
):
    # The join matches deals to leads by a hash of the lead id: with one hash for every id,
    # each deal meets every lead (the one received in February too), and still counts only
    # for its own, in either period of a comparison.
    load(clickhouse, lead_history())
    queries = [
        ("channel", "2026-03-01", "2026-04-01", {}),
        ("channel", "2026-03-01", "2026-04-01", {"compare": "previous_period"}),
        ("source", "2026-02-01", "2026-04-01", {}),
    ]

    def reports():
        return [
            run(clickhouse, partial(lead_funnel, group_by=group_by), start, end, **extra)
            for group_by, start, end, extra in queries
        ]

    expected = reports()
    colliding = leads.LEAD_FUNNEL_SQL.text.replace("cityHash64(lead_id)", "toUInt64(7)")
    assert colliding.count("toUInt64(7)") == 2
    monkeypatch.setattr(leads, "LEAD_FUNNEL_SQL", Sql(colliding))
    assert reports() == expected
    assert expected[0]["totals"] == {"leads": 3, "deals": 2, "won": 1, "paid": 1}


def test_filters_by_the_opening_leads_channel(clickhouse):
    load(clickhouse, lead_history())
    report = run(clickhouse, sales_funnel, "2026-03-01", "2026-04-01", channel="paid")
    assert report["deals"] == 2
    assert run(clickhouse, sales_funnel, "2026-03-01", "2026-04-01", channel="email")["deals"] == 0


def test_drill_down_returns_the_rows_behind_a_number(clickhouse):
    load(clickhouse, lead_history())
    report = run(clickhouse, sales_funnel, "2026-03-01", "2026-04-01")
    proposal = next(s for s in report["stages"] if s["stage"] == "proposal")
    link = parse_qs(urlsplit(proposal["drill"]).query)
    assert urlsplit(proposal["drill"]).path == "/v1/drill/deals"
    q = ReportQuery(Period.parse(link["from"][0], link["to"][0], link["tz"][0]))
    order = ["new", "qualified", "proposal", "invoice", "won"]
    rows = drill_deals(
        clickhouse,
        q,
        link["basis"][0],
        {"reached_stage": link["reached_stage"][0], "stages_order": order},
        limit=10,
        offset=0,
    )
    assert proposal["reached"] == rows["total"] == 2
    assert sorted(r["deal_id"] for r in rows["rows"]) == ["dp1", "dp2"]
    page = drill_deals(clickhouse, q, "opened", {}, limit=1, offset=1)
    assert (page["total"], [r["deal_id"] for r in page["rows"]]) == (2, ["dp2"])
    leads = drill_leads(clickhouse, ReportQuery(q.period, channel="paid"), 10, 0)
    assert sorted(r["lead_id"] for r in leads["rows"]) == ["p1", "p2"]
    assert all(len(r["email_hash"]) == 64 and "@" not in r["email_hash"] for r in leads["rows"])
