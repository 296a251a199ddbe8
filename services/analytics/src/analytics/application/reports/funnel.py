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

import orjson

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.common import filtered_deals, in_period
from analytics.application.reports.filters import deal_conditions
from analytics.application.reports.pipelines import load_pipeline
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql

# The cohort (the deals opened in the period in one pipeline, priced) in two groupings, each
# an array of one row: `groups`, by the stages entered (the text the row keeps of them,
# `stages_json`: cheaper to read and group than the arrays), the current stage and, for a lost
# deal, where and why (a few dozen groups: the stage indices are found for those in Python,
# not for every deal); `stays`, the completed stays of its deals per stage, milliseconds and
# count. Both come from the summary of stays on each deal's latest row (`stages_entered`,
# `closed_stay_*`: the projection keeps it as it writes the stays), so no stay row is read.
# The summary holds each completed stay once (one per move), as the stays' own rows,
# deduplicated, would count them. The stays need no price: their cohort is not priced.
FUNNEL_SQL = Sql("""
SELECT (
    SELECT groupArray((entered, stage, lost, lost_stage, reason, deals, amount)) FROM (
        SELECT c.stages_json AS entered, c.stage AS stage, c.status = 'lost' AS lost,
               if(lost, c.lost_at_stage, '') AS lost_stage, if(lost, c.lost_reason, '') AS reason,
               count() AS deals, sum(c.amount_base) AS amount
        FROM ({cohort}) AS c
        GROUP BY entered, stage, lost, lost_stage, reason
    )
) AS groups, (
    SELECT groupArray((stage, ms, stays)) FROM (
        SELECT stage, sum(dateDiff('millisecond', entered_at, left_at)) AS ms, count() AS stays
        FROM (SELECT closed_stay_stages, closed_stay_entered_at, closed_stay_left_at
              FROM {db}.deals FINAL WHERE {conditions})
        ARRAY JOIN closed_stay_stages AS stage, closed_stay_entered_at AS entered_at,
                   closed_stay_left_at AS left_at
        GROUP BY stage
    )
) AS stays
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
    [read] = ch.select(
        FUNNEL_SQL.fill(
            cohort=filtered_deals(q, narrow=cohort, computed=("stages_json",)),
            conditions=deal_conditions(q) & cohort,
        )
    )  # amounts in the base currency
    rows = _groups(read["groups"], names)
    totals = _per_stage(rows, _stays(read["stays"], names), len(names))

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


Row = dict[str, Any]


def _groups(groups: list[tuple[Any, ...]], names: list[str]) -> list[Row]:
    """The cohort's groups (FUNNEL_SQL `groups`) with their stages as indices (1 …; 0: a stage
    the pipeline does not have): `reach`, the furthest entered (a skipped stage counts as
    passed), and `current`."""
    index = {name: k for k, name in enumerate(names, start=1)}
    return [
        {
            "reach": max((index.get(s, 0) for s in orjson.loads(entered)), default=0),
            "current": index.get(stage, 0),
            "lost": lost,
            "lost_at_stage": lost_stage,
            "lost_reason": reason,
            "deals": deals,
            "amount": amount,
        }
        for entered, stage, lost, lost_stage, reason, deals, amount in groups
    ]


def _stays(stays: list[tuple[str, int, int]], names: list[str]) -> dict[int, tuple[int, int]]:
    """The completed stays (FUNNEL_SQL `stays`) by stage index: milliseconds and count; a stage
    the pipeline no longer has is left out."""
    index = {name: k for k, name in enumerate(names, start=1)}
    return {index[stage]: (ms, count) for stage, ms, count in stays if stage in index}


def _per_stage(
    rows: list[Row], stays: dict[int, tuple[int, int]], stages: int
) -> dict[str, list[Any]]:
    """The figures per stage (1 … stages) from the groups of the cohort: a group's deals
    reached every stage up to its furthest, are now in its current one; and the completed
    stays per stage."""
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
    for k, (ms, count) in stays.items():
        out["stay_ms"][k - 1] += ms
        out["stays"][k - 1] += count
    return out
