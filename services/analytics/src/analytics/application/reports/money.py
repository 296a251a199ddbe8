"""Reports about money coming in: dynamics, active client base with the win-back list,
repeat sales, ABC of clients, cohorts and client profitability (docs/reports.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from itertools import compress
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.common import (
    bucket_period,
    bucket_sql,
    bucket_starts,
    client_payments,
    filtered_deals,
    in_period,
    payments_between,
)
from analytics.application.reports.filters import deal_conditions
from analytics.application.reports.json_rows import (
    Value,
    amount,
    instant,
    integer,
    link_parts,
    row_json,
    ten_thousandths,
    text,
    written,
)
from analytics.application.reports.list_page import WHOLE, Listing, ListPage, read_page
from analytics.application.reports.period import Period
from analytics.application.reports.query import SAFE, ReportQuery
from analytics.application.reports.sql import Sql

ZERO = Decimal(0)


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def dynamics(ch: ClickHouse, q: ReportQuery, bucket: str = "day") -> dict[str, Any]:
    """Revenue (payments) and won deals per day / week / month of the period. A row's `drill`
    and `totals.drill`: the won deals; `totals.drill_revenue` and `drill_rows[bucket].revenue`:
    the deals with a payment in the period / bucket."""
    with ch.consistent():
        revenue = ch.select(
            Sql(
                "SELECT {bucket} AS bucket, sum(amount) AS revenue, count() AS payments "
                "FROM ({payments}) GROUP BY bucket"
            ).fill(bucket=bucket_sql("paid_at", bucket, q), payments=client_payments(q))
        )
        won = ch.select(
            Sql(
                "SELECT {bucket} AS bucket, count() AS won, sum(amount_base) AS won_amount "
                "FROM ({deals}) WHERE status = 'won' AND {closed_in} GROUP BY bucket"
            ).fill(
                bucket=bucket_sql("closed_at", bucket, q),
                deals=filtered_deals(q),
                closed_in=in_period("closed_at", q.period),
            )
        )
    link = q.linker("deals")
    by_revenue = {r["bucket"]: r for r in revenue}
    by_won = {r["bucket"]: r for r in won}
    rows, revenue_links = [], {}
    for start in bucket_starts(q, bucket):
        r, w = by_revenue.get(start, {}), by_won.get(start, {})
        rows.append(
            {
                "bucket": start.isoformat(),
                "revenue": Decimal(r.get("revenue", ZERO)),
                "payments": r.get("payments", 0),
                "won": w.get("won", 0),
                "won_amount": Decimal(w.get("won_amount", ZERO)),
                "drill": link(within=bucket_period(q, start, bucket), basis="won"),
            }
        )
        # Beside the rows, which keep their shape: bucket → figure → link.
        revenue_links[start.isoformat()] = {
            "revenue": link(within=bucket_period(q, start, bucket), basis="paid")
        }
    totals = {
        "revenue": sum((r["revenue"] for r in rows), ZERO),
        "payments": sum(r["payments"] for r in rows),
        "won": sum(r["won"] for r in rows),
        "won_amount": sum((r["won_amount"] for r in rows), ZERO),
        "drill": link(basis="won"),
        "drill_revenue": link(basis="paid"),  # deals with a payment in the period
    }
    return {
        **q.header("dynamics"),
        "bucket": bucket,
        "totals": totals,
        "rows": rows,
        "drill_rows": revenue_links,
    }


ACTIVE_CTE = "WITH now_paid AS ({current}), before_paid AS ({previous})"
WIN_BACK = "client_id != '' AND client_id NOT IN (SELECT client_id FROM now_paid)"
WIN_BACK_IDS = Sql(ACTIVE_CTE + " SELECT client_id FROM before_paid WHERE " + WIN_BACK)

# Both periods' payments read once (they are adjacent): per client whether it paid now and
# before. Out come the win-back clients (paid before, not now) by revenue in the previous
# period, descending, ties by id, each row with both counts; and, first, one row that is no
# win-back client, so that the counts come when the list is empty (none when nobody paid).
# Rows rather than one row of arrays: the driver reads columns faster than arrays.
ACTIVE_BASE = Sql("""
WITH per_client AS (
    SELECT client_id, max(now) AS paid_now, min(now) = 0 AS paid_before,
           sumIf(amount, NOT now) AS revenue_before, maxIf(paid_at, NOT now) AS last_paid_at
    FROM (SELECT client_id, amount, paid_at, {now_in} AS now FROM ({payments}))
    WHERE client_id != ''
    GROUP BY client_id
)
SELECT client_id, revenue_before, last_paid_at, paid_now, paid_before,
       paid_before AND NOT paid_now AS win_back
