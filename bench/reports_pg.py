"""PostgreSQL baseline for the reports (issue 11): the facts the reports read copied into
Debian's PostgreSQL (bench/pg_copy.py), the same reports computed there in SQL for the same
period (bench/pg_queries.py), each answer checked against the API's, and both timed as
bench/reports.py times a report: the median of 5 after a warm-up.

`ratio` is PostgreSQL's median over the API's (how many times faster the ClickHouse path is,
HTTP included); `agrees` whether both gave the same figures (a disagreement is noted loudly
and never meets the goal)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import httpx
import psycopg

from bench import data, reports, stack
from bench.pg_copy import SESSION, load, postgres
from bench.pg_queries import (
    GROUP_BY,
    cents,
    moment,
    pg_abc,
    pg_active_clients,
    pg_attribution,
    pg_client_profitability,
    pg_dynamics,
    pg_repeat_sales,
    pg_sales_funnel,
    spend_channel,
)
from bench.record import Measurement, emit, note
from bench.stack import ReportStack

GOAL_RATIO = 20.0
GOAL = "ClickHouse path ≥ 20× faster than PostgreSQL on the same facts"
DAY = timedelta(days=1)


# --- the API's answers in the shape of pg_queries' ------------------------------------------


def api_sales_funnel(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "stages": [
            [s["stage"], s["reached"], s["current"], cents(s["amount"]), s["avg_duration_seconds"]]
            for s in body["stages"]
        ],
        "lost_by_stage": {r["stage"]: r["deals"] for r in body["lost"]["by_stage"]},
        "lost_by_reason": {r["reason"]: r["deals"] for r in body["lost"]["by_reason"]},
    }


def api_abc(body: dict[str, Any]) -> dict[str, Any]:
    rows = [
        [r["client_id"], r["rank"], cents(r["revenue"]), r["share_before_pct"], r["class"]]
        for r in body["rows"]
    ]
    totals = body["totals"]
    return {"clients": totals["clients"], "revenue": cents(totals["revenue"]), "rows": rows}


def api_active_clients(body: dict[str, Any]) -> dict[str, Any]:
    totals = body["totals"]
    return {
        "active": totals["active_clients"],
        "active_before": totals["active_clients_previous_period"],
        "win_back": [
            [r["client_id"], cents(r["revenue_previous_period"]), moment(r["last_paid_at"])]
            for r in body["win_back"]
        ],
    }


def api_attribution(body: dict[str, Any]) -> dict[str, Any]:
    return {
        r[body["group_by"]]: {
            "leads": r["leads"],
            "deals": r["deals"],
            "won": r["won"],
            "revenue": cents(r["revenue"]),
            "spend": cents(r["spend"]),
        }
        for r in body["rows"]
    }


def api_dynamics(body: dict[str, Any]) -> dict[str, Any]:
    figures = ("revenue", "payments", "won", "won_amount")
    money = {"revenue", "won_amount"}
    rows = [
        [r["bucket"], *(cents(r[f]) if f in money else r[f] for f in figures)] for r in body["rows"]
    ]
    totals = [cents(body["totals"][f]) if f in money else body["totals"][f] for f in figures]
    return {"rows": rows, "totals": totals}


def api_repeat_sales(body: dict[str, Any]) -> dict[str, Any]:
    totals = body["totals"]
    names = {"clients": "clients_with_won_deal"}
    keys = ("won_deals", "repeat_deals", "clients", "repeat_clients")
    return {k: totals[names.get(k, k)] for k in keys}


def api_client_profitability(body: dict[str, Any]) -> dict[str, Any]:
    figures = ("revenue", "cost", "margin")
    return {
        "rows": [[r["client_id"], *(cents(r[f]) for f in figures)] for r in body["rows"]],
        "totals": [cents(body["totals"][f]) for f in figures],
    }


def difference(ours: Any, theirs: Any, where: str = "") -> str | None:
    """Where two answers first differ (None: equal), for the note on a disagreement."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(ours.keys() | theirs.keys(), key=str):
            if key not in ours or key not in theirs:
                return f"{where}/{key}: only in {'PostgreSQL' if key in ours else 'the API'}"
            found = difference(ours[key], theirs[key], f"{where}/{key}")
            if found:
                return found
        return None
    if isinstance(ours, list) and isinstance(theirs, list):
        for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
            found = difference(a, b, f"{where}[{i}]")
            if found:
                return found
        if len(ours) != len(theirs):
            return f"{where}: {len(ours)} rows in PostgreSQL, {len(theirs)} from the API"
        return None
    return None if ours == theirs else f"{where}: PostgreSQL {ours!r}, API {theirs!r}"


# --- the part -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    report: str
    query: dict[str, str]
    pg: Callable[[psycopg.Connection[Any], dict[str, Any]], dict[str, Any]]
    api: Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Baseline:
    """The loaded PostgreSQL database and how it was filled."""

    conn: psycopg.Connection[Any]
    version: str
    rows: dict[str, int]
    load_seconds: float


