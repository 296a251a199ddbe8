"""The reports in PostgreSQL SQL, each as the service defines it (its ClickHouse SQL in
analytics.application.reports), answering in the shape bench/reports_pg.py compares with the
API's: the sales funnel, attribution (every model), ABC, active clients, dynamics by day, repeat
sales and client profitability, without filters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import psycopg

CENT = Decimal("0.01")
SNAP = Decimal("1e-18")  # attribution sums are rounded here before cents, as the service does


def cents(value: Any) -> str:
    return str(Decimal(value).quantize(CENT, ROUND_HALF_EVEN))


def moment(value: Any) -> str:
    """A moment as ISO 8601 in UTC (the API writes naive UTC ones with the offset)."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


# Each deal's amount in the base currency: at the latest rate on or before its closing date
# (today for an open deal); a currency without a rate keeps its amount.
FILTERED_DEALS = """
SELECT d.*, CASE WHEN d.currency = %(base)s OR coalesce(r.rate, 0) = 0 THEN d.amount
                 ELSE round(d.amount * r.rate, 2) END AS amount_base
FROM deals AS d
LEFT JOIN LATERAL (
    SELECT rate FROM currency_rates AS c
    WHERE c.currency = d.currency AND c.date <= coalesce(d.closed_at, now())::date
    ORDER BY c.date DESC LIMIT 1
) AS r ON true
"""

# Payments in [{start}, {end}) with client and manager resolved from the deal, in the base
# currency at the latest rate on or before the payment's date.
PAYMENTS_BETWEEN = """
SELECT p.payment_id, p.deal_id,
       CASE WHEN p.client_id <> '' THEN p.client_id ELSE d.client_id END AS client_id,
       CASE WHEN p.manager_id <> '' THEN p.manager_id ELSE d.manager_id END AS manager_id,
       CASE WHEN p.currency = %(base)s OR coalesce(r.rate, 0) = 0 THEN p.amount
            ELSE round(p.amount * r.rate, 2) END AS amount,
       p.paid_at
FROM payments AS p
JOIN deals AS d ON d.deal_id = p.deal_id
LEFT JOIN LATERAL (
    SELECT rate FROM currency_rates AS c
    WHERE c.currency = p.currency AND c.date <= p.paid_at::date
    ORDER BY c.date DESC LIMIT 1
) AS r ON true
WHERE p.paid_at >= %({start})s AND p.paid_at < %({end})s
"""


def payments_between(start: str = "start", end: str = "end") -> str:
    return PAYMENTS_BETWEEN.replace("{start}", start).replace("{end}", end)


COHORT = (
    "cohort AS (SELECT deal_id, stage, status, amount_base AS amount, lost_reason, lost_at_stage"
    f" FROM ({FILTERED_DEALS}) AS d WHERE pipeline_id = %(pipeline)s"
    " AND opened_at >= %(start)s AND opened_at < %(end)s)"
)
FUNNEL_STAGES = f"""
WITH {COHORT},
reach AS (
    SELECT deal_id, max(coalesce(array_position(%(stages)s::text[], stage), 0)) AS max_index
    FROM deal_stage_intervals WHERE deal_id IN (SELECT deal_id FROM cohort) GROUP BY deal_id
)
SELECT k, count(*) FILTER (WHERE coalesce(r.max_index, 0) >= k) AS reached,
       count(*) FILTER (WHERE array_position(%(stages)s::text[], c.stage) = k) AS current,
       coalesce(sum(c.amount) FILTER (WHERE coalesce(r.max_index, 0) >= k), 0) AS amount
FROM cohort AS c LEFT JOIN reach AS r USING (deal_id)
CROSS JOIN generate_series(1, cardinality(%(stages)s::text[])) AS k
GROUP BY k ORDER BY k
"""
FUNNEL_DURATIONS = f"""
WITH {COHORT}
SELECT stage, avg(extract(epoch FROM left_at) - extract(epoch FROM entered_at)) AS avg_seconds
FROM deal_stage_intervals
WHERE deal_id IN (SELECT deal_id FROM cohort) AND left_at IS NOT NULL
GROUP BY stage
"""
FUNNEL_LOST = f"""
WITH {COHORT}
SELECT lost_at_stage, lost_reason, count(*) AS deals FROM cohort WHERE status = 'lost'
GROUP BY lost_at_stage, lost_reason
"""


