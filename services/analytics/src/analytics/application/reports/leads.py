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

# The leads received in the period: `received_at` is in the sort key, so the raw rows hold
# the same leads as the merged ones.
RECEIVED_SQL = Sql("SELECT lead_id FROM {db}.leads WHERE {received_in}")

# Each lead received in the period once, with its own touch as its row keeps it: the period
# is a range of the sort key, so FINAL merges only those rows.
OWN_LEADS_SQL = Sql("""
    SELECT lead_id, {group} AS key FROM {db}.leads FINAL
    WHERE {received_in} AND {touch_where}
""")

# Each deal is on one row of the join (one own touch per lead, one row per deal), so a
# deal's figures are counts, and a stage's reach is summed per group as an array over the
# stages; the rows then come out per group and stage. A deal's furthest stage is read from
# the summary of stays on its latest row.
LEAD_FUNNEL_SQL = Sql("""
WITH own AS ({own}),
d AS (
    SELECT deal_id, lead_id, status, paid_total, {reach} AS max_index
    FROM {db}.deals FINAL WHERE {conditions}
),
groups AS (
    SELECT own.key AS key,
           uniqExact(own.lead_id) AS leads,
           countIf(d.deal_id != '') AS deals,
           sumForEach(arrayMap(k -> toUInt64(d.deal_id != '' AND d.max_index >= k),
                               range(1, length({stages:Array(String)}) + 1))) AS reached_by_k,
           countIf(d.deal_id != '' AND d.status = 'won') AS won,
           countIf(d.deal_id != '' AND d.paid_total > 0) AS paid
    FROM own
    LEFT JOIN d ON d.lead_id = own.lead_id
    GROUP BY key
)
SELECT key, k, leads, deals, reached_by_k[k] AS reached, won, paid
FROM groups
ARRAY JOIN range(1, length({stages:Array(String)}) + 1) AS k
ORDER BY key, k
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


def _received(q: ReportQuery) -> Sql:
    return RECEIVED_SQL.fill(received_in=in_period("received_at", q.period))


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
    cohort = Sql("pipeline_id = {pipeline:String} AND lead_id IN ({received})").fill(
        received=_received(q)
    )
    cohort = cohort.bind(pipeline=pipeline.id)
    rows = ch.select(
        LEAD_FUNNEL_SQL.fill(
            own=own, conditions=deal_conditions(deals) & cohort, reach=furthest_stage("stages")
        ).bind(stages=names)
    )
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        links = _links(q, pipeline.id, {"group_by": group_by, "group": [r["key"]]})
        g = groups.setdefault(
            r["key"],
            {
                group_by: r["key"] or "(none)",
                "leads": r["leads"],
                "deals": r["deals"],
                "won": r["won"],
                "paid": r["paid"],
                "stages": [],
                "drill": links["leads"](),
            }
            | {f"drill_{name}": links[name]() for name in ("deals", "won", "paid")},
        )
        stage = names[r["k"] - 1]
        g["stages"].append(
            {"stage": stage, "reached": r["reached"], "drill": links["deals"](reached_stage=stage)}
        )
    out = list(groups.values())
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
