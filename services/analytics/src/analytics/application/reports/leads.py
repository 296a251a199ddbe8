"""Lead funnel (docs/reports.md): leads received in the period → deals opened from them → each
stage reached → won → paid, per channel (or source, campaign) of the lead's own touch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.common import furthest_stage, in_period
from analytics.application.reports.compare import compared_queries, with_previous
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

# Each lead received in the period once, with its own touch as its row keeps it, and the
# period's index (`period`: 0 the report's, 1 the one it is compared with): the period is a
# range of the sort key, so FINAL merges only those rows.
OWN_LEADS_SQL = Sql("""
    SELECT {period} AS period, lead_id, {group} AS key FROM {db}.leads FINAL
    WHERE {received_in} AND {touch_where}
""")

# The stages a deal entered, from the text its row keeps of them (read for each group only).
ENTERED = "JSONExtract(stages_json, 'Array(String)')"

# A deal's lead facts as its row keeps them (DealRow's `lead_*`: the same values as the lead's
# row), by the names of OWN_TOUCH_COLUMNS.
FACT_COLUMNS = {
    "channel": "lead_channel",
    "source": "lead_touch_source",
    "campaign": "lead_campaign",
}

# Each deal counts once per period its lead was received in (one own touch per lead, one row
# per deal), so a deal's figures are counts. Its period and group are read from its own row
# where the row carries its lead's facts (`facts`, as the projection writes them once it has
# seen the lead): no join. The other deals that have a lead (`d`: the lead came after the
# deal's last row, never came, or an older release wrote the row) are joined to the periods'
# leads as they are read: none at 10 M events loaded in order, any whose lead came late. Those
# leads are the hashed side, narrowed first to the leads these deals name (should no row
# carry facts, the narrowing would cost more than it saves: the migration fills them in);
# every such deal probes it; with `compare` both periods'
# leads are in it. The side stays as written (the planner's swap, hashing the deals, took
# twice the CPU when the key was the id). The join's key is a 64-bit hash of the
# lead id, cheaper to hash and compare than the id; a deal counts only where the ids are
# equal (`same`), so a deal whose lead's hash another lead shares counts for its own lead
# alone. The ids are compared in the counts, not in WHERE, which the engine would merge into
# the join's key. Deals are grouped by the period, the group and the stages they entered as
# the row keeps them in one text (`stages_json`: a few dozen values), and the furthest stage
# is found for those groups rather than for every deal; each group's reach per stage is then
# summed from those in Python: `by_reach` holds (furthest stage, deals). A lead is received
# once, so its group's leads are its own rows counted; a group without deals has no
# `by_reach`.
LEAD_FUNNEL_SQL = Sql("""
WITH own AS ({own}),
facts AS (
    SELECT toUInt8(arrayJoin(arrayFilter(k -> k >= 0, [{fact_periods}]))) AS period,
           {fact_group} AS key, status, paid_total, stages_json
    FROM {db}.deals FINAL WHERE {conditions} AND ({fact_in})
),
d AS (
    SELECT lead_id, cityHash64(lead_id) AS hash, status, paid_total, stages_json
    FROM {db}.deals FINAL WHERE {conditions} AND lead_id != '' AND lead_received_at IS NULL
),
hashed AS (
    SELECT period, lead_id, cityHash64(lead_id) AS hash, key FROM own
    WHERE lead_id IN (SELECT lead_id FROM d)
),
per_entered AS (
    SELECT period, key, stages_json, count() AS n_deals, countIf(status = 'won') AS n_won,
           countIf(paid_total > 0) AS n_paid
    FROM facts GROUP BY period, key, stages_json
    UNION ALL
    SELECT l.period AS period, l.key AS key, d.stages_json AS stages_json,
           countIf(l.lead_id = d.lead_id AS same) AS n_deals,
           countIf(same AND d.status = 'won') AS n_won, countIf(same AND d.paid_total > 0) AS n_paid
    FROM d INNER JOIN hashed AS l ON l.hash = d.hash
    GROUP BY period, key, stages_json
    HAVING n_deals > 0
),
per_reach AS (
    SELECT period, key, {reach} AS reach, sum(n_deals) AS n_deals, sum(n_won) AS n_won,
           sum(n_paid) AS n_paid
    FROM per_entered GROUP BY period, key, reach
),
per_key AS (
    SELECT period, key, sum(n_deals) AS deals, sum(n_won) AS won, sum(n_paid) AS paid,
           groupArray((reach, n_deals)) AS by_reach
    FROM per_reach GROUP BY period, key
)
SELECT l.period AS period, l.key AS key, l.leads AS leads, p.deals AS deals, p.won AS won,
       p.paid AS paid, p.by_reach AS by_reach