def funnel_stage_names(conn: psycopg.Connection[Any], pipeline_id: str) -> list[str]:
    """The pipeline's stages a deal advances through (as the service defines it; the
    built-in default when none was projected)."""
    from crm_contracts.pipelines import DEFAULT_PIPELINE, Pipeline, Stage

    row = conn.execute(
        "SELECT name, stage_names, stage_kinds FROM pipelines WHERE pipeline_id = %s",
        [pipeline_id],
    ).fetchone()
    if row is None:
        return [s.name for s in DEFAULT_PIPELINE.funnel_stages]
    stages = tuple(Stage(name=n, kind=k) for n, k in zip(row[1], row[2], strict=True))
    return [s.name for s in Pipeline(id=pipeline_id, name=row[0], stages=stages).funnel_stages]


def pg_sales_funnel(conn: psycopg.Connection[Any], q: dict[str, Any]) -> dict[str, Any]:
    from crm_contracts.pipelines import DEFAULT_PIPELINE

    pipeline = DEFAULT_PIPELINE.id
    names = funnel_stage_names(conn, pipeline)
    params = q | {"pipeline": pipeline, "stages": names}
    counts = {r[0]: r for r in conn.execute(FUNNEL_STAGES, params)}
    durations = dict(conn.execute(FUNNEL_DURATIONS, params).fetchall())
    by_stage: dict[str, int] = defaultdict(int)
    by_reason: dict[str, int] = defaultdict(int)
    for stage, reason, deals in conn.execute(FUNNEL_LOST, params):
        by_stage[stage] += deals
        by_reason[reason or "unspecified"] += deals
    stages = []
    for k, name in enumerate(names, start=1):
        _, reached, current, amount = counts.get(k, (k, 0, 0, 0))
        avg = durations.get(name)
        seconds = round(float(avg), 3) if avg is not None else None
        stages.append([name, reached, current, cents(amount), seconds])
    return {"stages": stages, "lost_by_stage": dict(by_stage), "lost_by_reason": dict(by_reason)}


ABC = f"""
WITH by_client AS (
    SELECT client_id, sum(amount) AS revenue FROM ({payments_between()}) AS p
    WHERE client_id <> '' GROUP BY client_id
),
ranked AS (
    SELECT client_id, revenue, row_number() OVER w AS rank,
           coalesce(sum(revenue) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS above,
           sum(revenue) OVER () AS total
    FROM by_client WINDOW w AS (ORDER BY revenue DESC, client_id COLLATE "C")
)
SELECT client_id, rank, revenue,
       CASE WHEN total = 0 THEN 0 ELSE above / total * 100 END AS before
FROM ranked ORDER BY rank
"""


