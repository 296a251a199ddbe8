"""Reports about the sales team and the pipeline: managers with plan and run-rate forecast,
and the weighted pipeline (docs/reports.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.common import elapsed_days, filtered_deals, manager_payments
from analytics.application.reports.filters import deal_conditions
from analytics.application.reports.pipelines import load_pipelines
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql

ZERO = Decimal(0)

# Counts and dates only: the deals as filtered, not priced (`filtered_deals` prices each).
MANAGERS_SQL = Sql("""
WITH deals AS (SELECT manager_id, opened_at, closed_at, status FROM {db}.deals FINAL
               WHERE {conditions})
SELECT manager_id,
       countIf(opened_at >= {start:DateTime64(3)} AND opened_at < {end:DateTime64(3)})
           AS opened,
       countIf(opened_at >= {start:DateTime64(3)} AND opened_at < {end:DateTime64(3)}
               AND status = 'won') AS opened_won,
       countIf(status = 'won' AND closed_at >= {start:DateTime64(3)}
               AND closed_at < {end:DateTime64(3)}) AS won,
       avgIf(dateDiff('second', opened_at, closed_at), status = 'won'
             AND closed_at >= {start:DateTime64(3)} AND closed_at < {end:DateTime64(3)})
           AS cycle_seconds
FROM deals WHERE manager_id != '' GROUP BY manager_id
""")

REVENUE_SQL = Sql("""
SELECT manager_id, sum(amount) AS revenue FROM ({payments})
WHERE manager_id != '' GROUP BY manager_id
""")

TASKS_SQL = Sql("""
SELECT manager_id,
       countIf(status = 'completed' AND closed_at >= {start:DateTime64(3)}
               AND closed_at < {end:DateTime64(3)}) AS tasks_done,
       countIf(due_at >= {start:DateTime64(3)} AND due_at < {end:DateTime64(3)}
               AND due_at < {now:DateTime64(3)}
               AND (status = 'scheduled' OR (status = 'completed' AND closed_at > due_at)))
           AS tasks_overdue
