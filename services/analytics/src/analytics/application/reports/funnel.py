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
from analytics.application.reports.common import filtered_deals, furthest_stage, in_period
from analytics.application.reports.pipelines import load_pipeline
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql

# One pass over the cohort (the deals opened in the period in the pipeline, priced), grouped
# by what the figures need: the furthest stage reached, the current stage and, for a lost
# deal, where and why; with the completed stays of each group's deals per stage (index →
# milliseconds, → count). Both come from the summary of stays on each deal's latest row
# (`stages_entered`, `closed_stay_*`: the projection keeps it as it writes the stays), so no
# stay is read. The summary holds each completed stay once (one per move), as the stays'
# own rows, deduplicated, would count them.
FUNNEL_SQL = Sql("""
SELECT reach, current, lost, lost_stage AS lost_at_stage, reason AS lost_reason,
       count() AS deals, sum(amount_base) AS amount,
       sumMap(stay_stages, stay_ms, arrayMap(x -> toUInt64(1), stay_stages)) AS closed
FROM (
    SELECT {reach} AS reach, indexOf({stages:Array(String)}, c.stage) AS current,
           c.status = 'lost' AS lost, if(lost, c.lost_at_stage, '') AS lost_stage,
           if(lost, c.lost_reason, '') AS reason, c.amount_base AS amount_base,
           arrayMap(s -> indexOf({stages:Array(String)}, s), c.closed_stay_stages) AS stay_stages,
           arrayMap((a, b) -> dateDiff('millisecond', a, b),
                    c.closed_stay_entered_at, c.closed_stay_left_at) AS stay_ms
    FROM ({cohort}) AS c
)
GROUP BY reach, current, lost, lost_at_stage, lost_reason
""")


UNSPECIFIED = "unspecified"  # a lost deal without a reason
LOST_REASON = f"if(lost_reason = '', '{UNSPECIFIED}', lost_reason)"  # as the report groups it


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def sales_funnel(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    pipeline = load_pipeline(ch, q.pipeline)
    names = [s.name for s in pipeline.funnel_stages]
    opened_in = in_period("opened_at", q.period)
    cohort = Sql("pipeline_id = {pipeline:String} AND {opened_in}").fill(opened_in=opened_in)
    cohort = cohort.bind(pipeline=pipeline.id)
    rows = ch.select(
        FUNNEL_SQL.fill(
            cohort=filtered_deals(q, narrow=cohort), reach=furthest_stage("stages", "c.")
        ).bind(stages=names)
    )  # amounts in the base currency
    totals = _per_stage(rows, len(names))

    def at(figure: str, k: int) -> Any:
        return totals[figure][k - 1]

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
    for r in rows:
        if not r["lost"]:
            continue
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


def _per_stage(rows: list[dict[str, Any]], stages: int) -> dict[str, list[Any]]:
    """The figures per stage (1 … stages) from the groups of the cohort: a group's deals
    reached every stage up to its furthest, are now in its current one; its completed stays
    are per stage index (0: a stage the pipeline no longer has)."""
    out: dict[str, list[Any]] = {
        "reached": [0] * stages,
        "current": [0] * stages,
        "amount": [Decimal(0)] * stages,
        "stay_ms": [0] * stages,
        "stays": [0] * stages,
    }
    for r in rows:
        for k in range(min(r["reach"], stages)):
            out["reached"][k] += r["deals"]
            out["amount"][k] += r["amount"]
        if 0 < r["current"] <= stages:
            out["current"][r["current"] - 1] += r["deals"]
        for k, ms, count in zip(*r["closed"], strict=True):
            if 0 < k <= stages:
                out["stay_ms"][k - 1] += ms
                out["stays"][k - 1] += count
    return out