FROM (SELECT period, key, count() AS leads FROM own GROUP BY period, key) AS l
LEFT JOIN per_key AS p ON p.period = l.period AND p.key = l.key
ORDER BY period, key
SETTINGS query_plan_join_swap_table = 0
""")


def own_leads(q: ReportQuery, group_by: str, period: int = 0) -> Sql:
    """The funnel's leads: received in the period, their own touch passing the filters; with
    their group `key` (the touch's channel, source or campaign as stored) and `period`, the
    index given (the bounds of a period other than 0 are bound with a prefix of their own)."""
    if group_by not in GROUPS:
        raise Invalid(f"one of {', '.join(GROUPS)}", "group_by")
    return OWN_LEADS_SQL.fill(
        period=str(period),  # a number of ours
        group=OWN_TOUCH_COLUMNS[group_by],  # a column name
        touch_where=own_touch_conditions(q),
        received_in=in_period("received_at", q.period, f"p{period}_" if period else ""),
    )


def fact_leads(q: ReportQuery, period: int = 0) -> Sql:
    """`own_leads`' selection on a deal row's lead facts (bound as `own_leads` binds it)."""
    return Sql.all(
        [
            in_period("lead_received_at", q.period, f"p{period}_" if period else ""),
            own_touch_conditions(q, columns=FACT_COLUMNS),
        ]
    )


def lead_funnel(ch: ClickHouse, q: ReportQuery, group_by: str = "channel") -> dict[str, Any]:
    """Per group: leads, deals opened from them (any time, in the pipeline, by the manager
    filter), the deals that reached each stage, are won now, have any payment. Each count
    links to its rows: a row's `drill` (leads), `drill_deals`, `drill_won`, `drill_paid`, a
    stage's `drill`; the totals' links are in `drill_totals` (figure → link). With `compare`
    the comparison period is computed in the same statement."""
    queries = compared_queries(q)
    own = _union_all([own_leads(query, group_by, k) for k, query in enumerate(queries)])
    pipeline = load_pipeline(ch, q.pipeline)
    names = [s.name for s in pipeline.funnel_stages]
    # Deals are filtered by manager only (the pipeline below); the lead's touch selects the
    # leads.
    deals = replace(q, pipeline=None, channel=None, source=None, campaign=None)
    cohort = Sql("pipeline_id = {pipeline:String}").bind(pipeline=pipeline.id)
    facts = [fact_leads(query, k) for k, query in enumerate(queries)]
    statement = LEAD_FUNNEL_SQL.fill(
        own=own,
        conditions=deal_conditions(deals) & cohort,
        reach=furthest_stage("stages", entered=ENTERED),
        fact_group=FACT_COLUMNS[group_by],  # a column name (`own_leads` checked `group_by`)
        fact_periods=_joined(
            [Sql("if({f}, {k}, -1)").fill(f=f, k=str(k)) for k, f in enumerate(facts)], ", "
        ),
        fact_in=_joined([Sql("({f})").fill(f=f) for f in facts], " OR "),
    )
    rows = ch.select(statement.bind(stages=names))
    return with_previous(
        [
            _report(query, pipeline.id, names, group_by, [r for r in rows if r["period"] == k])
            for k, query in enumerate(queries)
        ]
    )


def _report(
    q: ReportQuery, pipeline: str, names: list[str], group_by: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """One period's funnel from its rows of LEAD_FUNNEL_SQL (in the order of their keys)."""
    out = []
    for r in rows:
        links = _links(q, pipeline, {"group_by": group_by, "group": [r["key"]]})
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
        "pipeline": pipeline,
        "group_by": group_by,
        "totals": totals,
        # Beside `totals`, which keeps its shape (consumers read it whole): figure → link.
        "drill_totals": {name: link() for name, link in _links(q, pipeline, {}).items()},
        "rows": out,
    }


def _union_all(parts: list[Sql]) -> Sql:
    """The selects one after another (`UNION ALL`), their parameters joined."""
    return _joined(parts, " UNION ALL ")


def _joined(parts: list[Sql], separator: str) -> Sql:
    """The parts one after another, `separator` between them, their parameters joined."""
    slots = {f"part{k}": part for k, part in enumerate(parts)}
    return Sql(separator.join("{" + slot + "}" for slot in slots)).fill(**slots)


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