FROM per_client""")
ACTIVE_SQL = Sql("""
SELECT active, active_before, win_back, {rows}
FROM (
    SELECT client_id, revenue_before, last_paid_at, win_back,
           sum(paid_now) OVER () AS active, sum(paid_before) OVER () AS active_before,
           row_number() OVER () = 1 AS first
    FROM ({base})
)
WHERE win_back OR first
ORDER BY win_back, revenue_before DESC, client_id
""")
# A page of the win-back list (list_page.py): the win-back clients numbered first, in the
# list's order or the asked one, with both counts over every client. The counts are kept on
# each row before the clients that are not on the list are dropped (all but one, so that the
# counts come when the list is empty), so the page's numbering sorts the list, half the
# clients at 10 M events, rather than every client (a chunk's CPU 869-937 -> 635-680 ms).
WIN_BACK_BASE = Sql("""
SELECT * FROM (
    SELECT *, sum(paid_now) OVER () AS all_active, sum(paid_before) OVER () AS all_before,
           row_number() OVER () = 1 AS first
    FROM ({base})
)
WHERE win_back OR first
""")
WIN_BACK_ORDER = {
    "client_id": "client_id",
    "revenue_previous_period": "revenue_before",
    "last_paid_at": "last_paid_at",
}
ACTIVE_WINDOWS = {"active": "all_active", "active_before": "all_before"}


def _before(q: ReportQuery) -> Period:
    """The same length just before, cut at what the engine stores (a period near 1900)."""
    return q.period.previous_period().clamped()


def _active(template: Sql, q: ReportQuery) -> Sql:
    """The template over the payments of this period and of the previous one (same length
    just before)."""
    return template.fill(current=payments_between(q), previous=payments_between(q, _before(q), "p"))


def win_back_clients(q: ReportQuery) -> Sql:
    """The ids of the win-back list, as `active_clients` makes it."""
    return _active(WIN_BACK_IDS, q)


WIN_BACK_COLUMNS = "client_id, toDecimalString(revenue_before, 2) AS revenue, last_paid_at"
WIN_BACK_JSON = {
    "client_id": text("client_id"),
    "revenue_previous_period": amount("revenue_before"),
    "last_paid_at": instant("last_paid_at"),
}


WinBack = tuple[int, int, Sequence[dict[str, Any]]]  # the two counts, the win-back list


def _active_base(q: ReportQuery) -> Sql:
    """ACTIVE_BASE over the payments of this period and the one before."""
    before = _before(q)
    return ACTIVE_BASE.fill(
        payments=client_payments(q, Period(before.start, q.period.end, q.period.tz), "both_"),
        now_in=in_period("paid_at", q.period),
    )


def _active_read(ch: ClickHouse, q: ReportQuery, rows: Sql | str, width: int) -> tuple[Any, ...]:
    """The two counts and the win-back list's columns (`rows`: what is read of each)."""
    actives, befores, win_back, *columns = ch.columns(
        ACTIVE_SQL.fill(base=_active_base(q), rows=rows), 3 + width
    )
    counts = (actives[0], befores[0]) if win_back else (0, 0)
    if win_back and not win_back[0]:  # the row that only brought the counts
        columns = [c[1:] for c in columns]
    return *counts, columns


