"""Marketing attribution (docs/reports.md).
The path of a deal is the touches of its client (of every
lead that opened one of the client's deals; of its own lead when there is no client) with time
≤ the deal's opening and within the lookback window, oldest first. Credit for a deal won in
the period (conversions) and for its payments in the period (revenue) is split over the path
by the model. Per channel / source / campaign: leads and deals (by the opening lead's own
touch), won and revenue (credited), ad spend, CPL, CPO, ROMI, ДРР and average check."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.domain.attribution import MODELS, PathTouch, as_decimal, weights
from analytics.domain.channels import classify
from analytics.reports.common import in_period, payments_between
from analytics.reports.filters import deal_conditions, deals_only
from analytics.reports.query import ReportQuery
from analytics.reports.sql import Sql
from crm_contracts.events import Touch
from crm_contracts.runtime.errors import Invalid

GROUPS = {"channel": "channel", "source": "source", "campaign": "campaign"}


OWN_TOUCH_COUNTS = Sql(
    "SELECT channel, source, campaign, count() AS n FROM {db}.touchpoints FINAL "
    "WHERE kind = 'lead' AND lead_id IN ({lead_ids}) GROUP BY channel, source, campaign"
)


def own_touch_counts(lead_ids: Sql) -> Sql:
    """How many of the given leads came through each channel / source / campaign (by the
    lead's own touch)."""
    return OWN_TOUCH_COUNTS.fill(lead_ids=lead_ids)


ZERO = Decimal(0)
CENT = Decimal("0.01")

DEALS_SQL = Sql("""
SELECT deal_id, lead_id, client_id, opened_at, status, closed_at
FROM {db}.deals FINAL WHERE {where}
""")
WON_OR_PAID_SQL = Sql(
    "SELECT * FROM ({deals}) WHERE (status = 'won' AND {closed_in}) OR deal_id IN "
    "(SELECT deal_id FROM ({payments}))"
)
PAID_SQL = Sql("SELECT deal_id, sum(amount) AS revenue FROM ({payments}) GROUP BY deal_id")
RECEIVED_SQL = Sql("SELECT lead_id FROM {db}.leads FINAL WHERE {received_in}")
OPENED_SQL = Sql("SELECT lead_id FROM ({deals}) WHERE {opened_in}")
SPEND_SQL = Sql(
    "SELECT source, medium, campaign, sum(cost_base) AS cost FROM {db}.ad_spend FINAL "
    "WHERE date >= {first_day:Date} AND date < {end_day:Date} "
    "GROUP BY source, medium, campaign"
)

PATHS_SQL = Sql("""
WITH target AS ({targets}),
owners AS (
    SELECT lead_id, if(client_id != '', client_id, concat('lead:', lead_id)) AS owner
    FROM {db}.deals FINAL WHERE lead_id != ''
),
touches AS (
    SELECT DISTINCT o.owner AS owner, t.touch_at AS touch_at, t.channel AS channel,
           t.source AS source, t.campaign AS campaign
    FROM {db}.touchpoints AS t FINAL INNER JOIN owners AS o ON o.lead_id = t.lead_id
)
SELECT d.deal_id AS deal_id, d.opened_at AS opened_at,
       arraySort(x -> x.1, groupArray((t.touch_at, t.channel, t.source, t.campaign))) AS path
FROM (SELECT deal_id, opened_at, if(client_id != '', client_id, concat('lead:', lead_id))
             AS owner FROM target) AS d
INNER JOIN touches AS t ON t.owner = d.owner
WHERE t.touch_at <= d.opened_at
  AND t.touch_at >= d.opened_at - toIntervalDay({lookback:UInt32})
GROUP BY d.deal_id, d.opened_at
""")


def _selected(q: ReportQuery, touch: dict[str, Any]) -> bool:
    """The channel / source / campaign filters select touches (and their credit)."""
    return all(getattr(q, f) is None or touch[f] == getattr(q, f) for f in GROUPS)


def _group_of(group_by: str, row: dict[str, Any]) -> str:
    value = row[GROUPS[group_by]]
    return value or _empty(group_by)


def _empty(group_by: str) -> str:
    return "(none)" if group_by == "campaign" else "(unknown)"


def _values_of(group_by: str, key: str) -> list[str]:
    """The stored values a row's key stands for (its label of the empty value is both)."""
    return [key, ""] if key == _empty(group_by) else [key]


@dataclass(frozen=True)
class Share:
    """A touch's share of one deal won or paid in the period (zero shares are left out)."""

    deal_id: str
    won: bool  # won in the period: the share counts in `won`
    revenue: Decimal  # the deal's payments in the period
    touch: PathTouch
    weight: Decimal


def _deals(q: ReportQuery) -> tuple[Sql, Sql]:
    """The deals attribution looks at, and those of them won or paid in the period. Pipeline
    and manager filter the deals; channel / source / campaign select touches (`_selected`)."""
    scoped = deals_only(q)
    deals = DEALS_SQL.fill(where=deal_conditions(scoped))
    won_or_paid = WON_OR_PAID_SQL.fill(
        deals=deals,
        closed_in=in_period("closed_at", q.period),
        payments=payments_between(scoped),
    )
    return deals, won_or_paid


def shares(
    ch: ClickHouse, q: ReportQuery, model: str, lookback_days: int, half_life_days: float
) -> list[Share]:
    """Every selected touch's non-zero share of the deals won or paid in the period."""
    _, won_or_paid = _deals(q)
    paths_sql = PATHS_SQL.fill(targets=won_or_paid).bind(lookback=lookback_days)
    paid_sql = PAID_SQL.fill(payments=payments_between(deals_only(q)))
    with ch.consistent():
        targets = {r["deal_id"]: r for r in ch.select(won_or_paid)}
        paths = ch.select(paths_sql)
        paid = {r["deal_id"]: Decimal(r["revenue"]) for r in ch.select(paid_sql)}
    out = []
    for p in paths:
        deal = targets.get(p["deal_id"])
        if deal is None:
            continue
        opened_at = p["opened_at"].replace(tzinfo=UTC)
        path = [
            PathTouch(at.replace(tzinfo=UTC), ch_, src, camp) for at, ch_, src, camp in p["path"]
        ]
        won = (
            deal["status"] == "won"
            and q.period.start <= deal["closed_at"].replace(tzinfo=UTC) < q.period.end
        )
        revenue = paid.get(p["deal_id"], ZERO)
        for touch, w in zip(path, weights(model, path, opened_at, half_life_days), strict=True):
            if w and _selected(q, touch.__dict__):
                out.append(Share(p["deal_id"], won, revenue, touch, as_decimal(w)))
    return out


def credited_deals(
    ch: ClickHouse,
    q: ReportQuery,
    model: str,
    lookback_days: int,
    half_life_days: float,
    group_by: str | None = None,
    groups: list[str] | None = None,
) -> tuple[set[str], set[str]]:
    """The deals whose path credits the group (a touch whose `group_by` value is one of
    `groups`; any selected touch without them): those won in the period (under first_touch,
    last_touch and last_non_direct as many as the group's `won`; under the fractional models
    `won` sums shares and may differ from the count) and those paid in the period."""
    won, paid = set(), set()
    for share in shares(ch, q, model, lookback_days, half_life_days):
        if group_by is None or getattr(share.touch, GROUPS[group_by]) in (groups or []):
            if share.won:
                won.add(share.deal_id)
            if share.revenue:
                paid.add(share.deal_id)
    return won, paid


def attribution(
    ch: ClickHouse,
    q: ReportQuery,
    model: str = "last_touch",
    group_by: str = "channel",
    lookback_days: int = 90,
    half_life_days: float = 7.0,
    channel_of_spend: Callable[[Touch], str] | None = None,
) -> dict[str, Any]:
    """Per group: leads, deals (leads that opened one in the period), won and revenue
    credited, spend and the ratios. Links of each row and of `totals`: `drill` (leads),
    `drill_opened` (leads that opened a deal: `deals`), `drill_deals` (won deals whose path
    credits the group: `won` under the single-touch models, see `credited_deals`) and
    `drill_revenue` (deals paid in the period whose path credits it)."""
    if model not in MODELS:
        raise Invalid(f"one of {', '.join(MODELS)}", "model")
    if group_by not in GROUPS:
        raise Invalid(f"one of {', '.join(GROUPS)}", "group_by")
    deals, _ = _deals(q)
    received = RECEIVED_SQL.fill(received_in=in_period("received_at", q.period))
    opened_sql = OPENED_SQL.fill(deals=deals, opened_in=in_period("opened_at", q.period))
    first_day = q.period.local(q.period.start).date()
    with ch.consistent():
        credits = shares(ch, q, model, lookback_days, half_life_days)
        leads = ch.select(own_touch_counts(received))
        opened = ch.select(own_touch_counts(opened_sql))
        spend = ch.select(SPEND_SQL.bind(first_day=first_day, end_day=_end_day(q)))

    credit: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"won": Decimal(0), "revenue": Decimal(0), "leads": 0, "deals": 0, "spend": ZERO}
    )
    for share in credits:
        key = _group_of(group_by, share.touch.__dict__)
        if share.won:
            credit[key]["won"] += share.weight
        credit[key]["revenue"] += share.revenue * share.weight
    for r in filter(lambda r: _selected(q, r), leads):
        credit[_group_of(group_by, r)]["leads"] += r["n"]
    for r in filter(lambda r: _selected(q, r), opened):
        credit[_group_of(group_by, r)]["deals"] += r["n"]
    for r in spend:
        touch = Touch(
            utm_source=r["source"] or None,
            utm_medium=r["medium"] or None,
            utm_campaign=r["campaign"] or None,
        )
        row = {
            "channel": (channel_of_spend or classify)(touch),
            "source": r["source"].lower(),
            "campaign": r["campaign"],
        }
        if _selected(q, row):
            credit[_group_of(group_by, row)]["spend"] += Decimal(r["cost"])

    def links(key: str | None) -> dict[str, str]:
        group = {} if key is None else {"group_by": group_by, "group": _values_of(group_by, key)}
        credited = q.linker(
            "deals",
            model=model,
            lookback_days=lookback_days,
            half_life_days=half_life_days if model == "time_decay" else None,
            **group,
        )
        return {
            "drill": q.drill("leads", **group),
            "drill_opened": q.drill("leads", basis="opened_deal", **group),
            "drill_deals": credited(basis="won"),
            "drill_revenue": credited(basis="paid"),
        }

    rows = [_figures(group_by, key, c) | links(key) for key, c in sorted(credit.items())]
    totals = _figures(
        group_by,
        "total",
        {
            "won": sum((c["won"] for c in credit.values()), Decimal(0)),
            "revenue": sum((c["revenue"] for c in credit.values()), Decimal(0)),
            "leads": sum(c["leads"] for c in credit.values()),
            "deals": sum(c["deals"] for c in credit.values()),
            "spend": sum((c["spend"] for c in credit.values()), ZERO),
        },
    ) | links(None)
    totals.pop(group_by)
    return {
        **q.header("attribution"),
        "model": model,
        "group_by": group_by,
        "lookback_days": lookback_days,
        "totals": totals,
        "rows": rows,
    }


def _end_day(q: ReportQuery) -> date:
    """First local date not in the period (a period ending at 00:00 excludes that day)."""
    end = q.period.local(q.period.end)
    day = end.date()
    return day if end.time() == end.time().min else day + timedelta(days=1)


def _figures(group_by: str, key: str, c: dict[str, Any]) -> dict[str, Any]:
    won = c["won"]
    revenue = c["revenue"].quantize(CENT)
    spend = c["spend"]

    def pct(n: Decimal, d: Decimal) -> float | None:
        return round(float(n / d * 100), 2) if d else None

    def per(n: Decimal, d: Decimal | int) -> Decimal | None:
        return (n / Decimal(d)).quantize(CENT) if d else None

    return {
        group_by: key,
        "leads": c["leads"],
        "deals": c["deals"],
        "won": round(float(won), 4),
        "revenue": revenue,
        "spend": spend,
        "cpl": per(spend, c["leads"]),
        "cpo": per(spend, won) if won else None,
        "romi_pct": pct(revenue - spend, spend),
        "drr_pct": pct(spend, revenue),
        "average_check": per(revenue, won) if won else None,
    }
