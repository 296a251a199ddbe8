"""Cohorts of clients by the month of their first payment, and how many pay again in the
months after; and the distribution of won-deal amounts (DESIGN §6)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.reports.common import (
    base_params,
    bucket_period,
    bucket_sql,
    filtered_deals,
    payments_between,
)
from analytics.reports.query import ReportQuery
from crm_contracts.runtime.errors import FieldError

COHORTS_SQL = """
WITH paid AS ({paid}),
firsts AS (SELECT client_id, min(month) AS first_month FROM paid GROUP BY client_id)
SELECT f.first_month AS cohort, dateDiff('month', f.first_month, p.month) AS offset,
       uniqExact(p.client_id) AS clients
FROM firsts AS f INNER JOIN paid AS p ON p.client_id = f.client_id
WHERE f.first_month >= {{cohort_start:Date}}
GROUP BY cohort, offset ORDER BY cohort, offset
"""


def cohorts(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    """Clients whose first payment ever fell in a month of the period, by that month; for
    each later month up to the period's end, the share of the cohort that paid in it."""
    params = base_params(q) | {"ever": q.period.params()["start"].replace(year=1970)}
    paid = (
        f"SELECT client_id, {bucket_sql('paid_at', 'month')} AS month "
        f"FROM ({payments_between(q, 'ever', 'end')}) WHERE client_id != ''"
    )
    start_month = q.period.local(q.period.start).date().replace(day=1)
    if q.period.local(q.period.start).date() != start_month:
        start_month = _next_month(start_month)  # only whole months make a cohort
    params["cohort_start"] = start_month
    rows = ch.rows(COHORTS_SQL.format(paid=paid), params)
    by_cohort: dict[date, dict[int, int]] = {}
    for r in rows:
        by_cohort.setdefault(r["cohort"], {})[r["offset"]] = r["clients"]
    out = []
    for cohort, offsets in sorted(by_cohort.items()):
        size = offsets.get(0, 0)
        months = max(offsets) if offsets else 0
        out.append(
            {
                "cohort": cohort.isoformat()[:7],
                "clients": size,
                "retention": [
                    {
                        "month": k,
                        "clients": offsets.get(k, 0),
                        "share": round(offsets.get(k, 0) / size, 4) if size else None,
                    }
                    for k in range(1, months + 1)
                ],
                "drill": q.drill("clients", basis="first_paid", cohort=cohort.isoformat()[:7]),
            }
        )
    return {**q.header("cohorts"), "rows": out}


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def parse_edges(raw: str) -> list[Decimal]:
    try:
        edges = [Decimal(x) for x in raw.split(",") if x.strip()]
    except ArithmeticError:
        raise FieldError("edges", "comma-separated amounts, e.g. 0,10000,50000") from None
    if not edges or any(e.is_nan() or e < 0 for e in edges) or edges != sorted(set(edges)):
        raise FieldError("edges", "non-negative amounts in strictly increasing order")
    if len(edges) > 50:
        raise FieldError("edges", "at most 50 edges")
    return edges


def amount_distribution(ch: ClickHouse, q: ReportQuery, edges: list[Decimal]) -> dict[str, Any]:
    """Won deals of the period by amount bucket [edge_i, edge_i+1) (the last is open), per
    month of winning in the report's zone."""
    deals_sql, _ = filtered_deals(q)
    rows = ch.rows(
        f"SELECT {bucket_sql('closed_at', 'month')} AS month, amount FROM ({deals_sql}) "
        "WHERE status = 'won' AND closed_at >= {start:DateTime64(3)} "
        "AND closed_at < {end:DateTime64(3)}",
        base_params(q),
    )
    labels = [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:], strict=False)]
    labels.append(f"{edges[-1]}+")
    months: dict[date, list[int]] = {}
    for r in rows:
        index = sum(1 for e in edges if r["amount"] >= e) - 1
        if index >= 0:  # amounts below the first edge fall outside the histogram
            months.setdefault(r["month"], [0] * len(labels))[index] += 1
    out = [
        {
            "month": m.isoformat()[:7],
            "buckets": [
                {"bucket": label, "deals": n} for label, n in zip(labels, counts, strict=True)
            ],
            "drill": q.drill("deals", within=bucket_period(q, m, "month"), basis="won"),
        }
        for m, counts in sorted(months.items())
    ]
    totals = [
        {"bucket": label, "deals": sum(m["buckets"][i]["deals"] for m in out)}
        for i, label in enumerate(labels)
    ]
    return {
        **q.header("amount-distribution"),
        "edges": [str(e) for e in edges],
        "totals": totals,
        "rows": out,
    }