def _win_back_written(ch: ClickHouse, q: ReportQuery, link: Callable[[str], str]) -> WinBack | None:
    """The counts and the list as the engine writes it; None when it cannot (`json_rows`)."""
    row = _row_json(q, WIN_BACK_JSON, link)
    if row is None:
        return None
    active, active_before, [texts] = _active_read(ch, q, row, 1)
    listed = written(texts, ("revenue_previous_period",))
    return None if listed is None else (active, active_before, listed)


def _win_back_rows(columns: list[list[Any]], link: Callable[[str], str]) -> list[dict[str, Any]]:
    """The win-back rows made from their columns (WIN_BACK_COLUMNS)."""
    ids, revenues, last_paid = columns
    return [
        {"client_id": i, "revenue_previous_period": r, "last_paid_at": t, "drill": d}
        for i, r, t, d in zip(
            ids, _money(revenues), last_paid, _keyed_links(link, ids), strict=True
        )
    ]


def _win_back_read(ch: ClickHouse, q: ReportQuery, link: Callable[[str], str]) -> WinBack:
    """The counts and the list made from its columns."""
    active, active_before, columns = _active_read(ch, q, WIN_BACK_COLUMNS, 3)
    return active, active_before, _win_back_rows(columns, link)


def _win_back_page(
    ch: ClickHouse, q: ReportQuery, link: Callable[[str], str], page: ListPage
) -> tuple[int, int, Sequence[dict[str, Any]], int]:
    """The counts, a page of the win-back list and the list's size (list_page.py)."""
    listing = Listing(
        WIN_BACK_BASE.fill(base=_active_base(q)),
        WIN_BACK_ORDER,
        "revenue_before DESC, client_id",
        "win_back DESC",
    )
    got = read_page(
        ch,
        listing,
        page,
        _row_json(q, WIN_BACK_JSON, link),
        (WIN_BACK_COLUMNS, 3),
        ("revenue_previous_period",),
        ACTIVE_WINDOWS,
        counted="sum(win_back) OVER ()",
    )
    listed = got.texts if got.texts is not None else _win_back_rows(got.columns, link)
    counts = got.windows["active"] or 0, got.windows["active_before"] or 0
    return *counts, listed, got.total


def active_clients(ch: ClickHouse, q: ReportQuery, page: ListPage = WHOLE) -> dict[str, Any]:
    """АКБ: distinct clients with a payment in the period; the win-back list: clients who paid
    in the previous period (same length just before) but not in this one (`page`: the part of
    it to give, list_page.py). Links: `drill` (the active clients), `drill_previous`,
    `drill_win_back`."""
    link = q.keyed_linker("deals", "client")
    if page.whole:
        active, active_before, listed = _win_back_written(ch, q, link) or _win_back_read(
            ch, q, link
        )
        total = len(listed)
    else:
        active, active_before, listed, total = _win_back_page(ch, q, link, page)
    answer = {
        **q.header("active-clients"),
        "totals": {
            "active_clients": active,
            "active_clients_previous_period": active_before,
            "win_back": total,
            "drill": q.drill("clients", basis="paid"),
            "drill_previous": q.drill("clients", within=_before(q), basis="paid"),
            "drill_win_back": q.drill("clients", basis="win_back"),
        },
        "win_back": listed,
    }
    return answer if page.whole else answer | {"page": page.answer(total)}


