"""Every report over a period with no data: zeros and empty lists, never an error."""

import pytest

from analytics.application.reports.attribution import attribution
from analytics.application.reports.cohorts import amount_distribution, cohorts, parse_edges
from analytics.application.reports.funnel import sales_funnel
from analytics.application.reports.leads import lead_funnel
from analytics.application.reports.money import (
    abc,
    active_clients,
    client_profitability,
    dynamics,
    repeat_sales,
)
from analytics.application.reports.sales import managers, weighted_pipeline
from services.analytics.tests.reports_support import run

REPORTS = {
    "sales-funnel": sales_funnel,
    "lead-funnel": lead_funnel,
    "attribution": attribution,
    "dynamics": dynamics,
    "amount-distribution": lambda ch, q: amount_distribution(ch, q, parse_edges("0,100")),
    "repeat-sales": repeat_sales,
    "active-clients": active_clients,
    "managers": managers,
    "weighted-pipeline": weighted_pipeline,
    "abc": abc,
    "cohorts": cohorts,
    "client-profitability": client_profitability,
}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_empty_period(clickhouse, name):
    report = run(
        clickhouse,
        REPORTS[name],
        "2025-01-01",
        "2025-01-08",
        "Europe/Moscow",
        compare="previous_period",
    )
    assert report["report"] == name
    assert report["from"] == "2024-12-31T21:00:00+00:00"
    for key in ("rows", "win_back"):
        if key in report and name not in ("dynamics", "sales-funnel"):
            assert report[key] == []
    totals = report.get("totals", {})
    for figure in ("revenue", "won", "deals", "leads", "active_clients", "won_deals"):
        if figure in totals:
            assert totals[figure] in (0, 0.0, "0.00"), (figure, totals[figure])
