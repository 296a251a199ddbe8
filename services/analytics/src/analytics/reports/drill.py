"""Drill-down: the rows behind a report's number, with the same period and filters plus a
selection (`basis` and friends), sorted and paged. Every selection follows the SQL (or the
code) of the report whose number it opens, so the list's `total` is that number. No raw
contacts: ids and hashes only.

A selection that does not fit its basis, or names what does not exist, is refused with a
FieldError naming the field (422), never ignored: an ignored selection lists other rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.domain.attribution import MODELS
from analytics.reports.attribution import credited_deals
from analytics.reports.cohorts import cohort_clients
from analytics.reports.common import base_params, filtered_deals, payments_between
from analytics.reports.filters import TOUCH_FIELDS, touch_conditions
from analytics.reports.funnel import LOST_REASON
from analytics.reports.leads import own_leads
from analytics.reports.money import abc_ranks, repeat_set, win_back_clients
from analytics.reports.pipelines import load_pipeline, load_pipelines
from analytics.reports.query import ReportQuery
from crm_contracts.runtime.errors import FieldError

EXPORT_CAP = 100_000  # rows of one CSV export

IN_PERIOD = "{col} >= {{start:DateTime64(3)}} AND {col} < {{end:DateTime64(3)}}"
DEAL_BASES = {
    "opened": IN_PERIOD.format(col="opened_at"),
    "won": "status = 'won' AND " + IN_PERIOD.format(col="closed_at"),
    "lost": "status = 'lost' AND " + IN_PERIOD.format(col="closed_at"),
    "open_now": "status = 'open' AND opened_at < {end:DateTime64(3)}",
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
    """A drill-down as one SELECT: its columns, default order and the id breaking ties."""

    sql: str
    params: dict[str, Any]
    columns: tuple[str, ...]
    order: str
    id_column: str


# ---------------------------------------------------------------- paging, sorting, export


def order_by(listing: Listing, sort: str | None) -> str:
    """`sort` is a column of the rows, `-column` for descending; ties go by id."""
    if not sort:
        return listing.order
    column = sort.removeprefix("-")
    if column not in listing.columns:
        raise FieldError("sort", f"one of {', '.join(listing.columns)}, optionally with a -")
    direction = "DESC" if sort.startswith("-") else "ASC"
    tie = "" if column == listing.id_column else f", {listing.id_column}"
    return f"{column} {direction}{tie}"


def page(
    ch: ClickHouse, listing: Listing, limit: int, offset: int, sort: str | None = None
) -> dict[str, Any]:
    order = order_by(listing, sort)
    with ch.consistent():
        total = ch.rows(f"SELECT count() AS n FROM ({listing.sql})", listing.params)[0]["n"]
        rows = ch.rows(
            f"SELECT * FROM ({listing.sql}) ORDER BY {order} "
            "LIMIT {page_limit:UInt32} OFFSET {page_offset:UInt32}",
            listing.params | {"page_limit": limit, "page_offset": offset},
        )
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
    scope = replace(q, channel=None, source=None, campaign=None) if touch_scoped else q
    deals_sql, _ = filtered_deals(scope)
    params = base_params(scope)
    conditions = []
    for part in _deal_parts(ch, q, scope, basis, sel):
        conditions.append(part[0])
        params |= part[1]
    sql = f"SELECT {', '.join(DEAL_FIELDS)} FROM ({deals_sql}) WHERE {' AND '.join(conditions)}"
    return Listing(sql, params, DEAL_FIELDS, "opened_at, deal_id", "deal_id")


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


Part = tuple[str, dict[str, Any]]  # a condition on a deals row and its parameters


def _check_deal_selection(basis: str, sel: dict[str, Any]) -> None:
    if basis not in DEAL_BASIS_NAMES:
        raise FieldError("basis", f"one of {', '.join(DEAL_BASIS_NAMES)}")
    if "repeat" in sel and basis != "won":
        raise FieldError("repeat", "only with basis=won")
    if "model" in sel:
        if sel["model"] not in MODELS:
            raise FieldError("model", f"one of {', '.join(MODELS)}")
        if basis not in ("won", "paid"):
            raise FieldError("basis", "with model: won or paid")
    for name in ("lookback_days", "half_life_days"):
        if name in sel and "model" not in sel:
            raise FieldError(name, "only with model")
    if "group_by" in sel or "group" in sel:
        _check_group(sel)
        if basis != "lead_received" and "model" not in sel:
            raise FieldError("group_by", "only with basis=lead_received or a model")


def _check_group(sel: dict[str, Any]) -> None:
    if "group_by" not in sel:
        raise FieldError("group_by", "required with group")
    if sel["group_by"] not in TOUCH_FIELDS:
        raise FieldError("group_by", f"one of {', '.join(TOUCH_FIELDS)}")
    if not sel.get("group"):
        raise FieldError("group", "required with group_by")
    if any(len(g) > 200 for g in sel["group"]):
        raise FieldError("group", "at most 200 characters each")


def _deal_parts(
    ch: ClickHouse, q: ReportQuery, scope: ReportQuery, basis: str, sel: dict[str, Any]
) -> list[Part]:
    parts = [_basis_part(q, scope, basis, sel)]
    for name, column in (
        ("stage", "stage"),
        ("status", "status"),
        ("client", "client_id"),
        ("lost_at_stage", "lost_at_stage"),
        ("lost_reason", LOST_REASON),  # as the funnel groups them: '' is 'unspecified'
    ):
        if name in sel:
            parts.append((f"{column} = {{s_{name}:String}}", {f"s_{name}": sel[name]}))
    flags = {
        "with_client": "client_id != ''",
        "paid_ever": "paid_total > 0",
    }
    parts += [(condition, {}) for name, condition in flags.items() if name in sel]
    if "repeat" in sel:
        sql, params = repeat_set(scope, "repeat_deals")
        parts.append((f"deal_id IN ({sql})", params))
    if "reached_stage" in sel:
        parts.append(_reached_part(ch, q, sel))
    if "open_stage" in sel:
        parts.append(_open_stage_part(ch))
    parts += _amount_parts(sel)
    if "model" in sel:
        parts.append(_credited_part(ch, q, basis, sel))
    return parts


def _basis_part(q: ReportQuery, scope: ReportQuery, basis: str, sel: dict[str, Any]) -> Part:
    if basis == "paid":
        return f"deal_id IN (SELECT deal_id FROM ({payments_between(scope)}))", {}
    if basis == "lead_received":
        own, params = own_leads(q, sel.get("group_by", "channel"))
        if "group" not in sel:
            return f"lead_id IN (SELECT lead_id FROM ({own}))", params
        sql = f"lead_id IN (SELECT lead_id FROM ({own}) WHERE key IN {{s_group:Array(String)}})"
        return sql, params | {"s_group": list(sel["group"])}
    return DEAL_BASES[basis], {}


def _reached_part(ch: ClickHouse, q: ReportQuery, sel: dict[str, Any]) -> Part:
    """Entered the stage or any later one (the funnel's `reached`: a skipped stage counts)."""
    stages = sel.get("stages_order")
    if stages is None:
        stages = [s.name for s in load_pipeline(ch, q.pipeline).funnel_stages]
    if sel["reached_stage"] not in stages:
        raise FieldError("reached_stage", f"one of {', '.join(stages)}")
    sql = (
        "deal_id IN (SELECT deal_id FROM {db}.deal_stage_intervals FINAL "
        "GROUP BY deal_id HAVING max(indexOf({s_stages:Array(String)}, stage)) >= "
        "indexOf({s_stages:Array(String)}, {s_reached:String}))"
    )
    return sql, {"s_stages": list(stages), "s_reached": sel["reached_stage"]}


def _open_stage_part(ch: ClickHouse) -> Part:
    """In an open stage of its pipeline as defined (the weighted pipeline's rows)."""
    pairs = [
        (p.id, s.name) for p in load_pipelines(ch).values() for s in p.stages if s.kind == "open"
    ]
    sql = "has({s_open:Array(Tuple(String, String))}, (pipeline_id, stage))"
    return sql, {"s_open": pairs}


def _amount_parts(sel: dict[str, Any]) -> list[Part]:
    """The amount-distribution buckets: amount_min ≤ amount < amount_max, the deal's amount in
    the base currency as the report buckets it. Amounts have cents, so a bound rounded up to
    a cent selects the same deals."""
    bounds = {n: _amount(n, sel[n]) for n in ("amount_min", "amount_max") if n in sel}
    if len(bounds) == 2 and bounds["amount_min"][0] >= bounds["amount_max"][0]:
        raise FieldError("amount_max", "must be greater than amount_min")
    ops = {"amount_min": ">=", "amount_max": "<"}
    return [
        (f"amount_base {ops[n]} {{s_{n}:Decimal(38, 2)}}", {f"s_{n}": cents})
        for n, (_, cents) in bounds.items()
    ]


def _amount(name: str, raw: str) -> tuple[Decimal, Decimal]:
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        raise FieldError(name, "a non-negative amount, e.g. 10000 or 99.5") from None
    if not value.is_finite() or value < 0:
        raise FieldError(name, "a non-negative amount, e.g. 10000 or 99.5")
    value = min(value, MAX_AMOUNT)
    return value, value.quantize(CENT, rounding=ROUND_CEILING)


def _credited_part(ch: ClickHouse, q: ReportQuery, basis: str, sel: dict[str, Any]) -> Part:
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
    return "deal_id IN {s_ids:Array(String)}", {"s_ids": sorted(ids)}


# ---------------------------------------------------------------- leads

LEADS_SQL = """
SELECT l.lead_id AS lead_id, l.received_at AS received_at, l.form_id AS form_id,
       l.source AS lead_source, t.channel AS channel, t.source AS source,
       t.campaign AS campaign, l.phone_hash AS phone_hash, l.email_hash AS email_hash
FROM {{db}}.leads AS l FINAL
INNER JOIN (SELECT * FROM {{db}}.touchpoints FINAL WHERE kind = 'lead') AS t
    ON t.lead_id = l.lead_id
WHERE {where}
"""


def leads_listing(
    q: ReportQuery, basis: str = "received", sel: dict[str, Any] | None = None
) -> Listing:
    """Leads by their own touch (channel / source / campaign filters and `group` on it):
    `received` in the period (the funnels' and attribution's `leads`), or `opened_deal`: that
    opened a deal in the period, pipeline and manager filters on the deal (attribution's
    `deals`)."""
    sel = {k: v for k, v in (sel or {}).items() if v is not None}
    conditions, params = touch_conditions(q, "t")
    params = base_params(q) | params
    if basis == "received":
        conditions.append(IN_PERIOD.format(col="l.received_at"))
    elif basis == "opened_deal":
        scope = replace(q, channel=None, source=None, campaign=None)
        deals_sql, _ = filtered_deals(scope)
        conditions.append(
            f"l.lead_id IN (SELECT lead_id FROM ({deals_sql}) WHERE "
            f"{IN_PERIOD.format(col='opened_at')})"
        )
    else:
        raise FieldError("basis", f"one of {', '.join(LEAD_BASES)}")
    if "group_by" in sel or "group" in sel:
        _check_group(sel)
        conditions.append(f"t.{sel['group_by']} IN {{s_group:Array(String)}}")
        params["s_group"] = list(sel["group"])
    sql = LEADS_SQL.format(where=" AND ".join(conditions))
    return Listing(sql, params, LEAD_FIELDS, "received_at, lead_id", "lead_id")


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

CLIENTS_SQL = """
SELECT c.client_id AS client_id, p.revenue AS revenue, p.payments AS payments,
       p.last_paid_at AS last_paid_at, w.won_deals AS won_deals
FROM (SELECT DISTINCT client_id FROM ({chosen}) WHERE {where}) AS c
LEFT JOIN (
    SELECT client_id, sum(amount) AS revenue, count() AS payments,
           toNullable(max(paid_at)) AS last_paid_at
    FROM ({paid}) GROUP BY client_id
) AS p ON p.client_id = c.client_id
LEFT JOIN (
    SELECT client_id, count() AS won_deals FROM ({deals})
    WHERE status = 'won' AND closed_at >= {{start:DateTime64(3)}}
      AND closed_at < {{end:DateTime64(3)}}
    GROUP BY client_id
) AS w ON w.client_id = c.client_id
"""


def clients_listing(
    ch: ClickHouse, q: ReportQuery, basis: str = "paid", sel: dict[str, Any] | None = None
) -> Listing:
    """Clients of a basis, each with its revenue, payments and won deals in the period:
    `paid` (a payment in the period: active clients, ABC with `abc_class`), `won` and `repeat`
    (repeat sales), `win_back` (active clients), `first_paid` with `cohort` and optionally
    `cohort_offset` (cohorts)."""
    sel = {k: v for k, v in (sel or {}).items() if v is not None}
    chosen, params = _client_set(q, basis, sel)
    where, extra = "client_id != ''", {}
    if "abc_class" in sel:
        if basis != "paid":
            raise FieldError("abc_class", "only with basis=paid")
        ids = [r["client_id"] for r in abc_ranks(ch, q) if r["class"] == sel["abc_class"]]
        where, extra = where + " AND client_id IN {s_ids:Array(String)}", {"s_ids": ids}
    deals_sql, _ = filtered_deals(q)
    sql = CLIENTS_SQL.format(chosen=chosen, where=where, paid=payments_between(q), deals=deals_sql)
    return Listing(
        sql, base_params(q) | params | extra, CLIENT_FIELDS, "revenue DESC, client_id", "client_id"
    )


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


def _client_set(q: ReportQuery, basis: str, sel: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A SELECT whose `client_id` column holds the clients of the basis."""
    if basis != "first_paid":
        for name in ("cohort", "cohort_offset"):
            if name in sel:
                raise FieldError(name, "only with basis=first_paid")
    if basis == "paid":
        return payments_between(q), {}
    if basis == "won":
        return repeat_set(q, "clients")
    if basis == "repeat":
        return repeat_set(q, "repeat_clients")
    if basis == "win_back":
        return win_back_clients(q)
    if basis == "first_paid":
        if "cohort" not in sel:
            raise FieldError("cohort", "required with basis=first_paid (YYYY-MM)")
        return cohort_clients(q, _month("cohort", sel["cohort"]), sel.get("cohort_offset", 0))
    raise FieldError("basis", f"one of {', '.join(CLIENT_BASES)}")


def _month(name: str, raw: str) -> date:
    match = MONTH.fullmatch(raw.strip())
    if not match or not 1970 <= int(match[1]) <= 2200 or not 1 <= int(match[2]) <= 12:
        raise FieldError(name, "a month as YYYY-MM")
    return date(int(match[1]), int(match[2]), 1)