def service_default(name: str) -> Any:
    """A setting of the analytics service as the bench stack runs it (its default)."""
    from analytics.settings import AnalyticsSettings

    return AnalyticsSettings.model_fields[name].default


def cases() -> list[Case]:
    # The lookback and half-life asked for explicitly, so both sides surely use the same.
    settings = {
        "lookback_days": str(service_default("attribution_lookback_days")),
        "half_life_days": str(service_default("time_decay_half_life_days")),
    }
    out = [
        Case("sales-funnel", "sales-funnel", {}, pg_sales_funnel, api_sales_funnel),
        Case("abc", "abc", {}, pg_abc, api_abc),
        Case("active-clients", "active-clients", {}, pg_active_clients, api_active_clients),
        Case("dynamics", "dynamics", {"bucket": "day"}, pg_dynamics, api_dynamics),
        Case("repeat-sales", "repeat-sales", {}, pg_repeat_sales, api_repeat_sales),
        Case(
            "client-profitability",
            "client-profitability",
            {},
            pg_client_profitability,
            api_client_profitability,
        ),
    ]
    classify = spend_channel()
    for model in reports.attribution_models():
        out.append(
            Case(
                f"attribution {model}",
                "attribution",
                {"model": model, "group_by": GROUP_BY} | settings,
                partial(pg_attribution, model=model, classify=classify),
                api_attribution,
            )
        )
    return out


def pg_params(period: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    """The bound values of the PostgreSQL queries for the period the API is asked for (dates:
    midnight in the service's zone, UTC), and the one just before it."""
    assert service_default("tz") == "UTC"
    start = datetime.fromisoformat(period["from"]).replace(tzinfo=UTC)
    end = datetime.fromisoformat(period["to"]).replace(tzinfo=UTC)
    half_life = Decimal(query.get("half_life_days", "0"))
    return {
        "start": start,
        "end": end,
        "pstart": start - (end - start),
        "pend": start,
        "first_day": start.date(),  # ad spend is per day: the days the period covers
        "end_day": end.date() if end.time() == datetime.min.time() else end.date() + DAY,
        "base": service_default("base_currency"),
        "lookback": int(query.get("lookback_days", "0")),
        "half_life_ms": float(half_life * 86_400_000),
    }


def run() -> list[Measurement]:
    out: list[Measurement] = []
    period = dict(zip(("from", "to"), data.last_year(), strict=True))
    with stack.report_stack() as s, postgres() as conn:
        with s.operator() as http:
            started = time.monotonic()
            rows = load(conn, http)
            seconds = time.monotonic() - started
        shown = conn.execute("SHOW server_version").fetchone()
        pg = Baseline(conn, str(shown[0]).split()[0] if shown else "?", rows, seconds)
        note(f"PostgreSQL {pg.version}: {sum(rows.values()):,} rows copied in {seconds:.0f}s")
        with s.viewer() as http:
            for case in cases():
                try:
                    out.append(measure(s, http, pg, case, period))
                except Exception as exc:  # one broken report must not hide the others
                    note(f"report {case.name} vs PostgreSQL: FAILED {exc!r}")
    return out


def measure(
    s: ReportStack, http: httpx.Client, pg: Baseline, case: Case, period: dict[str, str]
) -> Measurement:
    api_times, response = reports.runs(
        lambda: reports.request(http, case.report, period | case.query)
    )
    params = pg_params(period, case.query)
    pg_times, ours = reports.runs(lambda: case.pg(pg.conn, params))
    differs = difference(ours, case.api(response.json()))
    if differs:
        note(f"!! report {case.name}: PostgreSQL and the API DISAGREE at {differs}")
    api_ms, pg_ms = statistics.median(api_times), statistics.median(pg_times)
    ratio = pg_ms / api_ms if api_ms else None
    return emit(
        Measurement(
            name=f"report {case.name} vs PostgreSQL",
            figure=round(api_ms, 1),
            unit="ms",
            size=s.size() | {"pg_rows": sum(pg.rows.values())},
            goal=GOAL,
            met=ratio is not None and ratio >= GOAL_RATIO and differs is None,
            baseline=round(pg_ms, 1),
            baseline_name=f"PostgreSQL {pg.version}",
            ratio=round(ratio, 2) if ratio is not None else None,
            extra={
                "agrees": differs is None,
                "difference": differs,
                "runs_ms": [round(t, 1) for t in api_times],
                "baseline_runs_ms": [round(t, 1) for t in pg_times],
                "period": period,
                "query": case.query,
                "pg_rows": pg.rows,
                "pg_load_seconds": round(pg.load_seconds, 1),
                "pg_session": SESSION,
                "load_average": round(os.getloadavg()[0], 1),  # other work on the machine
            },
        )
    )


if __name__ == "__main__":
    run()
