"""Reports about money coming in: dynamics, active client base with the win-back list,
repeat sales, ABC of clients, cohorts and client profitability (DESIGN §6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.reports.common import (
    base_params,
    bucket_period,
    bucket_sql,
    bucket_starts,
    filtered_deals,
    payments_between,
)
from analytics.reports.query import ReportQuery

ZERO = Decimal(0)


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def dynamics(ch: ClickHouse, q: ReportQuery, bucket: str = "day") -> dict[str, Any]:
    """Revenue (payments) and won deals per day / week / month of the period."""
    deals_sql, _ = filtered_deals(q)
    params = base_params(q)
    with ch.consistent():
        revenue = ch.rows(
            f"SELECT {bucket_sql('paid_at', bucket)} AS bucket, sum(amount) AS revenue, "
            f"count() AS payments FROM ({payments_between(q)}) GROUP BY bucket",
            params,
        )
        won = ch.rows(
            f"SELECT {bucket_sql('closed_at', bucket)} AS bucket, count() AS won, "
            f"sum(amount) AS won_amount FROM ({deals_sql}) WHERE status = 'won' "
            "AND closed_at >= {start:DateTime64(3)} AND closed_at < {end:DateTime64(3)} "
            "GROUP BY bucket",
            params,
        )
    by_revenue = {r["bucket"]: r for r in revenue}
    by_won = {r["bucket"]: r for r in won}
    rows = []
    for start in bucket_starts(q, bucket):
        r, w = by_revenue.get(start, {}), by_won.get(start, {})
        rows.append(
            {
                "bucket": start.isoformat(),
                "revenue": Decimal(r.get("revenue", ZERO)),
                "payments": r.get("payments", 0),
                "won": w.get("won", 0),
                "won_amount": Decimal(w.get("won_amount", ZERO)),
                "drill": q.drill("deals", within=bucket_period(q, start, bucket), basis="won"),
            }
        )
    totals = {
        "revenue": sum((r["revenue"] for r in rows), ZERO),
        "payments": sum(r["payments"] for r in rows),
        "won": sum(r["won"] for r in rows),
        "won_amount": sum((r["won_amount"] for r in rows), ZERO),
        "drill": q.drill("deals", basis="won"),
    }
    return {**q.header("dynamics"), "bucket": bucket, "totals": totals, "rows": rows}


ACTIVE_SQL = """
WITH now_paid AS ({current}), before_paid AS ({previous})
SELECT
    (SELECT uniqExactIf(client_id, client_id != '') FROM now_paid) AS active,
    (SELECT uniqExactIf(client_id, client_id != '') FROM before_paid) AS active_before
"""

WINBACK_SQL = """
WITH now_paid AS ({current}), before_paid AS ({previous})
SELECT client_id, sum(amount) AS revenue_before, max(paid_at) AS last_paid_at
FROM before_paid
WHERE client_id != '' AND client_id NOT IN (SELECT client_id FROM now_paid)
GROUP BY client_id ORDER BY revenue_before DESC, client_id
"""


def active_clients(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    """АКБ: distinct clients with a payment in the period; the win-back list: clients who paid
    in the previous period (same length just before) but not in this one."""
    previous = q.period.previous_period()
    params = base_params(q) | {
        "pstart": previous.params()["start"],
        "pend": previous.params()["end"],
    }
    sql = {"current": payments_between(q), "previous": payments_between(q, "pstart", "pend")}
    with ch.consistent():
        counts = ch.rows(ACTIVE_SQL.format(**sql), params)[0]
        winback = ch.rows(WINBACK_SQL.format(**sql), params)
    return {
        **q.header("active-clients"),
        "totals": {
            "active_clients": counts["active"],
            "active_clients_previous_period": counts["active_before"],
            "win_back": len(winback),
            "drill": q.drill("clients", basis="paid"),
        },
        "win_back": [
            {
                "client_id": r["client_id"],
                "revenue_previous_period": Decimal(r["revenue_before"]),
                "last_paid_at": r["last_paid_at"],
                "drill": q.drill("deals", client=r["client_id"]),
            }
            for r in winback
        ],
    }


REPEAT_SQL = """
WITH deals AS ({deals}),
won_in AS (
    SELECT deal_id, client_id, closed_at FROM deals
    WHERE status = 'won' AND client_id != ''
      AND closed_at >= {{start:DateTime64(3)}} AND closed_at < {{end:DateTime64(3)}}
),
won_all AS (
    SELECT deal_id, client_id, closed_at FROM {{db}}.deals FINAL
    WHERE status = 'won' AND client_id != '' AND closed_at < {{end:DateTime64(3)}}
)
SELECT
    (SELECT count() FROM won_in) AS won_deals,
    (SELECT countIf(earlier > 0) FROM (
        SELECT w.deal_id AS deal_id, countIf(a.closed_at < w.closed_at) AS earlier
        FROM won_in AS w INNER JOIN won_all AS a ON a.client_id = w.client_id
        GROUP BY w.deal_id)) AS repeat_deals,
    (SELECT uniqExact(client_id) FROM won_in) AS clients,
    (SELECT count() FROM (
        SELECT client_id FROM won_all
        WHERE client_id IN (SELECT client_id FROM won_in)
        GROUP BY client_id HAVING count() >= 2)) AS repeat_clients
