"""Lead funnel (DESIGN §6): leads received in the period → deals opened from them → each
stage reached → won → paid, per channel (or source, campaign) of the lead's own touch."""

from __future__ import annotations

from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.reports.common import base_params, filtered_deals
from analytics.reports.pipelines import load_pipeline
from analytics.reports.query import ReportQuery
from crm_contracts.runtime.errors import FieldError

GROUPS = ("channel", "source", "campaign")

LEAD_FUNNEL_SQL = """
WITH own AS (
    SELECT lead_id, {group} AS key FROM {{db}}.touchpoints FINAL
    WHERE kind = 'lead' AND {touch_where} AND lead_id IN (
        SELECT lead_id FROM {{db}}.leads FINAL
        WHERE received_at >= {{start:DateTime64(3)}} AND received_at < {{end:DateTime64(3)}})
),
d AS (
    SELECT deal_id, lead_id, status, paid_total FROM ({deals})
    WHERE pipeline_id = {{pipeline:String}} AND lead_id IN (SELECT lead_id FROM own)
),
reach AS (
    SELECT deal_id, max(indexOf({{stages:Array(String)}}, stage)) AS max_index
    FROM {{db}}.deal_stage_intervals FINAL WHERE deal_id IN (SELECT deal_id FROM d)
    GROUP BY deal_id
)
SELECT own.key AS key, k,
       uniqExact(own.lead_id) AS leads,
       uniqExactIf(d.deal_id, d.deal_id != '') AS deals,
       uniqExactIf(d.deal_id, d.deal_id != '' AND reach.max_index >= k) AS reached,
       uniqExactIf(d.deal_id, d.status = 'won') AS won,
       uniqExactIf(d.deal_id, d.deal_id != '' AND d.paid_total > 0) AS paid
FROM own
LEFT JOIN d ON d.lead_id = own.lead_id
LEFT JOIN reach ON reach.deal_id = d.deal_id
ARRAY JOIN range(1, length({{stages:Array(String)}}) + 1) AS k
GROUP BY key, k ORDER BY key, k
"""


def lead_funnel(ch: ClickHouse, q: ReportQuery, group_by: str = "channel") -> dict[str, Any]:
    if group_by not in GROUPS:
        raise FieldError("group_by", f"one of {', '.join(GROUPS)}")
    pipeline = load_pipeline(ch, q.pipeline)
    names = [s.name for s in pipeline.funnel_stages]
    touch_where, params = [], {}
    for name in GROUPS:
        if getattr(q, name):
            touch_where.append(f"{name} = {{t_{name}:String}}")
            params[f"t_{name}"] = getattr(q, name)
    # Deals are filtered by pipeline and manager only; the lead's touch selects the leads.
    deals_sql, deal_params = filtered_deals(ReportQuery(q.period, manager=q.manager))
    sql = LEAD_FUNNEL_SQL.format(
        group=group_by, touch_where=" AND ".join(touch_where) or "1", deals=deals_sql
    )
    rows = ch.rows(
        sql, base_params(q) | deal_params | params | {"pipeline": pipeline.id, "stages": names}
    )
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault(
            r["key"],
            {
                group_by: r["key"] or "(none)",
                "leads": r["leads"],
                "deals": r["deals"],
                "won": r["won"],
                "paid": r["paid"],
                "stages": [],
                "drill": q.drill("leads", **{group_by: r["key"]}),
            },
        )
        g["stages"].append({"stage": names[r["k"] - 1], "reached": r["reached"]})
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
        "rows": out,
    }