REPEAT_CTE = """
WITH deals AS ({deals}),
won_in AS (
    SELECT deal_id, client_id, closed_at FROM deals
    WHERE status = 'won' AND client_id != ''
      AND closed_at >= {start:DateTime64(3)} AND closed_at < {end:DateTime64(3)}
),
won_all AS (
    SELECT deal_id, client_id, closed_at FROM {db}.deals FINAL
    WHERE status = 'won' AND client_id != '' AND closed_at < {end:DateTime64(3)}
)
"""
# The sets repeat-sales counts, each a SELECT over REPEAT_CTE (the drill-down lists them).
REPEAT_SETS = {
    "won_deals": "SELECT deal_id FROM won_in",
    "repeat_deals": """
        SELECT w.deal_id AS deal_id FROM won_in AS w
        INNER JOIN won_all AS a ON a.client_id = w.client_id
        GROUP BY w.deal_id HAVING countIf(a.closed_at < w.closed_at) > 0""",
    "clients": "SELECT DISTINCT client_id FROM won_in",
    "repeat_clients": """
        SELECT client_id FROM won_all
        WHERE client_id IN (SELECT client_id FROM won_in)
        GROUP BY client_id HAVING count() >= 2""",
}
# The sizes of the four sets in one read of the won deals: per client its first won deal and
# its won deals in the period (the filtered ones); a deal in the period repeats when the
# first closed before it, a client when it has two won deals.
REPEAT_SQL = Sql("""
SELECT sum(length(won_in)) AS won_deals,
       sum(arrayCount(t -> t > first_won, won_in)) AS repeat_deals,
       countIf(notEmpty(won_in)) AS clients,
       countIf(notEmpty(won_in) AND won >= 2) AS repeat_clients
FROM (
    SELECT client_id, min(closed_at) AS first_won, count() AS won,
           groupArrayIf(closed_at, closed_at >= {start:DateTime64(3)} AND {conditions}) AS won_in
    FROM {db}.deals FINAL
    WHERE status = 'won' AND client_id != '' AND closed_at < {end:DateTime64(3)}
    GROUP BY client_id
)""")


def _repeat(template: str, q: ReportQuery) -> Sql:
    return Sql(template, q.period.params()).fill(deals=filtered_deals(q))


def repeat_set(q: ReportQuery, name: str) -> Sql:
    """One of REPEAT_SETS as a standalone SELECT with its parameters."""
    return _repeat(REPEAT_CTE + REPEAT_SETS[name], q)


def repeat_sales(ch: ClickHouse, q: ReportQuery) -> dict[str, Any]:
    """Won deals in the period whose client had an earlier won deal ÷ all won deals in the
    period; clients with ≥ 2 won deals (up to the period's end) ÷ clients with a won deal in
    the period. Only deals with a client count. Each count links to its deals or clients."""
    r = ch.select(REPEAT_SQL.fill(conditions=deal_conditions(q)).bind(**q.period.params()))[0]
    deals = q.linker("deals", basis="won", with_client=True)
    return {
        **q.header("repeat-sales"),
        "totals": {
            "won_deals": r["won_deals"],
            "repeat_deals": r["repeat_deals"],
            "repeat_deal_share": ratio(r["repeat_deals"], r["won_deals"]),
            "clients_with_won_deal": r["clients"],
            "repeat_clients": r["repeat_clients"],
            "repeat_client_share": ratio(r["repeat_clients"], r["clients"]),
            "drill": deals(),
            "drill_repeat_deals": deals(repeat=True),
            "drill_clients": q.drill("clients", basis="won"),
            "drill_repeat_clients": q.drill("clients", basis="repeat"),
        },
    }


