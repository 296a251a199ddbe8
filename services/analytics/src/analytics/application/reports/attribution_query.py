"""Attribution as one ClickHouse query (docs/reports.md "attribution"): each credited deal's
path shaped as arrays, the model's weights computed over them with array functions, the
weighted touches ARRAY JOINed and their credit summed per group, all in the engine.

The statement is a chain of CTEs, each read once (ClickHouse inlines a CTE at every use):
- `paid`: each deal's payments in the period; `credited`: the deals won or paid in it, with
  `owner` (their client, or their own lead without one), `won` and `revenue`;
- `paths`: per credited deal its touches up to its opening as parallel arrays, cut from its
  owner's row of `owner_paths`, which the projection keeps (`OWNER_PATHS`);
- `windowed`: the touches within the lookback window; `weighted`: the model's weight of each.

Precision: the weights of every model but time decay are rational and computed as Decimal256
with `SCALE` decimals (ClickHouse truncates a division there); time decay needs `exp2`, done in
Float64 relative to the newest touch (so it cannot underflow to an all-zero path), then
normalised in Decimal so equal touches get equal shares. Sums are rounded half even to `SNAP`
decimals: far below a cent, far above the weights' truncation noise, so an exact half cent
(1000.01 × ½) stays one and the report's rounding to cents gives the exact figure, as the
Python models' exact fractions do."""

from __future__ import annotations

from decimal import Decimal

from analytics.application.reports.sql import Sql

# Decimal256 holds 76 digits and a division scales its dividend by 10^scale of the divisor:
# weights (≤ 1) at 35 decimals divide without overflow, and weight × revenue keeps 37.
SCALE = 35
SNAP = 18

# The touch fields the report groups and filters by, as the path arrays are named.
FIELDS = ("channel", "source", "campaign")

# The CTEs, the last named `paths`, that give `weighted` its paths. Input: `credited`
# (deal_id, owner, opened_at, won, revenue). Output: one row per credited deal with a touch:
# deal_id, opened_at, won, revenue and the arrays touch_at, channel, source, campaign
# (aligned, oldest first, ties by channel / source / campaign, identical touches once): the
# touches of the deal's owner's leads (those that opened one of its deals) at or before its
# opening; older ones than the lookback may be left out (`windowed` drops them).
#
# `OWNER_PATHS`, the report's: each credited deal's owner's touches from `owner_paths`, which
# the projection keeps (domain/projection/paths.py), cut at the deal's opening. An owner's
# rows are united by a GROUP BY rather than FINAL: the same union, but FINAL over a table in
# several parts (as it is between merges) took 35-45 % longer at 10 M events, and no less
# once merged into one.
OWNER_PATHS = Sql("""
paths AS (
    SELECT c.deal_id AS deal_id, c.opened_at AS opened_at, c.won AS won, c.revenue AS revenue,
           arraySort(arrayFilter(x -> x.1 <= c.opened_at, s.touches)) AS p,
           arrayMap(x -> x.1, p) AS touch_at, arrayMap(x -> x.2, p) AS channel,
           arrayMap(x -> x.3, p) AS source, arrayMap(x -> x.4, p) AS campaign
    FROM (
        SELECT owner, groupUniqArrayArray(touches) AS touches FROM {db}.owner_paths
        GROUP BY owner
    ) AS s
    INNER JOIN credited AS c ON c.owner = s.owner  -- the smaller side last: the hashed one
    WHERE notEmpty(p)
)""")


# `PATHS`, the reference the tests hold the kept paths to: the same computed from the deals
# and the touches when the query runs, each owner's touches gathered into one sorted array
# (`owner_touches`, the shape of a per-owner table), cut per deal at its opening (older ones
# than the lookback kept: `windowed` drops them).
PATHS = Sql("""
owner_touches AS (
    SELECT o.owner AS owner,
           arraySort(groupUniqArray((t.touch_at, t.channel, t.source, t.campaign))) AS touches
    FROM {db}.touchpoints AS t FINAL
    INNER JOIN (
        SELECT lead_id, if(client_id != '', client_id, concat('lead:', lead_id)) AS owner
        FROM {db}.deals FINAL WHERE lead_id != ''
    ) AS o ON o.lead_id = t.lead_id  -- a lead twice (two deals) adds its touches once
    GROUP BY o.owner
),
paths AS (
    SELECT deal_id, opened_at, won, revenue, arrayMap(x -> x.1, p) AS touch_at,
           arrayMap(x -> x.2, p) AS channel, arrayMap(x -> x.3, p) AS source,
           arrayMap(x -> x.4, p) AS campaign
    FROM (
        SELECT c.deal_id AS deal_id, c.opened_at AS opened_at, c.won AS won,
               c.revenue AS revenue, arrayFilter(x -> x.1 <= c.opened_at, o.touches) AS p
        FROM credited AS c INNER JOIN owner_touches AS o ON o.owner = c.owner
    )
)""")