FROM {db}.tasks FINAL WHERE manager_id != '' GROUP BY manager_id
""")

PLANS_SQL = Sql("""
SELECT manager_id, month, amount FROM {db}.plans FINAL
WHERE month >= {first_month:Date} AND month <= {last_month:Date}
""")
NAMES_SQL = Sql("SELECT manager_id, name FROM {db}.managers FINAL")


def _plan_for_period(plans: list[dict[str, Any]], q: ReportQuery) -> dict[str, Decimal]:
    """Monthly plans prorated by the days of each month the period covers (in its zone)."""
    first = q.period.local(q.period.start).date()
    last = q.period.local(q.period.end - timedelta(microseconds=1)).date()
    out: dict[str, Decimal] = {}
    for p in plans:
        month = p["month"]
        next_month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        days_in_month = (next_month - month).days
        covered = (min(last, next_month - timedelta(days=1)) - max(first, month)).days + 1
        if covered > 0:
            share = Decimal(p["amount"]) * covered / days_in_month
            out[p["manager_id"]] = out.get(p["manager_id"], ZERO) + share
    return {m: v.quantize(Decimal("0.01")) for m, v in out.items()}


def forecast_note(q: ReportQuery, elapsed: float) -> str | None:
    """Why there is no forecast, or None when there is: a run rate over less than a full day
    (or over a period not started yet) multiplies noise — 34 220 % of plan an hour in."""
    if elapsed <= 0:
        return "no forecast: the period has not started"
    if elapsed < min(1.0, q.period.days):
        return "no forecast until one full day of the period has elapsed"
    return None


def run_rate(revenue: Decimal, q: ReportQuery, elapsed: float) -> Decimal:
    return (revenue * Decimal(q.period.days) / Decimal(elapsed)).quantize(Decimal("0.01"))


def managers(ch: ClickHouse, q: ReportQuery, now: datetime | None = None) -> dict[str, Any]:
    """Per manager: deals opened in the period and how many of those were won (cohort
    conversion), deals won in the period, revenue (payments), average cycle opened → won in
    days, tasks done and overdue, activity (tasks done per day), the plan for the period and
    the run-rate forecast = revenue so far × period days ÷ elapsed days, from one full day of
    the period on (before, null with `forecast_note` saying why). Links: `drill` (deals
    opened), `drill_opened_won`, `drill_won`, `drill_revenue` (deals with a payment)."""
    now = now or datetime.now(UTC)
    first_month = q.period.local(q.period.start).date().replace(day=1)
    last_month = q.period.local(q.period.end - timedelta(microseconds=1)).date().replace(day=1)
    period = q.period.params()
    with ch.consistent():
        deal_rows = {
            r["manager_id"]: r
            for r in ch.select(MANAGERS_SQL.fill(conditions=deal_conditions(q)).bind(**period))
        }
        revenue = {
            r["manager_id"]: Decimal(r["revenue"])
            for r in ch.select(REVENUE_SQL.fill(payments=manager_payments(q)))
        }
        tasks = {
            r["manager_id"]: r
            for r in ch.select(TASKS_SQL.bind(now=now.replace(tzinfo=None), **period))
        }
        plans = _plan_for_period(
            ch.select(PLANS_SQL.bind(first_month=first_month, last_month=last_month)), q
        )
        names = {r["manager_id"]: r["name"] for r in ch.select(NAMES_SQL)}
    if q.manager:
        ids = {q.manager}
    else:
        ids = (
            deal_rows.keys()
            | revenue.keys()
            | plans.keys()
            | {m for m, t in tasks.items() if t["tasks_done"] or t["tasks_overdue"]}
        )
    elapsed = elapsed_days(q, now)
    note = forecast_note(q, elapsed)
    rows = []
    for manager in sorted(ids):
        d = deal_rows.get(manager, {})
        t = tasks.get(manager, {})
        rev = revenue.get(manager, ZERO)
        plan = plans.get(manager)
        forecast = None if note else run_rate(rev, q, elapsed)
        cycle = d.get("cycle_seconds")
        opened = d.get("opened", 0)
        deals = q.linker("deals", manager=manager)
        rows.append(
            {
                "manager_id": manager,
                "name": names.get(manager, ""),
                "deals_opened": opened,
                "deals_opened_won": d.get("opened_won", 0),
                "conversion": round(d.get("opened_won", 0) / opened, 4) if opened else None,
                "deals_won": d.get("won", 0),
                "revenue": rev,
                # avgIf over no rows is NaN: no deal won in the period, no cycle.
                "avg_cycle_days": None
                if cycle is None or cycle != cycle
                else round(cycle / 86400, 2),
                "tasks_done": t.get("tasks_done", 0),
                "tasks_overdue": t.get("tasks_overdue", 0),
                "activity_per_day": round(t.get("tasks_done", 0) / q.period.days, 2),
                "plan": plan,
                "forecast": forecast,
                "forecast_to_plan_pct": round(float(forecast / plan * 100), 2)
                if plan and forecast is not None
                else None,
                "drill": deals(basis="opened"),
                "drill_opened_won": deals(basis="opened", status="won"),
                "drill_won": deals(basis="won"),
                "drill_revenue": deals(basis="paid"),  # deals with a payment in the period
            }
        )
    return {
        **q.header("managers"),
        "elapsed_days": round(elapsed, 4),
        "forecast_note": note,
        "rows": rows,
    }


WEIGHTED_SQL = Sql("""
WITH deals AS ({deals})
SELECT pipeline_id, stage, count() AS deals, sum(amount_base) AS amount
FROM deals WHERE status = 'open' AND opened_at < {end:DateTime64(3)}
GROUP BY pipeline_id, stage
""")


def weighted_pipeline(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    """Open deals now (opened before the period's end): Σ amount × the stage's probability,
    per open stage of each defined pipeline. Each count links to its deals."""
    weighted = WEIGHTED_SQL.fill(deals=filtered_deals(q)).bind(end=q.period.params()["end"])
    with ch.consistent():
        pipelines = load_pipelines(ch)
        rows = ch.select(weighted)
    by_key = {(r["pipeline_id"], r["stage"]): r for r in rows}
    out = []
    for pipeline in pipelines.values():
        for stage in pipeline.stages:
            r = by_key.pop((pipeline.id, stage.name), None)
            if r is None or stage.kind != "open":
                continue
            amount = Decimal(r["amount"])
            out.append(
                {
                    "key": f"{pipeline.id}/{stage.name}",
                    "pipeline": pipeline.id,
                    "stage": stage.name,
                    "probability": stage.probability,
                    "deals": r["deals"],
                    "amount": amount,
                    "weighted": (amount * Decimal(str(stage.probability))).quantize(
                        Decimal("0.01")
                    ),
                    "drill": q.drill(
                        "deals", basis="open_now", pipeline=pipeline.id, stage=stage.name
                    ),
                }
            )
    totals = {
        "deals": sum(r["deals"] for r in out),
        "amount": sum((r["amount"] for r in out), ZERO),
        "weighted": sum((r["weighted"] for r in out), ZERO),
    }
    # Beside `totals`, which keeps its shape: figure → link.
    links = {"deals": q.drill("deals", basis="open_now", open_stage=True)}
    return {
        **q.header("weighted-pipeline"),
        "totals": totals,
        "drill_totals": links,
        "rows": out,
    }
