"""Drill-down: the rows behind a report's number, with the same period and filters plus a
selection (`basis` and friends), paged. No raw contacts: ids and hashes only."""

from __future__ import annotations

from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.reports.common import base_params, filtered_deals, payments_between
from analytics.reports.query import ReportQuery
from crm_contracts.runtime.errors import FieldError

IN_PERIOD = "{col} >= {{start:DateTime64(3)}} AND {col} < {{end:DateTime64(3)}}"
DEAL_BASES = {
    "opened": IN_PERIOD.format(col="opened_at"),
    "won": "status = 'won' AND " + IN_PERIOD.format(col="closed_at"),
    "lost": "status = 'lost' AND " + IN_PERIOD.format(col="closed_at"),
    "open_now": "status = 'open' AND opened_at < {end:DateTime64(3)}",
}
DEAL_COLUMNS = (
    "deal_id, lead_id, client_id, pipeline_id, title, stage, status, manager_id, "
    "amount, cost, currency, paid_total, opened_at, closed_at, lost_reason"
)


def drill_deals(
    ch: ClickHouse,
    q: ReportQuery,
    basis: str,
    selection: dict[str, str | None],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    deals_sql, _ = filtered_deals(q)
    conditions, params = [], base_params(q)
    if basis == "paid":
        conditions.append(f"deal_id IN (SELECT deal_id FROM ({payments_between(q)}))")
    elif basis in DEAL_BASES:
        conditions.append(DEAL_BASES[basis])
    else:
        raise FieldError("basis", f"one of {', '.join([*DEAL_BASES, 'paid'])}")
    for name, column in (("stage", "stage"), ("status", "status"), ("client", "client_id")):
        if selection.get(name):
            conditions.append(f"{column} = {{s_{name}:String}}")
            params[f"s_{name}"] = selection[name]
    if selection.get("reached_stage"):
        conditions.append(
            "deal_id IN (SELECT deal_id FROM {db}.deal_stage_intervals FINAL "
            "GROUP BY deal_id HAVING max(indexOf({stages:Array(String)}, stage)) >= "
            "indexOf({stages:Array(String)}, {s_reached:String}))"
        )
        params["s_reached"] = selection["reached_stage"]
        params["stages"] = selection.get("stages_order") or []
    where = " AND ".join(conditions)
    return _page(
        ch,
        f"SELECT {DEAL_COLUMNS} FROM ({deals_sql}) WHERE {where}",
        "opened_at, deal_id",
        params,
        limit,
        offset,
    )


def drill_leads(ch: ClickHouse, q: ReportQuery, limit: int, offset: int) -> dict[str, Any]:
    conditions, params = [], base_params(q)
    for name in ("channel", "source", "campaign"):
        if getattr(q, name):
            conditions.append(f"t.{name} = {{t_{name}:String}}")
            params[f"t_{name}"] = getattr(q, name)
    sql = (
        "SELECT l.lead_id AS lead_id, l.received_at AS received_at, l.form_id AS form_id, "
        "l.source AS lead_source, t.channel AS channel, t.source AS source, "
        "t.campaign AS campaign, l.phone_hash AS phone_hash, l.email_hash AS email_hash "
        "FROM {db}.leads AS l FINAL INNER JOIN "
        "(SELECT * FROM {db}.touchpoints FINAL WHERE kind = 'lead') AS t "
        "ON t.lead_id = l.lead_id WHERE l.received_at >= {start:DateTime64(3)} "
        f"AND l.received_at < {{end:DateTime64(3)}} AND {' AND '.join(conditions) or '1'}"
    )
    return _page(ch, sql, "received_at, lead_id", params, limit, offset)


def drill_clients(ch: ClickHouse, q: ReportQuery, limit: int, offset: int) -> dict[str, Any]:
    sql = (
        f"SELECT client_id, sum(amount) AS revenue, count() AS payments, "
        f"max(paid_at) AS last_paid_at FROM ({payments_between(q)}) "
        "WHERE client_id != '' GROUP BY client_id"
    )
    return _page(ch, sql, "revenue DESC, client_id", base_params(q), limit, offset)


def _page(
    ch: ClickHouse, sql: str, order: str, params: dict[str, Any], limit: int, offset: int
) -> dict[str, Any]:
    with ch.consistent():
        total = ch.rows(f"SELECT count() AS n FROM ({sql})", params)[0]["n"]
        rows = ch.rows(
            f"SELECT * FROM ({sql}) ORDER BY {order} LIMIT {{limit:UInt32}} "
            "OFFSET {offset:UInt32}",
            params | {"limit": limit, "offset": offset},
        )
    return {"total": total, "limit": limit, "offset": offset, "rows": rows}
