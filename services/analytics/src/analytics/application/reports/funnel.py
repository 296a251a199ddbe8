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
from analytics.application.reports.filters import deal_conditions
from analytics.application.reports.pipelines import load_pipeline
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql

COHORT = Sql("""
    SELECT deal_id, stage, status, amount_base AS amount, lost_reason, lost_at_stage
    FROM ({deals})
    WHERE pipeline_id = {pipeline:String} AND {opened_in}
""")

# Every stay of the deals opened in the period, without FINAL: filtering the raw rows on
# `opened_at` keeps every deal whose latest row is in the period (a superset of the cohort,
# which the join below narrows). A stay's rows (its opening and its closing, a higher version)
# share its stage, so the furthest stage needs no dedupe; `left_at` is only on the closing row,
# so the closed stays are those rows, each kept once (a redelivery repeats it as it was).
STAYS_SQL = Sql("""
    SELECT deal_id, max(indexOf({stages:Array(String)}, stage)) AS max_index,
           groupUniqArrayIf((entered_version, indexOf({stages:Array(String)}, stage),
                             dateDiff('millisecond', entered_at, assumeNotNull(left_at))),
                            left_at IS NOT NULL) AS closed
    FROM {db}.deal_stage_intervals
    WHERE deal_id IN (SELECT deal_id FROM {db}.deals WHERE {opened_in})
    GROUP BY deal_id
""")

# One pass over the cohort: per stage k (arrays over the stages) the deals that reached it,
# are in it now, their amount, and the milliseconds and number of the completed stays in it.
STAGES_SQL = Sql("""
WITH range(1, length({stages:Array(String)}) + 1) AS ks
SELECT sumForEach(arrayMap(k -> toUInt64(s.max_index >= k), ks)) AS reached,
       sumForEach(arrayMap(k -> toUInt64(indexOf({stages:Array(String)}, c.stage) = k), ks))
           AS current,
       sumForEach(arrayMap(k -> if(s.max_index >= k, c.amount, 0), ks)) AS amount,
       sumForEach(arrayMap(k -> arraySum(arrayMap(x -> x.3, arrayFilter(x -> x.2 = k, s.closed))),
                           ks)) AS stay_ms,
       sumForEach(arrayMap(k -> toUInt64(arrayCount(x -> x.2 = k, s.closed)), ks)) AS stays
FROM ({cohort}) AS c LEFT JOIN ({stays}) AS s ON s.deal_id = c.deal_id
""")

# The cohort's lost deals; no amounts needed, so the filtered deals without their pricing.
LOST_SQL = Sql("""
SELECT lost_at_stage, lost_reason, count() AS deals
FROM {db}.deals FINAL
WHERE {conditions} AND pipeline_id = {pipeline:String} AND {opened_in} AND status = 'lost'
GROUP BY lost_at_stage, lost_reason
""")


UNSPECIFIED = "unspecified"  # a lost deal without a reason
LOST_REASON = f"if(lost_reason = '', '{UNSPECIFIED}', lost_reason)"  # as the report groups it


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def sales_funnel(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    pipeline = load_pipeline(ch, q.pipeline)
    names = [s.name for s in pipeline.funnel_stages]
    opened_in = in_period("opened_at", q.period)
    cohort = COHORT.fill(
        deals=filtered_deals(q),  # amounts in the base currency
        opened_in=opened_in,
    ).bind(pipeline=pipeline.id)
    stays = STAYS_SQL.fill(opened_in=opened_in)
    with ch.consistent():
        (totals,) = ch.select(STAGES_SQL.fill(cohort=cohort, stays=stays).bind(stages=names))
        lost_rows = ch.select(
            LOST_SQL.fill(conditions=deal_conditions(q), opened_in=opened_in).bind(
                pipeline=pipeline.id
            )
        )

    def at(figure: str, k: int) -> Any:
        """The figure of stage k; an empty cohort sums to empty arrays: zero."""
        values = totals[figure]
        return values[k - 1] if values else 0

    cohort_link = q.linker("deals", basis="opened", pipeline=pipeline.id)
    stages, first, previous = [], 0, 0
    for k, name in enumerate(names, start=1):
        reached = at("reached", k)
        if k == 1:
            first = previous = reached
        completed = at("stays", k)
        stages.append(
            {
                "stage": name,
                "reached": reached,
                "current": at("current", k),
                "conversion_prev": ratio(reached, previous),
                "conversion_first": ratio(reached, first),
                "amount": Decimal(at("amount", k)),
                # The mean as ClickHouse's avg makes it (the sum as Float64 ÷ the count).
                "avg_duration_seconds": round(float(at("stay_ms", k)) / completed / 1000, 3)
                if completed
                else None,
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
    # A stable order, not the engine's grouping order: stages as the pipeline runs (any
    # stage it no longer has after, by name), reasons by deals, most first, then by name.
    order = {name: k for k, name in enumerate(names)}
    by_stage = dict(sorted(by_stage.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    by_reason = dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0])))
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
