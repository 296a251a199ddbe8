"""Sales funnel (DESIGN §6): the cohort of deals opened in the period in one pipeline.

reached_k: deals that entered stage k or any later stage (a skipped stage counts as passed);
current_k: deals now in stage k; conversion_prev = reached_k / reached_{k-1} (1 for the first
stage); conversion_first = reached_k / reached_1; amount_k: sum of the amounts of the deals
that reached k; avg_duration_k: mean seconds of the completed stays in k."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.reports.period import Period
from crm_contracts.pipelines import Pipeline

COHORT = """
    SELECT deal_id, stage, status, amount, lost_reason, lost_at_stage
    FROM {db}.deals FINAL
    WHERE pipeline_id = {pipeline:String}
      AND opened_at >= {start:DateTime64(3)} AND opened_at < {end:DateTime64(3)}
"""

STAGES_SQL = f"""
WITH cohort AS ({COHORT}),
reach AS (
    SELECT deal_id, max(indexOf({{stages:Array(String)}}, stage)) AS max_index
    FROM {{db}}.deal_stage_intervals FINAL
    WHERE deal_id IN (SELECT deal_id FROM cohort)
    GROUP BY deal_id
)
SELECT k,
       countIf(reach.max_index >= k) AS reached,
       countIf(indexOf({{stages:Array(String)}}, cohort.stage) = k) AS current,
       sumIf(cohort.amount, reach.max_index >= k) AS amount
FROM cohort LEFT JOIN reach ON reach.deal_id = cohort.deal_id
ARRAY JOIN range(1, length({{stages:Array(String)}}) + 1) AS k
GROUP BY k ORDER BY k
"""

DURATIONS_SQL = f"""
WITH cohort AS ({COHORT})
SELECT stage, avg(dateDiff('millisecond', entered_at, left_at)) / 1000 AS avg_seconds
FROM {{db}}.deal_stage_intervals FINAL
WHERE deal_id IN (SELECT deal_id FROM cohort) AND left_at IS NOT NULL
GROUP BY stage
"""

LOST_SQL = f"""
WITH cohort AS ({COHORT})
SELECT lost_at_stage, lost_reason, count() AS deals
FROM cohort WHERE status = 'lost'
GROUP BY lost_at_stage, lost_reason
"""


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def sales_funnel(ch: ClickHouse, pipeline: Pipeline, period: Period) -> dict[str, Any]:
    names = [s.name for s in pipeline.funnel_stages]
    params = {**period.params(), "pipeline": pipeline.id, "stages": names}
    with ch.consistent():
        counts = {r["k"]: r for r in ch.rows(STAGES_SQL, params)}
        durations = {r["stage"]: r["avg_seconds"] for r in ch.rows(DURATIONS_SQL, params)}
        lost_rows = ch.rows(LOST_SQL, params)

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
                "amount": str(Decimal(row["amount"]).quantize(Decimal("0.01"))),
                "avg_duration_seconds": round(avg, 3) if avg is not None else None,
            }
        )
        previous = reached

    by_stage: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for r in lost_rows:
        by_stage[r["lost_at_stage"]] = by_stage.get(r["lost_at_stage"], 0) + r["deals"]
        reason = r["lost_reason"] or "unspecified"
        by_reason[reason] = by_reason.get(reason, 0) + r["deals"]
    return {
        "report": "sales-funnel",
        "pipeline": pipeline.id,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "tz": period.tz,
        "deals": first,
        "stages": stages,
        "lost": {"deals": sum(by_stage.values()), "by_stage": by_stage, "by_reason": by_reason},
    }