"""


def repeat_sales(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    """Won deals in the period whose client had an earlier won deal ÷ all won deals in the
    period; clients with ≥ 2 won deals (up to the period's end) ÷ clients with a won deal in
    the period."""
    deals_sql, _ = filtered_deals(q)
    r = ch.rows(REPEAT_SQL.format(deals=deals_sql), base_params(q))[0]
    return {
        **q.header("repeat-sales"),
        "totals": {
            "won_deals": r["won_deals"],
            "repeat_deals": r["repeat_deals"],
            "repeat_deal_share": ratio(r["repeat_deals"], r["won_deals"]),
            "clients_with_won_deal": r["clients"],
            "repeat_clients": r["repeat_clients"],
            "repeat_client_share": ratio(r["repeat_clients"], r["clients"]),
            "drill": q.drill("deals", basis="won"),
        },
    }


def _revenue_by_client(ch: ClickHouse, q: ReportQuery) -> list[dict[str, Any]]:
    return ch.rows(
        f"SELECT client_id, sum(amount) AS revenue, count() AS payments "
        f"FROM ({payments_between(q)}) WHERE client_id != '' GROUP BY client_id",
        base_params(q),
    )


def abc(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    """Clients by revenue in the period, descending (ties by id); `before` is the share of all
    revenue held by the clients ranked above: A if before < 80 %, B if < 95 %, else C."""
    rows = sorted(_revenue_by_client(ch, q), key=lambda r: (-r["revenue"], r["client_id"]))
    total = sum((Decimal(r["revenue"]) for r in rows), ZERO)
    out, above = [], ZERO
    summary = {c: {"key": c, "clients": 0, "revenue": ZERO} for c in "ABC"}
    for rank, r in enumerate(rows, start=1):
        before = above / total * 100 if total else ZERO
        cls = "A" if before < 80 else "B" if before < 95 else "C"
        revenue = Decimal(r["revenue"])
        out.append(
            {
                "client_id": r["client_id"],
                "rank": rank,
                "revenue": revenue,
                "share_before_pct": float(round(before, 4)),
                "class": cls,
                "drill": q.drill("deals", client=r["client_id"], basis="paid"),
            }
        )
        summary[cls]["clients"] += 1
        summary[cls]["revenue"] += revenue
        above += revenue
    return {
        **q.header("abc"),
        "totals": {"clients": len(out), "revenue": total},
        "classes": list(summary.values()),
        "rows": out,
    }


def client_profitability(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    """Per client: revenue (payments in the period), cost (the cost of the client's deals won
    in the period) and margin = revenue − cost."""
    deals_sql, _ = filtered_deals(q)
    params = base_params(q)
    with ch.consistent():
        revenue = {r["client_id"]: Decimal(r["revenue"]) for r in _revenue_by_client(ch, q)}
        costs = {
            r["client_id"]: Decimal(r["cost"])
            for r in ch.rows(
                f"SELECT client_id, sum(cost) AS cost FROM ({deals_sql}) "
                "WHERE status = 'won' AND client_id != '' AND closed_at >= {start:DateTime64(3)} "
                "AND closed_at < {end:DateTime64(3)} GROUP BY client_id",
                params,
            )
        }
    rows = []
    for client in sorted(revenue.keys() | costs.keys()):
        rev, cost = revenue.get(client, ZERO), costs.get(client, ZERO)
        rows.append(
            {
                "client_id": client,
                "revenue": rev,
                "cost": cost,
                "margin": rev - cost,
                "drill": q.drill("deals", client=client),
            }
        )
    rows.sort(key=lambda r: (-r["margin"], r["client_id"]))
    totals = {k: sum((r[k] for r in rows), ZERO) for k in ("revenue", "cost", "margin")}
    return {**q.header("client-profitability"), "totals": totals, "rows": rows}
