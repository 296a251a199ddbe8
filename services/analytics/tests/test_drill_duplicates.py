"""The drill-down lists and the deal card narrow their FINAL reads by sort key, and the card
finds a deal's payments, tasks and its client's deals by columns outside it: rows a
redelivery or a late, older version leaves until a merge must not change a single row."""

import pytest

from analytics.application.reports.deal_card import deal_card
from analytics.application.reports.drill import drill_clients, drill_deals, drill_leads
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.serialize import report_json
from services.analytics.tests.reports_support import (
    awaiting_merge,
    late_stay_openings,
    load,
    merged,
)
from services.analytics.tests.test_drill_api import card_history
from services.analytics.tests.test_money_reports import history

TABLES = (
    "leads",
    "deals",
    "deal_stage_intervals",
    "payments",
    "tasks",
    "touchpoints",
    "fold_events",
)
FEB = ReportQuery(Period.parse("2026-02-01", "2026-03-01", "UTC"))


def answers(ch):
    lists = {
        "reached": drill_deals(ch, FEB, "opened", {"reached_stage": "proposal"}, 100, 0),
        "won_reached": drill_deals(ch, FEB, "won", {"reached_stage": "won"}, 100, 0),
        "paid": drill_clients(ch, FEB, 100, 0),
        "paid_by_count": drill_clients(ch, FEB, 100, 0, sort="-payments"),
        "won": drill_clients(ch, FEB, 100, 0, "won"),
        "leads": drill_leads(ch, FEB, 100, 0),
        "leads_of_deals": drill_leads(ch, FEB, 100, 0, "opened_deal"),
    }
    cards = {deal_id: deal_card(ch, deal_id) for deal_id in ("w1", "a2", "b1", "e2")}
    return report_json({"lists": lists, "cards": cards})


@pytest.mark.parametrize("extra", ["duplicates", "older_versions"])
def test_rows_awaiting_a_merge_change_no_list_and_no_card(clickhouse, extra):
    load(clickhouse, history() + card_history())
    merged(clickhouse, TABLES)
    expected = answers(clickhouse)
    reached = {r["deal_id"] for r in expected["lists"]["reached"]["rows"]}
    assert {"e1", "e2"} <= reached and "e3" not in reached
    assert expected["cards"]["w1"]["touches"] and expected["cards"]["w1"]["payments"]
    assert [t["task_id"] for t in expected["cards"]["a2"]["tasks"]] == ["t1", "t2"]
    assert expected["lists"]["leads"]["total"] == 2
    awaiting_merge(clickhouse, TABLES, redelivered=extra == "duplicates")
    if extra == "older_versions":
        # Late rows of lower versions naming what the latest ones do not: a stay still open,
        # other deals once of client W (w1's) and at a later stage, tasks once of deal w1.
        late_stay_openings(clickhouse)
        clickhouse.command(
            "INSERT INTO {db}.deal_stage_intervals SELECT * REPLACE ("
            "'invoice' AS stage, version - 1 AS version) "
            "FROM {db}.deal_stage_intervals WHERE version > 1"
        )
        clickhouse.command(
            "INSERT INTO {db}.deals SELECT * REPLACE (version - 1 AS version, 'W' AS client_id, "
            "'won' AS status, opened_at AS closed_at) FROM {db}.deals WHERE version > 1"
        )
        clickhouse.command(
            "INSERT INTO {db}.tasks SELECT * REPLACE (version - 1 AS version, 'w1' AS deal_id) "
            "FROM {db}.tasks WHERE version > 1"
        )
    rows = clickhouse.rows("SELECT count() AS n FROM {db}.deals")
    assert rows[0]["n"] > len(clickhouse.rows("SELECT * FROM {db}.deals FINAL"))
    assert answers(clickhouse) == expected