def stored_paths(table: str, key: str = "deal_id") -> Sql:
    """`PATHS` read from a table the projection keeps, with the arrays touch_at, channel,
    source, campaign: per deal (`key` deal_id: its path up to its opening) or per owner
    (`key` owner: all its touches, which each deal then cuts at its opening)."""
    assert key in ("deal_id", "owner") and table.isidentifier()
    return Sql("""
paths AS (
    SELECT c.deal_id AS deal_id, c.opened_at AS opened_at, c.won AS won, c.revenue AS revenue,
           arrayMap(t -> t <= c.opened_at, s.touch_at) AS _upto,
           arrayFilter((x, k) -> k, s.touch_at, _upto) AS touch_at,
           arrayFilter((x, k) -> k, s.channel, _upto) AS channel,
           arrayFilter((x, k) -> k, s.source, _upto) AS source,
           arrayFilter((x, k) -> k, s.campaign, _upto) AS campaign
    FROM {db}.{table} AS s FINAL
    INNER JOIN credited AS c ON c.{key} = s.{key}  -- the smaller side last: the hashed one
)""").fill(table=table, key=key)


# The weights of a path (arrays `touch_at`, `channel`; `n` its length ≥ 1), one per touch,
# Array(Decimal256(SCALE)), and the per-path values they need (select items, computed once
# per path rather than per touch); the Python models (domain/attribution.py `weights`) are
# the oracle.
ONE = f"toDecimal256(1, {SCALE})"
ZERO = f"toDecimal256(0, {SCALE})"
NO_HELPER = "0 AS _unused"


def _one_touch(index: str) -> str:
    """All the credit to the touch at `index` (1-based)."""
    return f"arrayMap(i -> if(i = {index}, {ONE}, {ZERO}), arrayEnumerate(touch_at))"


MODEL_WEIGHTS: dict[str, tuple[str, str]] = {
    "first_touch": (NO_HELPER, _one_touch("1")),
    "last_touch": (NO_HELPER, _one_touch("n")),
    # The last touch not direct; a path of direct touches only credits its last one.
    "last_non_direct": (
        "arrayLastIndex(c -> c != 'direct', channel) AS _k, if(_k = 0, n, _k) AS _chosen",
        _one_touch("_chosen"),
    ),
    "linear": (NO_HELPER, f"arrayWithConstant(n, {ONE} / n)"),
    # 40 % to the first and the last, 20 % split over the middle; ½ each for two, 1 for one.
    "position_based": (
        f"{ONE} / (5 * greatest(n - 2, 1)) AS _middle",
        f"arrayMap(i -> multiIf(n = 1, {ONE}, n = 2, {ONE} / 2, i = 1 OR i = n, {ONE} * 2 / 5,"
        " _middle), arrayEnumerate(touch_at))",
    ),
    # 2^(−Δt / half-life) with Δt to the newest touch rather than the opening: the same
    # weights once normalised, and the newest gets 1, so the sum is ≥ 1.
    "time_decay": (
        "toUnixTimestamp64Milli(touch_at[n]) AS _newest, arrayMap(t -> toDecimal256(exp2("
        "-toFloat64(_newest - toUnixTimestamp64Milli(t)) / {half_life_ms:Float64}), "
        f"{SCALE}), touch_at) AS _raw, arraySum(_raw) AS _total",
        "arrayMap(r -> r / _total, _raw)",
    ),
}

# Every weight the Python model gives is a share except zero ones; time decay never gives
# zero (its Decimal powers do not underflow), so there every touch is one, however small.
HAS_SHARE = {model: "weight != 0" for model in MODEL_WEIGHTS} | {"time_decay": "1"}

WEIGHTED = Sql("""
WITH paid AS ({paid}),
credited AS (
    SELECT d.deal_id AS deal_id, d.opened_at AS opened_at,
           if(d.client_id != '', d.client_id, concat('lead:', d.lead_id)) AS owner,
           ifNull(d.status = 'won' AND {closed_in}, 0) AS won, p.revenue AS revenue
    FROM ({deals}) AS d LEFT JOIN paid AS p ON p.deal_id = d.deal_id
    WHERE won OR p.deal_id != ''
),
{paths},
windowed AS (
    SELECT deal_id, won, revenue,
           arrayMap(t -> t >= opened_at - toIntervalDay({lookback:UInt32}) AND t <= opened_at,
                    p_at) AS keep,
           arrayFilter((x, k) -> k, p_at, keep) AS touch_at,
           arrayFilter((x, k) -> k, p_channel, keep) AS channel,
           arrayFilter((x, k) -> k, p_source, keep) AS source,
           arrayFilter((x, k) -> k, p_campaign, keep) AS campaign
    FROM (SELECT deal_id, opened_at, won, revenue, touch_at AS p_at, channel AS p_channel,
                 source AS p_source, campaign AS p_campaign FROM paths)
),
weighted AS (
    SELECT deal_id, won, revenue, touch_at, channel, source, campaign, length(touch_at) AS n,
           {helpers}, {weights} AS weight
    FROM windowed
    WHERE n > 0
)
""")