# Revenue per client in the period, largest first (ties by id): the ABC order, each client
# with its rank, `share_before_pct` (the share of all revenue held by the clients ranked
# above, in %, to 4 places, half to even) and class: A if that share < 80 %, B if < 95 %,
# else C (none of revenue: 0 %, A). The share is exact integer arithmetic on cents:
# `above` × 10^6 ÷ `total` rounded half to even is the share in units of 0.0001 %, as
# Python's Decimal rounds it (its 28 digits are exact for any total below 10^20 cents), and
# as a Float64 the same double `float(Decimal)` makes (both round once, to nearest).
# The revenue is read as its decimal text, which Python turns into a Decimal faster than the
# driver reads a Decimal128. `{rows}`: what is read of each (ABC_COLUMNS, or its JSON).
ABC_RANKED = Sql("""
SELECT client_id, rank, revenue,
       if(total = 0, 0, quotient + (2 * remainder > total
                                    OR (2 * remainder = total AND quotient % 2 != 0))) AS share,
       multiIf(total = 0 OR 5 * above < 4 * total, 'A', 20 * above < 19 * total, 'B', 'C')
           AS class
FROM (
    SELECT *, positiveModulo(above * 1000000, greatest(total, 1)) AS remainder,
           intDiv(above * 1000000 - remainder, greatest(total, 1)) AS quotient
    FROM (
        SELECT client_id, revenue, rank,
               toInt256((running - revenue) * 100) * if(all_revenue < 0, -1, 1) AS above,
               abs(toInt256(all_revenue * 100)) AS total
        FROM (
            SELECT client_id, revenue, row_number() OVER w AS rank,
                   sum(revenue) OVER w AS running, sum(revenue) OVER () AS all_revenue
            FROM ({revenue})
            WINDOW w AS (ORDER BY revenue DESC, client_id ROWS UNBOUNDED PRECEDING)
        )
    )
)
""")
ABC_SQL = Sql("SELECT {rows} FROM ({ranked}) ORDER BY rank").fill(ranked=ABC_RANKED)
ABC_COLUMNS = (
    "client_id, rank, toDecimalString(revenue, 2) AS revenue,"
    " toFloat64(share) / 10000 AS share_before_pct, class"
)
# With the rows' JSON, each row's class and its class's revenue (a few distinct values).
ABC_JSON = (
    "{row} AS row, toLowCardinality(class),"
    " toLowCardinality(toDecimalString(sum(revenue) OVER (PARTITION BY class), 2))"
)
ABC_FIELDS_JSON = {
    "client_id": text("client_id"),
    "rank": integer("rank"),
    "revenue": amount("revenue"),
    "share_before_pct": ten_thousandths("share"),
    "class": text("class"),
}
REVENUE_BY_CLIENT = Sql("""
SELECT client_id, sum(amount) AS revenue FROM ({payments}) WHERE client_id != ''
GROUP BY client_id
""")


def _revenue_by_client(q: ReportQuery) -> Sql:
    """REVENUE_BY_CLIENT over the query's period and filters."""
    return REVENUE_BY_CLIENT.fill(payments=client_payments(q))


def _money(texts: list[str]) -> list[Decimal]:
    """Decimal text (two places, `toDecimalString`) as Decimals; when the amounts repeat (a
    list of clients' revenues holds a few thousand distinct ones), each is parsed once."""
    distinct = set(texts)
    if 4 * len(distinct) > len(texts):
        return list(map(Decimal, texts))
    parsed = dict(zip(distinct, map(Decimal, distinct), strict=True))
    return list(map(parsed.__getitem__, texts))


def _keyed_links(link: Callable[[str], str], values: list[str]) -> list[str]:
    """`link(value)` (a `keyed_linker`) for every value: a value that needs no quoting is put
    between the link's fixed head and tail, found once, instead of being quoted each time."""
    parts = link_parts(link)
    if parts is None:  # not the shape head + value + tail: link each one
        return [link(v) for v in values]
    head, tail = parts
    if SAFE.fullmatch("".join(values)):
        return [head + v + tail for v in values]
    return [head + v + tail if SAFE.fullmatch(v) else link(v) for v in values]


ABC_FIELDS = ("client_id", "rank", "revenue", "share_before_pct", "class")


def _row_json(q: ReportQuery, fields: dict[str, Value], link: Callable[[str], str]) -> Sql | None:
    """`row_json` of a client list keyed by `client_id`, unless the report is compared: a
    comparison merges the rows as dicts (compare.py), so they are made as such."""
    return None if q.compare else row_json(fields, "client_id", link)


