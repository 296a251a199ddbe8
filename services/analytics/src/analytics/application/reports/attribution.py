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
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.attribution_query import (
    OWNER_PATHS,
    credit_by_group,
    report,
    weighted,
)
from analytics.application.reports.attribution_query import credited_deals as credited_query
from analytics.application.reports.common import in_period, paid_in
from analytics.application.reports.filters import (
    OWN_TOUCH_COLUMNS,
    TOUCH_FIELDS,
    deal_conditions,
    deals_only,
    own_touch_conditions,
    touch_conditions,
    touch_selected,
)
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql
from analytics.domain.attribution import MODELS
from analytics.domain.channels import classify
from crm_contracts.events import Touch
from crm_contracts.runtime.errors import Invalid

# How many leads received in the period, and leads that opened a deal in it, came through
# each group (by the lead's own touch, the touch filters on it); one read of the touches. The
# sets stay out of WHERE: there, on the sort key, the engine would look up every lead of
# them in the index, which costs more than the read (HAVING drops the groups of neither).
# Per own touch (each lead's, as its row keeps it): the leads received in the period, and
# those that opened a deal in it (received at any time).
OWN_TOUCH_COUNTS = Sql("""
SELECT {group} AS grp, countIf({received_in}) AS leads, countIf(lead_id IN ({opened})) AS deals
FROM {db}.leads FINAL
WHERE {selected}
GROUP BY grp
HAVING leads > 0 OR deals > 0
""")


ZERO = Decimal(0)
CENT = Decimal("0.01")

DEALS_SQL = Sql("""
SELECT deal_id, lead_id, client_id, opened_at, status, closed_at
FROM {db}.deals FINAL WHERE {where}
""")
# Every deal's payments in the period: `credited` joins them to the filtered deals.
PAID_SQL = Sql("SELECT deal_id, sum(amount_base) AS revenue FROM ({paid}) GROUP BY deal_id")
OPENED_SQL = Sql("SELECT lead_id FROM ({deals}) WHERE {opened_in}")
SPEND_SQL = Sql(
    "SELECT source, medium, campaign, sum(cost_base) AS cost FROM {db}.ad_spend FINAL "
    "WHERE date >= {first_day:Date} AND date < {end_day:Date} "
    "GROUP BY source, medium, campaign"
)


def _group_of(group_by: str, row: dict[str, Any]) -> str:
    value = row[group_by]
    return value or _empty(group_by)


def _empty(group_by: str) -> str:
    return "(none)" if group_by == "campaign" else "(unknown)"


def _values_of(group_by: str, key: str) -> list[str]:
    """The stored values a row's key stands for (its label of the empty value is both)."""
    return [key, ""] if key == _empty(group_by) else [key]


def _deals(q: ReportQuery) -> Sql:
    """The deals attribution looks at (those won or paid in the period are credited). Pipeline
    and manager filter the deals; channel / source / campaign select touches
    (`filters.touch_conditions`)."""
    return DEALS_SQL.fill(where=deal_conditions(deals_only(q)))


def _weighted(
    q: ReportQuery,
    model: str,
    lookback_days: int,
    half_life_days: float,
    paths: Sql = OWNER_PATHS,
) -> Sql:
    """The credited deals' paths with the model's weights (`attribution_query.weighted`)."""
    return weighted(
        model,
        deals=_deals(q),
        paid=PAID_SQL.fill(paid=paid_in(q)),
        closed_in=in_period("d.closed_at", q.period),
        lookback_days=lookback_days,
        half_life_days=half_life_days,
        paths=paths,
    )


def credit_of_groups(
    ch: ClickHouse,
    q: ReportQuery,
    model: str,
    group_by: str,
    lookback_days: int,
    half_life_days: float,
    paths: Sql = OWNER_PATHS,
) -> list[dict[str, Any]]:
    """Per stored value of the group (`grp`) the selected touches' credit: `won` and
    `revenue`, exact sums (Decimal) for the report to round. One query; no path leaves the
    engine. `paths`: where the paths come from (`attribution_query.OWNER_PATHS`, or a reference)."""
    ctes = _weighted(q, model, lookback_days, half_life_days, paths)
    return ch.select(credit_by_group(ctes, model, group_by, touch_conditions(q)))


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
    ctes = _weighted(q, model, lookback_days, half_life_days)
    rows = ch.select(credited_query(ctes, model, touch_conditions(q), group_by, groups or []))
    won = {r["deal_id"] for r in rows if r["won"]}
    paid = {r["deal_id"] for r in rows if r["paid"]}
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
    if group_by not in TOUCH_FIELDS:  # a column name of the paths and the touches
        raise Invalid(f"one of {', '.join(TOUCH_FIELDS)}", "group_by")
    credits, counts, spend = _parts(ch, q, model, group_by, lookback_days, half_life_days)
    credit: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"won": Decimal(0), "revenue": Decimal(0), "leads": 0, "deals": 0, "spend": ZERO}
    )
    for grp, won, revenue in credits:  # a row per group, not per deal
        key = grp or _empty(group_by)
        credit[key]["won"] += won
        credit[key]["revenue"] += revenue
    for grp, leads, opened in counts:
        group = credit[grp or _empty(group_by)]
        group["leads"] += leads
        group["deals"] += opened
    for source, medium, campaign, cost in spend:
        touch = Touch(
            utm_source=source or None, utm_medium=medium or None, utm_campaign=campaign or None
        )
        row = {
            "channel": (channel_of_spend or classify)(touch),
            "source": source.lower(),
            "campaign": campaign,
        }
        if touch_selected(q, row):
            credit[_group_of(group_by, row)]["spend"] += Decimal(cost)

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


def _parts(
    ch: ClickHouse,
    q: ReportQuery,
    model: str,
    group_by: str,
    lookback_days: int,
    half_life_days: float,
) -> tuple[list[tuple[Any, ...]], ...]:
    """The credit (grp, won, revenue), the own-touch counts (grp, leads, deals) of the
    selected touches and the spend rows (source, medium, campaign, cost) of the period, read
    by one statement (one snapshot of the tables)."""
    selected = touch_conditions(q)
    opened = OPENED_SQL.fill(deals=_deals(q), opened_in=in_period("opened_at", q.period))
    counts = OWN_TOUCH_COUNTS.fill(
        group=OWN_TOUCH_COLUMNS[group_by],  # a column name
        received_in=in_period("received_at", q.period),
        opened=opened,
        selected=own_touch_conditions(q),
    )
    spend = SPEND_SQL.bind(first_day=q.period.local(q.period.start).date(), end_day=_end_day(q))
    ctes = _weighted(q, model, lookback_days, half_life_days)
    row = ch.select(report(ctes, model, group_by, selected, counts, spend))[0]
    return row["credit"], row["counts"], row["spend"]


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
