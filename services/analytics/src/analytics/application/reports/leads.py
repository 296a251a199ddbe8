"""Lead funnel (docs/reports.md): leads received in the period → deals opened from them → each
stage reached → won → paid, per channel (or source, campaign) of the lead's own touch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.common import furthest_stage, in_period
from analytics.application.reports.filters import (
    OWN_TOUCH_COLUMNS,
    TOUCH_FIELDS,
    deal_conditions,
    own_touch_conditions,
)
from analytics.application.reports.pipelines import load_pipeline
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql
from crm_contracts.runtime.errors import Invalid

GROUPS = TOUCH_FIELDS  # what a lead funnel may be grouped by

# Each lead received in the period once, with its own touch as its row keeps it: the period
# is a range of the sort key, so FINAL merges only those rows.
OWN_LEADS_SQL = Sql("""
    SELECT lead_id, {group} AS key FROM {db}.leads FINAL
    WHERE {received_in} AND {touch_where}
""")

# Each deal is on one row of the join (one own touch per lead, one row per deal), so a
# deal's figures are counts. The period's leads are the hashed side: every deal of the
# pipeline probes it, which costs less than first narrowing the deals to those leads' ids
# and then joining them. Deals are grouped by the group and the deal's furthest stage (read
# from the summary of stays on its latest row), and each group's reach per stage is summed
# from those in Python: `by_reach` holds (furthest stage, deals). A lead is received once,
# so its group's leads are its own rows counted; a group without deals has no `by_reach`.
LEAD_FUNNEL_SQL = Sql("""
WITH own AS ({own}),
d AS (
    SELECT lead_id, status, paid_total, {reach} AS max_index
    FROM {db}.deals FINAL WHERE {conditions}
),
per_reach AS (
    SELECT own.key AS key, d.max_index AS reach, count() AS n_deals,
           countIf(d.status = 'won') AS n_won, countIf(d.paid_total > 0) AS n_paid
    FROM d INNER JOIN own ON own.lead_id = d.lead_id
    GROUP BY key, reach
),
per_key AS (
    SELECT key, sum(n_deals) AS deals, sum(n_won) AS won, sum(n_paid) AS paid,
           groupArray((reach, n_deals)) AS by_reach
    FROM per_reach GROUP BY key
)
SELECT l.key AS key, l.leads AS leads, p.deals AS deals, p.won AS won, p.paid AS paid,
       p.by_reach AS by_reach
FROM (SELECT key, count() AS leads FROM own GROUP BY key) AS l
LEFT JOIN per_key AS p ON p.key = l.key
ORDER BY key
""")


def own_leads(q: ReportQuery, group_by: str) -> Sql:
    """The funnel's leads: received in the period, their own touch passing the filters; with
    their group `key` (the touch's channel, source or campaign as stored)."""
    if group_by not in GROUPS:
        raise Invalid(f"one of {', '.join(GROUPS)}", "group_by")
    return OWN_LEADS_SQL.fill(
        group=OWN_TOUCH_COLUMNS[group_by],  # a column name
        touch_where=own_touch_conditions(q),
        received_in=in_period("received_at", q.period),
    )


def lead_funnel(ch: ClickHouse, q: ReportQuery, group_by: str = "channel") -> dict[str, Any]:
    """Per group: leads, deals opened from them (any time, in the pipeline, by the manager
    filter), the deals that reached each stage, are won now, have any payment. Each count
    links to its rows: a row's `drill` (leads), `drill_deals`, `drill_won`, `drill_paid`, a
    stage's `drill`; the totals' links are in `drill_totals` (figure → link)."""
    own = own_leads(q, group_by)
    pipeline = load_pipeline(ch, q.pipeline)
    names = [s.name for s in pipeline.funnel_stages]
    # Deals are filtered by manager only (the pipeline below); the lead's touch selects the
    # leads.
    deals = replace(q, pipeline=None, channel=None, source=None, campaign=None)
    cohort = Sql("pipeline_id = {pipeline:String}").bind(pipeline=pipeline.id)
    rows = ch.select(
        LEAD_FUNNEL_SQL.fill(
            own=own, conditions=deal_conditions(deals) & cohort, reach=furthest_stage("stages")
        ).bind(stages=names)
    )
    out = []
    for r in rows:
        links = _links(q, pipeline.id, {"group_by": group_by, "group": [r["key"]]})
        stages = [
            {
                "stage": stage,
                "reached": sum(deals for reach, deals in r["by_reach"] if reach >= k),
                "drill": links["deals"](reached_stage=stage),
            }
            for k, stage in enumerate(names, start=1)
        ]
        out.append(
            {
                group_by: r["key"] or "(none)",
                "leads": r["leads"],
                "deals": r["deals"],
                "won": r["won"],
                "paid": r["paid"],
                "stages": stages,
                "drill": links["leads"](),
            }
            | {f"drill_{name}": links[name]() for name in ("deals", "won", "paid")}
        )
    for g in out:
        g["conversion_to_deal"] = round(g["deals"] / g["leads"], 4) if g["leads"] else None
        g["conversion_to_won"] = round(g["won"] / g["leads"], 4) if g["leads"] else None
    totals = {k: sum(g[k] for g in out) for k in ("leads", "deals", "won", "paid")}
    return {
        **q.header("lead-funnel"),
        "pipeline": pipeline.id,
        "group_by": group_by,
        "totals": totals,
        # Beside `totals`, which keeps its shape (consumers read it whole): figure → link.
        "drill_totals": {name: link() for name, link in _links(q, pipeline.id, {}).items()},
        "rows": out,
    }


def _links(q: ReportQuery, pipeline: str, group: dict[str, Any]) -> dict[str, Callable]:
    """Link makers for a group's counts (`group` empty: every group): its leads, and its
    leads' deals, won deals and deals with a payment."""
    deals = q.linker("deals", basis="lead_received", pipeline=pipeline, **group)
    return {
        "leads": q.linker("leads", **group),
        "deals": deals,
        "won": partial(deals, status="won"),
        "paid": partial(deals, paid_ever=True),
    }