def _abc_columns(ch: ClickHouse, q: ReportQuery) -> list[list[Any]]:
    """The columns of ABC_SQL (ABC_FIELDS), the revenue as a Decimal."""
    columns = ch.columns(
        ABC_SQL.fill(revenue=_revenue_by_client(q), rows=ABC_COLUMNS), len(ABC_FIELDS)
    )
    columns[2] = _money(columns[2])
    return columns


def abc_ranks(ch: ClickHouse, q: ReportQuery) -> list[dict[str, Any]]:
    """Clients by revenue in the period, descending (ties by id): `client_id`, `rank`,
    `revenue`, `share_before_pct` and `class` (see `ABC_SQL`), in the order of a row of `abc`."""
    columns = _abc_columns(ch, q)
    return [dict(zip(ABC_FIELDS, row, strict=True)) for row in zip(*columns, strict=True)]


# Rows, and clients and revenue per class (a class without clients has no revenue entry).
Abc = tuple[Sequence[dict[str, Any]], dict[str, int], dict[str, Decimal]]


def _abc_written(ch: ClickHouse, q: ReportQuery, link: Callable[[str], str]) -> Abc | None:
    """ABC's rows as the engine writes them, and the clients and revenue per class; None
    when it cannot write them (`json_rows`)."""
    row = _row_json(q, ABC_FIELDS_JSON, link)
    if row is None:
        return None
    texts, classes, class_revenues = ch.columns(
        ABC_SQL.fill(revenue=_revenue_by_client(q), rows=Sql(ABC_JSON).fill(row=row)), 3
    )
    rows = written(texts, ("revenue",))
    revenues = {c: Decimal(r) for c, r in dict(zip(classes, class_revenues, strict=True)).items()}
    return None if rows is None else (rows, Counter(classes), revenues)


def _abc_rows(columns: list[list[Any]], link: Callable[[str], str]) -> list[dict[str, Any]]:
    """ABC's rows made from their columns (ABC_FIELDS, the revenue as a Decimal)."""
    ids, ranks, revenues, shares, classes = columns
    return [
        {"client_id": i, "rank": k, "revenue": r, "share_before_pct": s, "class": c, "drill": d}
        for i, k, r, s, c, d in zip(
            ids, ranks, revenues, shares, classes, _keyed_links(link, ids), strict=True
        )
    ]


def _abc_read(ch: ClickHouse, q: ReportQuery, link: Callable[[str], str]) -> Abc:
    """ABC's rows made from its columns, and the clients and revenue per class."""
    columns = _abc_columns(ch, q)
    revenues, classes = columns[2], columns[4]
    # In the order of the rows, as a running total would add them.
    per_class = {c: sum(compress(revenues, map(c.__eq__, classes)), ZERO) for c in set(classes)}
    return _abc_rows(columns, link), Counter(classes), per_class


# A page of ABC (list_page.py): the fields' columns in ABC_RANKED, and per class its clients
# and revenue over the whole list.
ABC_ORDER = {
    "client_id": "client_id",
    "rank": "rank",
    "revenue": "revenue",
    "share_before_pct": "share",
    "class": "class",
}
ABC_WINDOWS = {f"clients_{c}": f"countIf(class = '{c}') OVER ()" for c in "ABC"} | {
    f"revenue_{c}": f"toDecimalString(sumIf(revenue, class = '{c}') OVER (), 2)" for c in "ABC"
}


def _abc_page(
    ch: ClickHouse, q: ReportQuery, link: Callable[[str], str], page: ListPage
) -> tuple[Abc, int]:
    """A page of ABC's rows, the clients and revenue per class, and the list's size."""
    listing = Listing(ABC_RANKED.fill(revenue=_revenue_by_client(q)), ABC_ORDER, "rank")
    row = _row_json(q, ABC_FIELDS_JSON, link)
    got = read_page(ch, listing, page, row, (ABC_COLUMNS, 5), ("revenue",), ABC_WINDOWS)
    if got.texts is not None:
        rows: Sequence[dict[str, Any]] = got.texts
    else:
        columns = got.columns
        columns[2] = _money(columns[2])
        rows = _abc_rows(columns, link)
    counts = {c: got.windows[f"clients_{c}"] or 0 for c in "ABC"}
    revenues = {c: Decimal(got.windows[f"revenue_{c}"]) for c in "ABC" if counts[c]}
    return (rows, counts, revenues), got.total