CREDIT_BY_GROUP = Sql("""
SELECT {group} AS grp,
       roundBankers(sum(weight * won), {snap:UInt8}) AS won,
       roundBankers(sum(revenue * weight), {snap:UInt8}) AS revenue
FROM weighted ARRAY JOIN touch_at, channel, source, campaign, weight
WHERE {has_share} AND {selected}
GROUP BY grp
""")

CREDITED_DEALS = Sql("""
SELECT deal_id, max(won) AS won, max(revenue != 0) AS paid
FROM weighted ARRAY JOIN touch_at, channel, source, campaign, weight
WHERE {has_share} AND {selected} AND {in_groups}
GROUP BY deal_id
""")


def weighted(
    model: str,
    deals: Sql,
    paid: Sql,
    closed_in: Sql,
    lookback_days: int,
    half_life_days: float,
    paths: Sql = OWNER_PATHS,
) -> Sql:
    """The CTEs up to `weighted`: per credited deal with a touch in the window, `won` (won in
    the period), `revenue` (its payments in the period) and the aligned arrays of its path
    with `weight`. `deals`: deal_id, lead_id, client_id, opened_at, status, closed_at of the
    deals to look at; `paid`: deal_id, revenue of those paid in the period; `closed_in`: the
    period's condition on `d.closed_at`; `paths`: `OWNER_PATHS`, or `PATHS` or `stored_paths`
    (the tests' references)."""
    # The half-life as the Python model reads it (its decimal text), in milliseconds.
    half_life_ms = float(Decimal(str(half_life_days)) * 86_400_000)
    helpers, weights = MODEL_WEIGHTS[model]
    return WEIGHTED.fill(
        deals=deals,
        paid=paid,
        paths=paths,
        closed_in=closed_in,
        helpers=helpers,
        weights=weights,
    ).bind(lookback=lookback_days, half_life_ms=half_life_ms)


def credit_by_group(ctes: Sql, model: str, group_column: str, selected: Sql) -> Sql:
    """Per stored value of `group_column` (a touch field): `won` (Σ weight over deals won in
    the period) and `revenue` (Σ weight × the deal's payments), of the touches `selected`
    (a condition on channel / source / campaign)."""
    assert group_column in FIELDS
    query = CREDIT_BY_GROUP.fill(group=group_column, has_share=HAS_SHARE[model], selected=selected)
    return _then(ctes, query).bind(snap=SNAP)


def credited_deals(
    ctes: Sql, model: str, selected: Sql, group_column: str | None, groups: list[str]
) -> Sql:
    """Per deal some selected touch of which has a share (and, with `group_column`, a value in
    `groups`): `won` (won in the period) and `paid` (paid in it)."""
    in_groups = Sql("1")
    if group_column is not None:
        assert group_column in FIELDS
        in_groups = Sql("has({groups:Array(String)}, {column})", {"groups": groups}).fill(
            column=group_column
        )
    query = CREDITED_DEALS.fill(has_share=HAS_SHARE[model], selected=selected, in_groups=in_groups)
    return _then(ctes, query)


# The report in one statement: its three parts as arrays of one row, each part keeping its
# own column types (a UNION would cast them to one). `credit` reads the CTEs; `counts` (the
# leads and deals per group) and `spend` read the tables themselves.
REPORT = Sql("""
SELECT (SELECT groupArray((grp, won, revenue)) FROM ({credit})) AS credit,
       (SELECT groupArray((grp, leads, deals)) FROM ({counts})) AS counts,
       (SELECT groupArray((source, medium, campaign, cost)) FROM ({spend})) AS spend
""")


def report(ctes: Sql, model: str, group_column: str, selected: Sql, counts: Sql, spend: Sql) -> Sql:
    """`credit_by_group`, `counts` (grp, leads, deals) and `spend` (source, medium, campaign,
    cost) as the arrays `credit`, `counts` and `spend` of one row."""
    credit = credit_by_group(Sql(""), model, group_column, selected)
    return _then(ctes, REPORT.fill(credit=credit, counts=counts, spend=spend))


def _then(ctes: Sql, query: Sql) -> Sql:
    """The CTEs followed by the query that reads them."""
    return Sql(ctes.text + query.text, ctes.params).bind(**query.params)
