"""Sales funnel (docs/reports.md): the cohort of deals opened in the period in one pipeline.

reached_k: deals that entered stage k or any later stage (a skipped stage counts as passed);
current_k: deals now in stage k; conversion_prev = reached_k / reached_{k-1} (1 for the first
stage); conversion_first = reached_k / reached_1; amount_k: sum of the amounts of the deals
that reached k; avg_duration_k: mean seconds of the completed stays in k. Each count links
to its deals: a stage's `drill` (reached) and `drill_current`; `lost.drill`, and the lost by
stage and by reason in `lost.drill_by_stage` / `lost.drill_by_reason` (key → link)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.common import filtered_deals, in_period
from analytics.application.reports.pipelines import load_pipeline
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql

COHORT = Sql("""
    SELECT deal_id, stage, status, amount_base AS amount, lost_reason, lost_at_stage
    FROM ({deals})
    WHERE pipeline_id = {pipeline:String} AND {opened_in}
""")

STAGES_SQL = Sql("""
WITH cohort AS ({cohort}),
reach AS (
    SELECT deal_id, max(indexOf({stages:Array(String)}, stage)) AS max_index
    FROM {db}.deal_stage_intervals FINAL
    WHERE deal_id IN (SELECT deal_id FROM cohort)
    GROUP BY deal_id
)
SELECT k,
       countIf(reach.max_index >= k) AS reached,
       countIf(indexOf({stages:Array(String)}, cohort.stage) = k) AS current,
       sumIf(cohort.amount, reach.max_index >= k) AS amount
FROM cohort LEFT JOIN reach ON reach.deal_id = cohort.deal_id
ARRAY JOIN range(1, length({stages:Array(String)}) + 1) AS k
GROUP BY k ORDER BY k
""")

DURATIONS_SQL = Sql("""
WITH cohort AS ({cohort})
SELECT stage, avg(dateDiff('millisecond', entered_at, left_at)) / 1000 AS avg_seconds
FROM {db}.deal_stage_intervals FINAL
WHERE deal_id IN (SELECT deal_id FROM cohort) AND left_at IS NOT NULL
GROUP BY stage
""")

LOST_SQL = Sql("""
WITH cohort AS ({cohort})
SELECT lost_at_stage, lost_reason, count() AS deals
FROM cohort WHERE status = 'lost'
GROUP BY lost_at_stage, lost_reason
""")


UNSPECIFIED = "unspecified"  # a lost deal without a reason
LOST_REASON = f"if(lost_reason = '', '{UNSPECIFIED}', lost_reason)"  # as the report groups it


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def sales_funnel(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    pipeline = load_pipeline(ch, q.pipeline)
    names = [s.name for s in pipeline.funnel_stages]
    cohort = COHORT.fill(
        deals=filtered_deals(q),  # amounts in the base currency
        opened_in=in_period("opened_at", q.period),
    ).bind(pipeline=pipeline.id)
    with ch.consistent():
        counts = {r["k"]: r for r in ch.select(STAGES_SQL.fill(cohort=cohort).bind(stages=names))}
        durations = {
            r["stage"]: r["avg_seconds"] for r in ch.select(DURATIONS_SQL.fill(cohort=cohort))
        }
        lost_rows = ch.select(LOST_SQL.fill(cohort=cohort))

    cohort_link = q.linker("deals", basis="opened", pipeline=pipeline.id)
    stages, first, previous = [], 0, 0
    for k, name in enumerate(names, start=1):
        row = counts.get(k, {"reached": 0, "current": 0, "amount": Decimal(0)})
        reached = row["reached"]
        if k == 1:
            first = previous = reached
        avg = durations.get(name)
        stages.append(
            {
                "stage": name,
                "reached": reached,
                "current": row["current"],
                "conversion_prev": ratio(reached, previous),
                "conversion_first": ratio(reached, first),
                "amount": Decimal(row["amount"]),
                "avg_duration_seconds": round(avg, 3) if avg is not None else None,
                "drill": cohort_link(reached_stage=name),
                "drill_current": cohort_link(stage=name),
            }
        )
        previous = reached

    by_stage: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for r in lost_rows:
        by_stage[r["lost_at_stage"]] = by_stage.get(r["lost_at_stage"], 0) + r["deals"]
        reason = r["lost_reason"] or UNSPECIFIED
        by_reason[reason] = by_reason.get(reason, 0) + r["deals"]
    lost_link = q.linker("deals", basis="opened", pipeline=pipeline.id, status="lost")
    return {
        **q.header("sales-funnel"),
        "pipeline": pipeline.id,
        "deals": first,
        "drill": stages[0]["drill"] if stages else None,  # `deals` is the first stage's reach
        "stages": stages,
        "lost": {
            "deals": sum(by_stage.values()),
            "by_stage": [{"stage": k, "deals": v} for k, v in by_stage.items()],
            "by_reason": [{"reason": k, "deals": v} for k, v in by_reason.items()],
            "drill": lost_link(),
            # Beside the lists, whose rows keep their shape: stage / reason → link.
            "drill_by_stage": {k: lost_link(lost_at_stage=k) for k in by_stage},
            "drill_by_reason": {k: lost_link(lost_reason=k) for k in by_reason},
        },
    }