def abc(ch: ClickHouse, q: ReportQuery, page: ListPage = WHOLE) -> dict[str, Any]:
    """ABC of clients by revenue (see `abc_ranks`; `page`: the part of the list to give,
    list_page.py). Each class links to its clients."""
    link = q.keyed_linker("deals", "client", basis="paid")
    if page.whole:
        rows, counts, revenues = _abc_written(ch, q, link) or _abc_read(ch, q, link)
        total = len(rows)
    else:
        (rows, counts, revenues), total = _abc_page(ch, q, link, page)
    summary = {
        c: {
            "key": c,
            "clients": counts.get(c, 0),
            "revenue": revenues.get(c, ZERO),
            "drill": q.drill("clients", basis="paid", abc_class=c),
        }
        for c in "ABC"
    }
    answer = {
        **q.header("abc"),
        "totals": {
            "clients": total,
            "revenue": sum((revenues.get(c, ZERO) for c in "ABC"), ZERO),
            "drill": q.drill("clients", basis="paid"),
        },
        "classes": list(summary.values()),
        "rows": rows,
    }
    return answer if page.whole else answer | {"page": page.answer(total)}


# Per client: revenue (its payments in the period) and cost (of its deals won in the period),
# by margin, largest first (ties by id); the money as decimal text (see ABC_SQL). The
# payments and the won deals are summed in one grouping (a client with only one of them
# has 0 of the other, as the outer join of the two sums gave). The won deals are the latest
# rows (FINAL) won in the period. Narrowing them first to the deals with a row of any version
# won in it, by a hash of the id, cost more than it saved once the quarters are merged, and
# still more with the current quarter in several parts (at 10 M events 355 against 124 ms,
# and 537 against 322).
PROFITABILITY_BASE = Sql("""
SELECT client_id, sum(revenue) AS revenue, sum(cost) AS cost
FROM (
    SELECT client_id, amount AS revenue, toDecimal64(0, 2) AS cost
    FROM ({payments}) WHERE client_id != ''
    UNION ALL
    SELECT client_id, toDecimal64(0, 2) AS revenue, cost FROM {db}.deals FINAL
    WHERE {conditions} AND status = 'won' AND client_id != '' AND {closed_in}
)
GROUP BY client_id
""")
PROFITABILITY_SQL = Sql("SELECT {rows} FROM ({base}) ORDER BY revenue - cost DESC, client_id").fill(
    base=PROFITABILITY_BASE
)


PROFITABILITY_COLUMNS = "client_id, toDecimalString(revenue, 2), toDecimalString(cost, 2)"
# With the rows' JSON, the totals (the same on every row).
PROFITABILITY_JSON = (
    "{row} AS row, toLowCardinality(toDecimalString(sum(revenue) OVER (), 2)),"
    " toLowCardinality(toDecimalString(sum(cost) OVER (), 2)),"
    " toLowCardinality(toDecimalString(sum(revenue - cost) OVER (), 2))"
)
PROFITABILITY_FIELDS_JSON = {
    "client_id": text("client_id"),
    "revenue": amount("revenue"),
    "cost": amount("cost"),
    "margin": amount("revenue - cost"),
}
TOTALS = ("revenue", "cost", "margin")
Profitability = tuple[Sequence[dict[str, Any]], dict[str, Decimal]]


def _profitability_base(q: ReportQuery) -> Sql:
    return PROFITABILITY_BASE.fill(
        payments=client_payments(q),
        conditions=deal_conditions(q),
        closed_in=in_period("closed_at", q.period),
    )


