"""Drill-down: the rows behind a report's number, with the same period and filters plus a
selection (`basis` and friends), sorted and paged. Every selection follows the SQL (or the
code) of the report whose number it opens, so the list's `total` is that number. No raw
contacts: ids and hashes only.

A selection that does not fit its basis, or names what does not exist, is refused with a
`Invalid` naming the field (422), never ignored: an ignored selection lists other rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.attribution import credited_deals
from analytics.application.reports.cohorts import cohort_clients
from analytics.application.reports.common import (
    filtered_deals,
    furthest_stage,
    in_period,
    payments_between,
)
from analytics.application.reports.filters import (
    OWN_TOUCH_COLUMNS,
    TOUCH_FIELDS,
    deals_only,
    own_touch_conditions,
)
from analytics.application.reports.funnel import LOST_REASON
from analytics.application.reports.leads import own_leads
from analytics.application.reports.money import abc_ranks, repeat_set, win_back_clients
from analytics.application.reports.pipelines import load_pipeline, load_pipelines
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql, placeholder
from analytics.domain.attribution import MODELS
from crm_contracts.runtime.errors import Invalid

EXPORT_CAP = 100_000  # rows of one CSV export

# The period-bound bases (`start`, `end`: the query's period).
DEAL_BASES = {
    "opened": Sql("{opened_in}"),
    "won": Sql("status = 'won' AND {closed_in}"),
    "lost": Sql("status = 'lost' AND {closed_in}"),
    "open_now": Sql("status = 'open' AND opened_at < {end:DateTime64(3)}"),
}
# `paid`: a payment in the period; `lead_received`: opened from a lead received in the period
# (the lead funnel's cohort, whenever the deal was opened).
DEAL_BASIS_NAMES = (*DEAL_BASES, "paid", "lead_received")
LEAD_BASES = ("received", "opened_deal")
CLIENT_BASES = ("paid", "won", "repeat", "win_back", "first_paid")

DEAL_FIELDS = (
    "deal_id",
    "lead_id",
    "client_id",
    "pipeline_id",
    "title",
    "stage",
    "status",
    "manager_id",
    "amount",
    "cost",
    "currency",
    "paid_total",
    "opened_at",
    "closed_at",
    "lost_reason",
)
LEAD_FIELDS = (
    "lead_id",
    "received_at",
    "form_id",
    "lead_source",
    "channel",
    "source",
    "campaign",
    "phone_hash",
    "email_hash",
)
CLIENT_FIELDS = ("client_id", "revenue", "payments", "last_paid_at", "won_deals")

MAX_AMOUNT = Decimal(10) ** 17  # above any Decimal(18, 2): a larger bound changes nothing
CENT = Decimal("0.01")
MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Listing:
    """A drill-down as one SELECT: its columns, default order and the id breaking ties;
    `rows`, when given, a cheaper SELECT with as many rows, for the total."""

    sql: Sql
    columns: tuple[str, ...]
    order: str
    id_column: str
    rows: Sql | None = None


# ---------------------------------------------------------------- paging, sorting, export


def order_by(listing: Listing, sort: str | None) -> str:
    """`sort` is a column of the rows, `-column` for descending; ties go by id."""
    if not sort:
        return listing.order
    column = sort.removeprefix("-")
    if column not in listing.columns:
        raise Invalid(f"one of {', '.join(listing.columns)}, optionally with a -", "sort")
    direction = "DESC" if sort.startswith("-") else "ASC"
    tie = "" if column == listing.id_column else f", {listing.id_column}"
    return f"{column} {direction}{tie}"


def page(
    ch: ClickHouse, listing: Listing, limit: int, offset: int, sort: str | None = None
) -> dict[str, Any]:
    order = order_by(listing, sort)  # columns of the listing, checked
    count = Sql("SELECT count() AS n FROM ({listing})").fill(listing=listing.rows or listing.sql)
    rows_sql = Sql(
        "SELECT * FROM ({listing}) ORDER BY {order} "
        "LIMIT {page_limit:UInt32} OFFSET {page_offset:UInt32}"
    ).fill(listing=listing.sql, order=order)
    with ch.consistent():
        total = ch.select(count)[0]["n"]
        rows = ch.select(rows_sql.bind(page_limit=limit, page_offset=offset))
    return {"total": total, "limit": limit, "offset": offset, "rows": rows}


def export(
    ch: ClickHouse, listing: Listing, sort: str | None = None, cap: int = EXPORT_CAP
) -> dict[str, Any]:
    """All the rows (up to `cap`) in order, for a CSV file; `total` tells if some were cut."""
    return page(ch, listing, cap, 0, sort)


# ---------------------------------------------------------------- deals


def deals_listing(ch: ClickHouse, q: ReportQuery, basis: str, selection: dict[str, Any]) -> Listing:
    """Deals of a basis (see DEAL_BASIS_NAMES) narrowed by the selection. With `model` (the
    attribution's deals) or `basis=lead_received` (the lead funnel's) the deals are filtered by
    pipeline and manager only and channel / source / campaign select touches, as there."""
    sel = {k: v for k, v in selection.items() if v is not None and v is not False}
    _check_deal_selection(basis, sel)
    touch_scoped = basis == "lead_received" or "model" in sel
    scope = deals_only(q) if touch_scoped else q
    sql = DEALS_LISTING.fill(
        deals=filtered_deals(scope), where=Sql.all(_deal_parts(ch, q, scope, basis, sel))
    )
    return Listing(sql, DEAL_FIELDS, "opened_at, deal_id", "deal_id")


def drill_deals(
    ch: ClickHouse,
    q: ReportQuery,
    basis: str,
    selection: dict[str, Any],
    limit: int,
    offset: int,
    sort: str | None = None,
) -> dict[str, Any]:
    return page(ch, deals_listing(ch, q, basis, selection), limit, offset, sort)


DEALS_LISTING = Sql("SELECT " + ", ".join(DEAL_FIELDS) + " FROM ({deals}) WHERE {where}")


def _check_deal_selection(basis: str, sel: dict[str, Any]) -> None:
    if basis not in DEAL_BASIS_NAMES:
        raise Invalid(f"one of {', '.join(DEAL_BASIS_NAMES)}", "basis")
    if "repeat" in sel and basis != "won":
        raise Invalid("only with basis=won", "repeat")
    if "model" in sel:
        if sel["model"] not in MODELS:
            raise Invalid(f"one of {', '.join(MODELS)}", "model")
        if basis not in ("won", "paid"):
            raise Invalid("with model: won or paid", "basis")
    for name in ("lookback_days", "half_life_days"):
        if name in sel and "model" not in sel:
            raise Invalid("only with model", name)
    if "group_by" in sel or "group" in sel:
        _check_group(sel)
        if basis != "lead_received" and "model" not in sel:
            raise Invalid("only with basis=lead_received or a model", "group_by")


def _check_group(sel: dict[str, Any]) -> None:
    if "group_by" not in sel:
        raise Invalid("required with group", "group_by")
    if sel["group_by"] not in TOUCH_FIELDS:
        raise Invalid(f"one of {', '.join(TOUCH_FIELDS)}", "group_by")
    if not sel.get("group"):
        raise Invalid("required with group_by", "group")
    if any(len(g) > 200 for g in sel["group"]):
        raise Invalid("at most 200 characters each", "group")


def _deal_parts(
    ch: ClickHouse, q: ReportQuery, scope: ReportQuery, basis: str, sel: dict[str, Any]
) -> list[Sql]:
    """Conditions on a deals row, each with its parameters."""
    basis_part = _basis_part(q, scope, basis, sel)
    parts = [basis_part]
    for name, column in (
        ("stage", "stage"),
        ("status", "status"),
        ("client", "client_id"),
        ("lost_at_stage", "lost_at_stage"),
        ("lost_reason", LOST_REASON),  # as the funnel groups them: '' is 'unspecified'
    ):
        if name in sel:
            parts.append(Sql.equals(column, "s_" + name, sel[name]))
    flags = {
        "with_client": Sql("client_id != ''"),
        "paid_ever": Sql("paid_total > 0"),
    }
    parts += [condition for name, condition in flags.items() if name in sel]
    if "repeat" in sel:
        parts.append(Sql("deal_id IN ({repeat})").fill(repeat=repeat_set(scope, "repeat_deals")))
    if "reached_stage" in sel:
        parts.append(_reached_part(ch, q, sel))
    if "open_stage" in sel:
        parts.append(_open_stage_part(ch))
    parts += _amount_parts(sel)
    if "model" in sel:
        parts.append(_credited_part(ch, q, basis, sel))
    return parts


def _basis_part(q: ReportQuery, scope: ReportQuery, basis: str, sel: dict[str, Any]) -> Sql:
    if basis == "paid":
        paid = payments_between(scope)
        return Sql("deal_id IN (SELECT deal_id FROM ({paid}))").fill(paid=paid)
    if basis == "lead_received":
        own = own_leads(q, sel.get("group_by", "channel"))
        if "group" not in sel:
            return Sql("lead_id IN (SELECT lead_id FROM ({own}))").fill(own=own)
        return Sql(
            "lead_id IN (SELECT lead_id FROM ({own}) WHERE key IN {s_group:Array(String)})",
            {"s_group": list(sel["group"])},
        ).fill(own=own)
    return (
        DEAL_BASES[basis]
        .fill(
            opened_in=in_period("opened_at", q.period), closed_in=in_period("closed_at", q.period)
        )
        .bind(end=q.period.params()["end"])
    )


def _reached_part(ch: ClickHouse, q: ReportQuery, sel: dict[str, Any]) -> Sql:
    """Entered the stage or any later one (the funnel's `reached`: a skipped stage counts),
    from the summary of stays on the deal's latest row, as the funnels read it."""
    stages = sel.get("stages_order")
    if stages is None:
        stages = [s.name for s in load_pipeline(ch, q.pipeline).funnel_stages]
    if sel["reached_stage"] not in stages:
        raise Invalid(f"one of {', '.join(stages)}", "reached_stage")
    return Sql(
        "{reach} >= indexOf({s_stages:Array(String)}, {s_reached:String})",
        {"s_stages": list(stages), "s_reached": sel["reached_stage"]},
    ).fill(reach=furthest_stage("s_stages"))


def _open_stage_part(ch: ClickHouse) -> Sql:
    """In an open stage of its pipeline as defined (the weighted pipeline's rows)."""
    pairs = [
        (p.id, s.name) for p in load_pipelines(ch).values() for s in p.stages if s.kind == "open"
    ]
    return Sql(
        "has({s_open:Array(Tuple(String, String))}, (pipeline_id, stage))", {"s_open": pairs}
    )


def _amount_parts(sel: dict[str, Any]) -> list[Sql]:
    """The amount-distribution buckets: amount_min ≤ amount < amount_max, the deal's amount in
    the base currency as the report buckets it. Amounts have cents, so a bound rounded up to
    a cent selects the same deals."""
    bounds = {n: _amount(n, sel[n]) for n in ("amount_min", "amount_max") if n in sel}
    if len(bounds) == 2 and bounds["amount_min"][0] >= bounds["amount_max"][0]:
        raise Invalid("must be greater than amount_min", "amount_max")
    ops = {"amount_min": ">=", "amount_max": "<"}
    return [
        Sql(
            "amount_base " + ops[n] + " " + placeholder("s_" + n, "Decimal(38, 2)"),
            {"s_" + n: cents},
        )
        for n, (_, cents) in bounds.items()
    ]


def _amount(name: str, raw: str) -> tuple[Decimal, Decimal]:
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        raise Invalid("a non-negative amount, e.g. 10000 or 99.5", name) from None
    if not value.is_finite() or value < 0:
        raise Invalid("a non-negative amount, e.g. 10000 or 99.5", name)
    value = min(value, MAX_AMOUNT)
    return value, value.quantize(CENT, rounding=ROUND_CEILING)


def _credited_part(ch: ClickHouse, q: ReportQuery, basis: str, sel: dict[str, Any]) -> Sql:
    """Deals whose attribution path credits the group (see `credited_deals`)."""
    won, paid = credited_deals(
        ch,
        q,
        sel["model"],
        sel.get("lookback_days", 90),
        sel.get("half_life_days", 7.0),
        sel.get("group_by"),
        sel.get("group"),
    )
    ids = won if basis == "won" else paid
    return Sql("deal_id IN {s_ids:Array(String)}", {"s_ids": sorted(ids)})


# ---------------------------------------------------------------- leads

# A lead's own touch as its row keeps it (OWN_TOUCH_COLUMNS), renamed outside the query
# that filters, so that no alias there shadows a column of the row.
LEADS_SQL = Sql("""
SELECT lead_id, received_at, form_id, lead_source, channel, touch_source AS source, campaign,
       phone_hash, email_hash
FROM (
    SELECT l.lead_id AS lead_id, l.received_at AS received_at, l.form_id AS form_id,
           l.source AS lead_source, l.channel AS channel, l.touch_source AS touch_source,
           l.utm_campaign AS campaign, l.phone_hash AS phone_hash, l.email_hash AS email_hash
    FROM {db}.leads AS l FINAL
    WHERE {where}
)
""")


def leads_listing(
    q: ReportQuery, basis: str = "received", sel: dict[str, Any] | None = None
) -> Listing:
    """Leads by their own touch (channel / source / campaign filters and `group` on it):
    `received` in the period (the funnels' and attribution's `leads`), or `opened_deal`: that
    opened a deal in the period, pipeline and manager filters on the deal (attribution's
    `deals`)."""
    sel = {k: v for k, v in (sel or {}).items() if v is not None}
    conditions = [own_touch_conditions(q, "l")]
    if basis == "received":
        conditions.append(in_period("l.received_at", q.period))
    elif basis == "opened_deal":
        opened_in = in_period("opened_at", q.period)
        conditions.append(
            Sql("l.lead_id IN (SELECT lead_id FROM ({deals}) WHERE {opened_in})").fill(
                deals=filtered_deals(deals_only(q)), opened_in=opened_in
            )
        )
    else:
        raise Invalid(f"one of {', '.join(LEAD_BASES)}", "basis")
    if "group_by" in sel or "group" in sel:
        _check_group(sel)  # group_by is one of TOUCH_FIELDS
        conditions.append(
            Sql("l.{column} IN {s_group:Array(String)}", {"s_group": list(sel["group"])}).fill(
                column=OWN_TOUCH_COLUMNS[sel["group_by"]]
            )
        )
    sql = LEADS_SQL.fill(where=Sql.all(conditions))
    return Listing(sql, LEAD_FIELDS, "received_at, lead_id", "lead_id")


def drill_leads(
    ch: ClickHouse,
    q: ReportQuery,
    limit: int,
    offset: int,
    basis: str = "received",
    selection: dict[str, Any] | None = None,
    sort: str | None = None,
) -> dict[str, Any]:
    return page(ch, leads_listing(q, basis, selection), limit, offset, sort)


# ---------------------------------------------------------------- clients

CHOSEN_CLIENTS = Sql("SELECT DISTINCT client_id FROM ({chosen}) WHERE {where}")
PAID_BY_CLIENT = Sql("""
SELECT client_id, sum(amount) AS revenue, count() AS payments,
       toNullable(max(paid_at)) AS last_paid_at
FROM ({paid}) GROUP BY client_id
""")
WON_BY_CLIENT = Sql("""
SELECT client_id, count() AS won_deals FROM ({deals})
WHERE status = 'won' AND {closed_in}
GROUP BY client_id
""")
# One row per chosen client: the joined sides are grouped by client.
CLIENTS_SQL = Sql("""
SELECT c.client_id AS client_id, p.revenue AS revenue, p.payments AS payments,
       p.last_paid_at AS last_paid_at, w.won_deals AS won_deals
FROM ({clients}) AS c
LEFT JOIN ({by_client}) AS p ON p.client_id = c.client_id
LEFT JOIN ({won}) AS w ON w.client_id = c.client_id
""")
# The same rows when the chosen clients are those who paid: their payments are the rows
# grouped, read once.
PAYING_CLIENTS_SQL = Sql("""
SELECT p.client_id AS client_id, p.revenue AS revenue, p.payments AS payments,
       p.last_paid_at AS last_paid_at, w.won_deals AS won_deals
FROM (SELECT * FROM ({by_client}) WHERE {where}) AS p
LEFT JOIN ({won}) AS w ON w.client_id = p.client_id
""")


def clients_listing(
    ch: ClickHouse, q: ReportQuery, basis: str = "paid", sel: dict[str, Any] | None = None
) -> Listing:
    """Clients of a basis, each with its revenue, payments and won deals in the period:
    `paid` (a payment in the period: active clients, ABC with `abc_class`), `won` and `repeat`
    (repeat sales), `win_back` (active clients), `first_paid` with `cohort` and optionally
    `cohort_offset` (cohorts)."""
    sel = {k: v for k, v in (sel or {}).items() if v is not None}
    chosen = _client_set(q, basis, sel)
    where = Sql("client_id != ''")
    if "abc_class" in sel:
        if basis != "paid":
            raise Invalid("only with basis=paid", "abc_class")
        ids = [r["client_id"] for r in abc_ranks(ch, q) if r["class"] == sel["abc_class"]]
        where = where & Sql("client_id IN {s_ids:Array(String)}", {"s_ids": ids})
    clients = CHOSEN_CLIENTS.fill(chosen=chosen, where=where)
    paid = payments_between(q)
    won = WON_BY_CLIENT.fill(deals=filtered_deals(q), closed_in=in_period("closed_at", q.period))
    by_client = PAID_BY_CLIENT.fill(paid=paid)
    if basis == "paid":  # `chosen` is `paid`, and `where` is on the client alone
        sql = PAYING_CLIENTS_SQL.fill(by_client=by_client, where=where, won=won)
    else:
        sql = CLIENTS_SQL.fill(clients=clients, by_client=by_client, won=won)
    return Listing(sql, CLIENT_FIELDS, "revenue DESC, client_id", "client_id", clients)


def drill_clients(
    ch: ClickHouse,
    q: ReportQuery,
    limit: int,
    offset: int,
    basis: str = "paid",
    selection: dict[str, Any] | None = None,
    sort: str | None = None,
) -> dict[str, Any]:
    return page(ch, clients_listing(ch, q, basis, selection), limit, offset, sort)


def _client_set(q: ReportQuery, basis: str, sel: dict[str, Any]) -> Sql:
    """A SELECT whose `client_id` column holds the clients of the basis."""
    if basis != "first_paid":
        for name in ("cohort", "cohort_offset"):
            if name in sel:
                raise Invalid("only with basis=first_paid", name)
    if basis == "paid":
        return payments_between(q)
    if basis == "won":
        return repeat_set(q, "clients")
    if basis == "repeat":
        return repeat_set(q, "repeat_clients")
    if basis == "win_back":
        return win_back_clients(q)
    if basis == "first_paid":
        if "cohort" not in sel:
            raise Invalid("required with basis=first_paid (YYYY-MM)", "cohort")
        return cohort_clients(q, _month("cohort", sel["cohort"]), sel.get("cohort_offset", 0))
    raise Invalid(f"one of {', '.join(CLIENT_BASES)}", "basis")


def _month(name: str, raw: str) -> date:
    match = MONTH.fullmatch(raw.strip())
    if not match or not 1970 <= int(match[1]) <= 2200 or not 1 <= int(match[2]) <= 12:
        raise Invalid("a month as YYYY-MM", name)
    return date(int(match[1]), int(match[2]), 1)