def pg_abc(conn: psycopg.Connection[Any], q: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for client_id, rank, revenue, before in conn.execute(ABC, q):
        share = Decimal(before)
        cls = "A" if share < 80 else "B" if share < 95 else "C"
        rows.append([client_id, rank, cents(revenue), float(round(share, 4)), cls])
    total = sum((Decimal(r[2]) for r in rows), Decimal(0))
    return {"clients": len(rows), "revenue": cents(total), "rows": rows}


ACTIVE_CTE = f"""
WITH now_paid AS ({payments_between()}),
before_paid AS ({payments_between("pstart", "pend")})
"""
ACTIVE = (
    ACTIVE_CTE
    + """
SELECT (SELECT count(DISTINCT client_id) FROM now_paid WHERE client_id <> ''),
       (SELECT count(DISTINCT client_id) FROM before_paid WHERE client_id <> '')
"""
)
WIN_BACK = (
    ACTIVE_CTE
    + """
SELECT client_id, sum(amount) AS revenue_before, max(paid_at) AS last_paid_at
FROM before_paid AS b
WHERE client_id <> '' AND NOT EXISTS (SELECT FROM now_paid AS n WHERE n.client_id = b.client_id)
GROUP BY client_id ORDER BY revenue_before DESC, client_id COLLATE "C"
"""
)


def pg_active_clients(conn: psycopg.Connection[Any], q: dict[str, Any]) -> dict[str, Any]:
    active, before = conn.execute(ACTIVE, q).fetchone() or (0, 0)
    win_back = [[c, cents(r), moment(at)] for c, r, at in conn.execute(WIN_BACK, q)]
    return {"active": active, "active_before": before, "win_back": win_back}


# Dynamics by day (the service's zone is UTC): revenue and payments by payment day, won deals
# and their amount by closing day, every day of the period (zero when empty).
DYNAMICS = f"""
WITH days AS (
    SELECT d::date AS bucket
    FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 ms',
                         interval '1 day') AS d
),
revenue AS (
    SELECT paid_at::date AS bucket, sum(amount) AS revenue, count(*) AS payments
    FROM ({payments_between()}) AS p GROUP BY 1
),
won AS (
    SELECT closed_at::date AS bucket, count(*) AS won, sum(amount_base) AS won_amount
    FROM ({FILTERED_DEALS}) AS d
    WHERE status = 'won' AND closed_at >= %(start)s AND closed_at < %(end)s GROUP BY 1
)
SELECT bucket, coalesce(r.revenue, 0), coalesce(r.payments, 0), coalesce(w.won, 0),
       coalesce(w.won_amount, 0)
FROM days LEFT JOIN revenue AS r USING (bucket) LEFT JOIN won AS w USING (bucket)
ORDER BY bucket
"""


def pg_dynamics(conn: psycopg.Connection[Any], q: dict[str, Any]) -> dict[str, Any]:
    rows = [
        [day.isoformat(), cents(revenue), payments, won, cents(amount)]
        for day, revenue, payments, won, amount in conn.execute(DYNAMICS, q)
    ]
    totals = [sum(Decimal(r[1]) for r in rows), sum(r[2] for r in rows)]
    totals += [sum(r[3] for r in rows), sum(Decimal(r[4]) for r in rows)]
    return {"rows": rows, "totals": [cents(totals[0]), totals[1], totals[2], cents(totals[3])]}


# Repeat sales: won deals (with a client) closed in the period, those whose client had won an
# earlier one, their clients, and those of them with two won deals or more by the period's end.
REPEAT_SALES = """
WITH won_in AS (
    SELECT deal_id, client_id, closed_at FROM deals
    WHERE status = 'won' AND client_id <> '' AND closed_at >= %(start)s AND closed_at < %(end)s
),
won_all AS (
    SELECT deal_id, client_id, closed_at FROM deals
    WHERE status = 'won' AND client_id <> '' AND closed_at < %(end)s
)
SELECT (SELECT count(*) FROM won_in),
       (SELECT count(*) FROM won_in AS w WHERE EXISTS (
            SELECT FROM won_all AS a WHERE a.client_id = w.client_id AND a.closed_at < w.closed_at
       )),
       (SELECT count(DISTINCT client_id) FROM won_in),
       (SELECT count(*) FROM (
            SELECT client_id FROM won_all WHERE client_id IN (SELECT client_id FROM won_in)
            GROUP BY client_id HAVING count(*) >= 2
       ) AS repeat)
"""


def pg_repeat_sales(conn: psycopg.Connection[Any], q: dict[str, Any]) -> dict[str, Any]:
    row = conn.execute(REPEAT_SALES, q).fetchone() or (0, 0, 0, 0)
    return dict(zip(("won_deals", "repeat_deals", "clients", "repeat_clients"), row, strict=True))


# Client profitability: revenue (payments in the period) and cost (of the deals won in it)
# per client, margin = revenue − cost, by margin descending.
CLIENT_PROFITABILITY = f"""
WITH revenue AS (
    SELECT client_id, sum(amount) AS revenue FROM ({payments_between()}) AS p
    WHERE client_id <> '' GROUP BY client_id
),
cost AS (
    SELECT client_id, sum(cost) AS cost FROM deals
    WHERE status = 'won' AND client_id <> '' AND closed_at >= %(start)s AND closed_at < %(end)s
    GROUP BY client_id
)
SELECT client_id, coalesce(r.revenue, 0) AS revenue, coalesce(c.cost, 0) AS cost,
       coalesce(r.revenue, 0) - coalesce(c.cost, 0) AS margin
FROM revenue AS r FULL JOIN cost AS c USING (client_id)
ORDER BY margin DESC, client_id COLLATE "C"
"""


def pg_client_profitability(conn: psycopg.Connection[Any], q: dict[str, Any]) -> dict[str, Any]:
    found = conn.execute(CLIENT_PROFITABILITY, q)
    rows = [[client, cents(r), cents(c), cents(m)] for client, r, c, m in found]
    totals = [cents(sum(Decimal(r[i]) for r in rows)) for i in (1, 2, 3)]
    return {"rows": rows, "totals": totals}


# Attribution: each credited deal's path (the touches of its owner's leads up to its opening,
# within the lookback window, identical touches once, oldest first) with the model's weights
# by window functions, the credit summed per group. Weights in numeric with 35 decimals.
ONE = "1.00000000000000000000000000000000000"
ATTRIBUTION = f"""
WITH paid AS (SELECT deal_id, sum(amount) AS revenue FROM ({payments_between()}) AS p
              GROUP BY deal_id),
won_in AS (SELECT deal_id FROM deals
           WHERE status = 'won' AND closed_at >= %(start)s AND closed_at < %(end)s),
credited AS (
    SELECT d.deal_id, d.opened_at, d.owner, w.deal_id IS NOT NULL AS won,
           coalesce(p.revenue, 0) AS revenue
    FROM (SELECT deal_id FROM won_in UNION SELECT deal_id FROM paid) AS c
    JOIN deals AS d USING (deal_id)
    LEFT JOIN won_in AS w USING (deal_id)
    LEFT JOIN paid AS p USING (deal_id)
),
path AS (
    SELECT DISTINCT c.deal_id, c.won, c.revenue, t.touch_at, t.channel, t.source, t.campaign
    FROM credited AS c
    JOIN deals AS o ON o.owner = c.owner AND o.lead_id <> ''
    JOIN touchpoints AS t ON t.lead_id = o.lead_id
    WHERE t.touch_at <= c.opened_at
      AND t.touch_at >= c.opened_at - %(lookback)s * interval '1 day'
),
numbered AS (
    SELECT *, row_number() OVER w AS i, count(*) OVER (PARTITION BY deal_id) AS n,
           max(touch_at) OVER (PARTITION BY deal_id) AS newest
    FROM path
    WINDOW w AS (PARTITION BY deal_id ORDER BY touch_at, channel COLLATE "C",
                 source COLLATE "C", campaign COLLATE "C")
),
helped AS (SELECT *, {{helper}} FROM numbered),
weighted AS (SELECT channel, source, campaign, won, revenue, {{weight}} AS weight FROM helped)
SELECT {{group}} AS grp, coalesce(sum(weight) FILTER (WHERE won), 0) AS won,
       sum(revenue * weight) AS revenue
FROM weighted WHERE {{has_share}} GROUP BY grp
"""
MODEL_SQL = {  # model: (per-touch helper, weight); the same models as the service's
    "first_touch": ("0 AS _unused", f"CASE WHEN i = 1 THEN {ONE} ELSE 0 END"),
    "last_touch": ("0 AS _unused", f"CASE WHEN i = n THEN {ONE} ELSE 0 END"),
    "last_non_direct": (
        "coalesce(max(i) FILTER (WHERE channel <> 'direct') OVER (PARTITION BY deal_id), n)"
        " AS chosen",
        f"CASE WHEN i = chosen THEN {ONE} ELSE 0 END",
    ),
    "linear": ("0 AS _unused", f"{ONE} / n"),
    "position_based": (
        "0 AS _unused",
        f"CASE WHEN n = 1 THEN {ONE} WHEN n = 2 THEN {ONE} / 2 WHEN i = 1 OR i = n"
        f" THEN {ONE} * 2 / 5 ELSE {ONE} / (5 * greatest(n - 2, 1)) END",
    ),
    # 2^(−Δt / half-life) relative to the newest touch (the same weights once normalised).
    "time_decay": (
        "power(2::float8, -(extract(epoch FROM newest - touch_at) * 1000)::float8"
        " / %(half_life_ms)s)::numeric(40, 35) AS raw",
        "raw / sum(raw) OVER (PARTITION BY deal_id)",
    ),
}
OWN_TOUCHES = """
SELECT channel, source, campaign, count(*) FROM touchpoints
WHERE kind = 'lead' AND lead_id IN ({leads}) GROUP BY channel, source, campaign
"""
RECEIVED = "SELECT lead_id FROM leads WHERE received_at >= %(start)s AND received_at < %(end)s"
OPENED = "SELECT lead_id FROM deals WHERE opened_at >= %(start)s AND opened_at < %(end)s"
SPEND = """
SELECT source, medium, campaign, sum(cost_base) FROM ad_spend
WHERE date >= %(first_day)s AND date < %(end_day)s GROUP BY source, medium, campaign
"""
GROUP_BY = "channel"


def attribution_sql(model: str) -> str:
    helper, weight = MODEL_SQL[model]
    has_share = "true" if model == "time_decay" else "weight <> 0"  # as the service counts
    return (
        ATTRIBUTION.replace("{helper}", helper)
        .replace("{weight}", weight)
        .replace("{group}", GROUP_BY)
        .replace("{has_share}", has_share)
    )


def spend_channel() -> Callable[[str, str, str], str]:
    """The channel of a spend row's source / medium / campaign, as the service classifies
    it (its settings' defaults, which the bench stack keeps)."""
    from analytics.domain.channels import classify
    from analytics.settings import AnalyticsSettings
    from crm_contracts.events import Touch

    config = AnalyticsSettings().projection_config()

    def channel(source: str, medium: str, campaign: str) -> str:
        touch = Touch(
            utm_source=source or None, utm_medium=medium or None, utm_campaign=campaign or None
        )
        return classify(touch, config.own_hosts, config.medium_map, config.source_map)

    return channel


def pg_attribution(
    conn: psycopg.Connection[Any],
    q: dict[str, Any],
    model: str,
    classify: Callable[[str, str, str], str],
) -> dict[str, Any]:
    """Per channel: leads and deals (by the lead's own touch), won and revenue credited by
    the model, and ad spend; `classify` is `spend_channel()`."""
    empty = "(none)" if GROUP_BY == "campaign" else "(unknown)"
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"leads": 0, "deals": 0, "won": Decimal(0), "revenue": Decimal(0), "spend": 0}
    )
    for grp, won, revenue in conn.execute(attribution_sql(model), q):
        row = rows[grp or empty]
        row["won"] += Decimal(won).quantize(SNAP, ROUND_HALF_EVEN)
        row["revenue"] += Decimal(revenue).quantize(SNAP, ROUND_HALF_EVEN)
    field = ("channel", "source", "campaign").index(GROUP_BY)
    for what, leads in (("leads", RECEIVED), ("deals", OPENED)):
        for r in conn.execute(OWN_TOUCHES.replace("{leads}", leads), q):
            rows[r[field] or empty][what] += r[3]
    for source, medium, campaign, cost in conn.execute(SPEND, q):
        group = {"channel": classify(source, medium, campaign), "source": source.lower()}
        rows[group.get(GROUP_BY, campaign) or empty]["spend"] += Decimal(cost)
    return {
        key: {
            "leads": r["leads"],
            "deals": r["deals"],
            "won": round(float(r["won"]), 4),
            "revenue": cents(r["revenue"]),
            "spend": cents(Decimal(r["spend"])),
        }
        for key, r in sorted(rows.items())
    }