def _profitability_sql(q: ReportQuery, rows: Sql | str) -> Sql:
    return PROFITABILITY_SQL.fill(
        payments=client_payments(q),
        conditions=deal_conditions(q),
        closed_in=in_period("closed_at", q.period),
        rows=rows,
    )


def _profitability_written(
    ch: ClickHouse, q: ReportQuery, link: Callable[[str], str]
) -> Profitability | None:
    """The rows as the engine writes them and the totals; None when it cannot (`json_rows`)."""
    row = _row_json(q, PROFITABILITY_FIELDS_JSON, link)
    if row is None:
        return None
    texts, *totals = ch.columns(
        _profitability_sql(q, Sql(PROFITABILITY_JSON).fill(row=row)), 1 + len(TOTALS)
    )
    rows = written(texts, TOTALS)
    sums = {name: Decimal(t[0]) if t else ZERO for name, t in zip(TOTALS, totals, strict=True)}
    return None if rows is None else (rows, sums)


def _profitability_rows(
    columns: list[list[Any]], link: Callable[[str], str]
) -> list[dict[str, Any]]:
    """The rows made from their columns (PROFITABILITY_COLUMNS)."""
    ids, revenue_text, cost_text = columns
    revenues, costs = _money(revenue_text), _money(cost_text)
    return [
        {"client_id": i, "revenue": r, "cost": c, "margin": r - c, "drill": d}
        for i, r, c, d in zip(ids, revenues, costs, _keyed_links(link, ids), strict=True)
    ]


def _profitability_read(
    ch: ClickHouse, q: ReportQuery, link: Callable[[str], str]
) -> Profitability:
    """The rows made from their columns, and the totals."""
    rows = _profitability_rows(ch.columns(_profitability_sql(q, PROFITABILITY_COLUMNS), 3), link)
    totals = {name: sum((r[name] for r in rows), ZERO) for name in TOTALS}
    return rows, totals


# A page of the list (list_page.py): the fields' expressions in PROFITABILITY_BASE, and the
# totals over the whole list.
PROFITABILITY_ORDER = {
    "client_id": "client_id",
    "revenue": "revenue",
    "cost": "cost",
    "margin": "revenue - cost",
}
PROFITABILITY_WINDOWS = {
    f"total_{name}": f"toDecimalString(sum({sql}) OVER (), 2)"
    for name, sql in PROFITABILITY_ORDER.items()
    if name in TOTALS
}


def _profitability_page(
    ch: ClickHouse, q: ReportQuery, link: Callable[[str], str], page: ListPage
) -> tuple[Profitability, int]:
    """A page of the rows, the totals over every row, and the list's size."""
    listing = Listing(_profitability_base(q), PROFITABILITY_ORDER, "revenue - cost DESC, client_id")
    row = _row_json(q, PROFITABILITY_FIELDS_JSON, link)
    got = read_page(
        ch, listing, page, row, (PROFITABILITY_COLUMNS, 3), TOTALS, PROFITABILITY_WINDOWS
    )
    rows = got.texts if got.texts is not None else _profitability_rows(got.columns, link)
    totals = {n: Decimal(got.windows[f"total_{n}"] or 0) for n in TOTALS}
    return (rows, totals), got.total


def client_profitability(ch: ClickHouse, q: ReportQuery, page: ListPage = WHOLE) -> dict[str, Any]:
    """Per client: revenue (payments in the period), cost (the cost of the client's deals won
    in the period) and margin = revenue − cost (`page`: the part of the list to give,
    list_page.py)."""
    link = q.keyed_linker("deals", "client")
    if page.whole:
        rows, totals = _profitability_written(ch, q, link) or _profitability_read(ch, q, link)
        return {**q.header("client-profitability"), "totals": totals, "rows": rows}
    (rows, totals), total = _profitability_page(ch, q, link, page)
    return {
        **q.header("client-profitability"),
        "totals": totals,
        "rows": rows,
        "page": page.answer(total),
    }
