"""Cohorts of clients by the month of their first payment, and how many pay again in the
months after; and the distribution of won-deal amounts (docs/reports.md)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.common import (
    bucket_period,
    bucket_sql,
    client_payments,
    filtered_deals,
    in_period,
)
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql
from crm_contracts.runtime.errors import Invalid

CENT = Decimal("0.01")

# Every payment up to the period's end by client and local month; each client's first month.
# A row of the join is (cohort, offset, client): the client paid `offset` months after its first.
COHORT_JOIN = Sql("""
WITH paid AS ({paid}),
firsts AS (SELECT client_id, min(month) AS first_month FROM paid GROUP BY client_id)
SELECT {select}
FROM firsts AS f INNER JOIN paid AS p ON p.client_id = f.client_id
WHERE {where}
""")
PAID_MONTHS = Sql("SELECT client_id, {month} AS month FROM ({payments}) WHERE client_id != ''")
# The same cells in one pass over the payments (the join above reads them twice): each
# client's distinct months, its cohort the first of them; a (client, month) pair is one
# client of its cell.
CELLS_SQL = Sql("""
SELECT cohort, dateDiff('month', cohort, month) AS offset, count() AS clients
FROM (
    SELECT arrayMin(months) AS cohort, arrayJoin(months) AS month
    FROM (SELECT client_id, groupUniqArray(month) AS months FROM ({paid}) GROUP BY client_id)
)
WHERE cohort >= {cohort_start:Date}
GROUP BY cohort, offset ORDER BY cohort, offset
""")
CELL = Sql("""
    f.first_month = {cohort:Date}
    AND dateDiff('month', f.first_month, p.month) = {cohort_offset:Int64}
""")


def _paid_months(q: ReportQuery) -> Sql:
    """PAID_MONTHS over the query's payments (filters apply) since ever up to its end: the
    rows of `payments_between`, read as the money reports read them (`client_payments`)."""
    ever = Period(q.period.start.replace(year=1970), q.period.end, q.period.tz)
    return PAID_MONTHS.fill(
        month=bucket_sql("paid_at", "month", q), payments=client_payments(q, ever, "ever_")
    )


def _join(q: ReportQuery, select: Sql, where: Sql) -> Sql:
    """COHORT_JOIN over `_paid_months`."""
    return COHORT_JOIN.fill(paid=_paid_months(q), select=select, where=where)


def cohort_clients(q: ReportQuery, cohort: date, offset: int = 0) -> Sql:
    """The clients of one cell of `cohorts`: first paid in month `cohort` and paid again
    `offset` months later (0: the whole cohort)."""
    select = Sql("DISTINCT f.client_id AS client_id")
    return _join(q, select, CELL.bind(cohort=cohort, cohort_offset=offset))


def cohorts(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    """Clients whose first payment ever fell in a month of the period, by that month; for
    each later month up to the period's end, the share of the cohort that paid in it. Each
    count links to its clients (`basis=first_paid`, `cohort`, `cohort_offset`)."""
    start_month = q.period.local(q.period.start).date().replace(day=1)
    if q.period.local(q.period.start).date() != start_month:
        start_month = _next_month(start_month)  # only whole months make a cohort
    rows = ch.select(CELLS_SQL.fill(paid=_paid_months(q)).bind(cohort_start=start_month))
    by_cohort: dict[date, dict[int, int]] = {}
    for r in rows:
        by_cohort.setdefault(r["cohort"], {})[r["offset"]] = r["clients"]
    out = []
    for cohort, offsets in sorted(by_cohort.items()):
        size = offsets.get(0, 0)
        months = max(offsets) if offsets else 0
        link = q.linker("clients", basis="first_paid", cohort=cohort.isoformat()[:7])
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
                "drill": link(),
                # Beside `retention`, whose cells keep their shape: month → link.
                "drill_retention": {str(k): link(cohort_offset=k) for k in range(1, months + 1)},
            }
        )
    return {**q.header("cohorts"), "rows": out}


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def parse_edges(raw: str) -> list[Decimal]:
    try:
        edges = [Decimal(x) for x in raw.split(",") if x.strip()]
    except ArithmeticError:
        raise Invalid("comma-separated amounts, e.g. 0,10000,50000", "edges") from None
    if not edges or any(e.is_nan() or e < 0 for e in edges) or edges != sorted(set(edges)):
        raise Invalid("non-negative amounts in strictly increasing order", "edges")
    if len(edges) > 50:
        raise Invalid("at most 50 edges", "edges")
    return edges


# Won deals of the period per local month and amount bucket: the bucket of an amount is the
# number of lower edges (in cents) it reaches, less one (-1: below the first edge, left out).
AMOUNT_BUCKETS_SQL = Sql("""
SELECT {month} AS month, arrayCount(e -> amount_base >= e, {edges:Array(Decimal(38, 2))}) - 1
       AS bucket, count() AS deals
FROM ({deals}) WHERE bucket >= 0
GROUP BY month, bucket
""")
MAX_AMOUNT = Decimal(10) ** 17  # above any Decimal(18, 2) amount: a larger edge changes nothing


def _edge_cents(edge: Decimal) -> Decimal:
    """The edge as a bound in cents that the same amounts (which have cents) reach."""
    return min(edge, MAX_AMOUNT).quantize(CENT, rounding=ROUND_CEILING)


def amount_distribution(ch: ClickHouse, q: ReportQuery, edges: list[Decimal]) -> dict[str, Any]:
    """Won deals of the period by amount bucket [edge_i, edge_i+1) (the last is open), per
    month of winning in the report's zone. Each count links to its deals (`amount_min`,
    `amount_max`: the same bucket rule over the same amount, the deal's in the base currency)."""
    won = Sql("status = 'won' AND {closed_in}").fill(closed_in=in_period("closed_at", q.period))
    rows = ch.select(
        AMOUNT_BUCKETS_SQL.fill(
            month=bucket_sql("closed_at", "month", q), deals=filtered_deals(q, narrow=won)
        ).bind(edges=[_edge_cents(e) for e in edges])
    )
    bounds = list(zip(edges, [*edges[1:], None], strict=True))
    labels = [f"{lo}-{hi}" if hi is not None else f"{lo}+" for lo, hi in bounds]
    months: dict[date, list[int]] = {}
    for r in rows:
        months.setdefault(r["month"], [0] * len(labels))[r["bucket"]] = r["deals"]

    def links(within: Any = None) -> list[str]:
        won = q.linker("deals", within, basis="won")
        return [won(amount_min=lo, amount_max=hi) for lo, hi in bounds]

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
    # Beside the rows, which keep their shape: month → bucket → link.
    drill_rows = {
        m.isoformat()[:7]: dict(zip(labels, links(bucket_period(q, m, "month")), strict=True))
        for m in sorted(months)
    }
    totals = [
        {"bucket": label, "deals": sum(m["buckets"][i]["deals"] for m in out), "drill": link}
        for i, (label, link) in enumerate(zip(labels, links(), strict=True))
    ]
    return {
        **q.header("amount-distribution"),
        "edges": [str(e) for e in edges],
        "totals": totals,
        "rows": out,
        "drill_rows": drill_rows,
    }
