"""SQL pieces most reports share: filtered deals, payments in a period, buckets in a zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from analytics.application.reports.filters import deal_conditions
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import TRUE, Sql, placeholder

BUCKETS = {"day": "toStartOfDay", "week": "toMonday", "month": "toStartOfMonth"}

FILTERED_DEALS = Sql("""
    SELECT d.*, if(d.currency = {base:String} OR r.rate = 0, d.amount,
                   toDecimal64(round(d.amount * r.rate, 2), 2)) AS amount_base
    FROM (SELECT *{computed} FROM {db}.deals FINAL WHERE {conditions}) AS d
    ASOF LEFT JOIN (SELECT currency, date, rate FROM {db}.currency_rates FINAL) AS r
        ON r.currency = d.currency AND r.date <= toDate(coalesce(d.closed_at, now64(3)))
""")

# Payments in a period with `amount_base`: at the latest rate on or before the payment's date
# (a currency with no rate yet keeps its amount). The period filter goes on the payments
# before any join, so a join sees one period's.
PRICED = """if(p.currency = {base:String} OR r.rate = 0, p.amount,
              toDecimal64(round(p.amount * r.rate, 2), 2))"""
RATE_ON_PAID_DATE = """ASOF LEFT JOIN (SELECT currency, date, rate FROM {db}.currency_rates FINAL)
        AS r ON r.currency = p.currency AND r.date <= toDate(p.paid_at)"""
PAID_IN = Sql("""
    SELECT p.payment_id AS payment_id, p.deal_id AS deal_id, p.client_id AS client_id,
           p.manager_id AS manager_id, p.paid_at AS paid_at, {priced} AS amount_base
    FROM (SELECT * FROM {db}.payments AS p FINAL WHERE {paid_in}) AS p
    {rates}
""").fill(priced=PRICED, rates=RATE_ON_PAID_DATE)

# The payments of the filtered deals in a period, with the client and manager resolved from
# the deal's latest row when the payment carries none: each payment joined to its deal's
# latest row passing the filters (`FINAL`; the filters, in WHERE, see only that row), the
# payments (PAID_IN, priced) being the hashed side. Over a long period nearly every block of
# deals holds a paid one, so narrowing the deals to the paid ones saves no reading, and
# checking every deal's id against them costs more than the join's own lookup (half the time
# of the join at 10 M events, merged): every deal that passes the filters is joined as it
# is. Over a short one (`NARROW_UP_TO`) the deals are narrowed by a 64-bit hash of the id,
# cheaper to compare than the id: every row of a deal is kept or dropped together, so FINAL
# still picks each one's latest row; a deal another id's hash lets through finds no payment
# in the join, which matches on the id itself.
PAYMENTS_BETWEEN = Sql("""
    SELECT p.payment_id AS payment_id, p.deal_id AS deal_id,
           if(p.client_id != '', p.client_id, d.client_id) AS client_id,
           if(p.manager_id != '', p.manager_id, d.manager_id) AS manager_id,
           p.amount_base AS amount, p.paid_at AS paid_at
    FROM (
        SELECT deal_id, client_id, manager_id FROM {db}.deals FINAL {narrow}
        WHERE {conditions}
    ) AS d
    INNER JOIN ({paid}) AS p ON p.deal_id = d.deal_id
""")
# The same rows with only what the client reports take from them.
CLIENT_PAYMENTS = Sql("""
    SELECT if(p.client_id != '', p.client_id, d.client_id) AS client_id,
           p.amount_base AS amount, p.paid_at AS paid_at
    FROM (SELECT deal_id, client_id FROM {db}.deals FINAL {narrow} WHERE {conditions}) AS d
    INNER JOIN ({paid}) AS p ON p.deal_id = d.deal_id
""")
NARROW = Sql(
    "PREWHERE cityHash64(deal_id) IN (SELECT cityHash64(deal_id) FROM {db}.payments AS p"
    " WHERE {paid_in})"
)
NARROW_UP_TO = timedelta(days=92)  # the longest period whose deals are narrowed


def _payments(template: Sql, q: ReportQuery, within: Period | None, prefix: str) -> Sql:
    """`template` (PAYMENTS_BETWEEN, CLIENT_PAYMENTS) over the query's period (or `within`, its
    bounds bound with `prefix`) and filters."""
    period = within or q.period
    narrow = (
        NARROW.fill(paid_in=in_period("p.paid_at", period, prefix))
        if period.end - period.start <= NARROW_UP_TO
        else Sql("")
    )
    return template.fill(
        paid=paid_in(q, within, prefix), narrow=narrow, conditions=deal_conditions(q)
    )


# The same rows without a filter: the payments of every deal the projection knows, with
# their client, as the projection keeps them (`known_payments`, schema migration 8), so no
# payment's deal needs looking up (that look-up was most of the client reports' time at 10 M
# events), priced as PAID_IN prices them.
KNOWN_CLIENT_PAYMENTS = Sql("""
    SELECT p.client_id AS client_id, {priced} AS amount, p.paid_at AS paid_at
    FROM (
        SELECT client_id, amount, currency, paid_at FROM {db}.known_payments AS p FINAL
        WHERE {paid_in}
    ) AS p
    {rates}
""").fill(priced=PRICED, rates=RATE_ON_PAID_DATE)


# The same for the managers' revenue: the payment's manager, else its deal's latest row's,
# which only the deals of payments without a manager are merged for (narrowed by the sort
# key; none, nothing read), as PAYMENTS_BETWEEN resolves it.
KNOWN_MANAGER_PAYMENTS = Sql("""
    SELECT if(p.manager_id != '', p.manager_id, d.manager_id) AS manager_id,
           {priced} AS amount, p.paid_at AS paid_at
    FROM (
        SELECT deal_id, manager_id, amount, currency, paid_at
        FROM {db}.known_payments AS p FINAL WHERE {paid_in}
    ) AS p
    LEFT JOIN (
        SELECT deal_id, manager_id FROM {db}.deals FINAL
        PREWHERE deal_id IN (SELECT deal_id FROM {db}.known_payments AS p
                             WHERE {paid_in} AND manager_id = '')
    ) AS d ON d.deal_id = p.deal_id
    {rates}
""").fill(priced=PRICED, rates=RATE_ON_PAID_DATE)


def manager_payments(q: ReportQuery) -> Sql:
    """The rows of `payments_between` with only `manager_id`, `amount` and `paid_at` (the
    managers' revenue): KNOWN_MANAGER_PAYMENTS when no filter selects deals."""
    if deal_conditions(q).text == TRUE:
        period = in_period("p.paid_at", q.period)
        return KNOWN_MANAGER_PAYMENTS.fill(paid_in=period).bind(base=q.base_currency)
    return payments_between(q)


def client_payments(q: ReportQuery, within: Period | None = None, prefix: str = "") -> Sql:
    """The rows of `payments_between` with only `client_id`, `amount` (base currency) and
    `paid_at`, for the reports that need no more (the client reports, dynamics' revenue):
    CLIENT_PAYMENTS, or KNOWN_CLIENT_PAYMENTS when no filter selects deals, in the query's
    period (or `within`, its bounds bound with `prefix`)."""
    if deal_conditions(q).text == TRUE:
        period = in_period("p.paid_at", within or q.period, prefix)
        return KNOWN_CLIENT_PAYMENTS.fill(paid_in=period).bind(base=q.base_currency)
    return _payments(CLIENT_PAYMENTS, q, within, prefix)


def filtered_deals(
    q: ReportQuery, narrow: Sql | None = None, computed: tuple[str, ...] = ()
) -> Sql:
    """`SELECT ... FROM deals` with the query's filters: the deals a report may look at, with
    `amount_base`, the amount in the base currency: a closed deal's at the latest rate on or
    before its closing date, an open deal's at today's latest rate; a currency with no rate
    keeps its amount, as payments do. Every report and drill reads this one column, so a
    figure and its rows agree. `narrow`: a report's own conditions on the latest row (its
    cohort), applied before any deal is priced. `computed`: the columns the engine computes
    that the report reads too (`SELECT *` leaves them out), e.g. `stages_json`."""
    conditions = deal_conditions(q) if narrow is None else deal_conditions(q) & narrow
    extra = "".join(", " + column for column in computed)  # column names of ours
    return FILTERED_DEALS.fill(conditions=conditions, computed=extra).bind(base=q.base_currency)


def furthest_stage(stages: str, prefix: str = "", entered: str = "stages_entered") -> str:
    """The furthest of the stages (a bound `Array(String)` named `stages`) a deal has been in,
    as its index (1 …; 0: none of them), from the summary of stays on its row (`prefix`: the
    row's alias with its dot; `entered`: an expression of the stages entered, the row's own
    array by default). A stage skipped on the way counts as passed."""
    in_order = placeholder(stages, "Array(String)")
    return "arrayMax(arrayMap(s -> indexOf(" + in_order + ", s), " + prefix + entered + "))"


def in_period(column: str, period: Period, prefix: str = "") -> Sql:
    """`start <= column < end` of the period, its bounds bound as `{prefix}start` and
    `{prefix}end`."""
    start, end = prefix + "start", prefix + "end"
    bounds = period.params()
    return Sql(
        "{column} >= {start} AND {column} < {end}", {start: bounds["start"], end: bounds["end"]}
    ).fill(
        column=column,
        start=placeholder(start, "DateTime64(3)"),
        end=placeholder(end, "DateTime64(3)"),
    )


def paid_in(q: ReportQuery, within: Period | None = None, prefix: str = "") -> Sql:
    """Every payment in the query's period (or `within`, its bounds bound with `prefix`), of
    any deal, with `amount_base` (see `PAID_IN`); the filters are not applied."""
    period = in_period("p.paid_at", within or q.period, prefix)
    return PAID_IN.fill(paid_in=period).bind(base=q.base_currency)


def payments_between(q: ReportQuery, within: Period | None = None, prefix: str = "") -> Sql:
    """Payments of the filtered deals in the query's period (or `within`, its bounds bound
    with `prefix`), with client and manager resolved and the amount in the base currency (at
    the latest rate on or before the payment's date; a payment in a currency with no rate
    yet keeps its amount)."""
    return _payments(PAYMENTS_BETWEEN, q, within, prefix)


def bucket_sql(column: str, bucket: str, q: ReportQuery) -> Sql:
    """The bucket start (a Date) of a UTC timestamp column, in the report's zone."""
    return Sql("toDate({start_of}(toTimezone({column}, {tz:String})))", {"tz": q.period.tz}).fill(
        start_of=BUCKETS[bucket], column=column
    )


def period_params(q: ReportQuery) -> dict[str, datetime]:
    """`start` and `end` of the query's period, for a template that names them itself."""
    return q.period.params()


def bucket_starts(q: ReportQuery, bucket: str) -> list[date]:
    """Every bucket the period touches, so that empty ones show as zero."""
    first = q.period.local(q.period.start).date()
    last = q.period.local(q.period.end - timedelta(microseconds=1)).date()
    starts: list[date] = []
    day = first
    while day <= last:
        start = _bucket_start(day, bucket)
        if not starts or starts[-1] != start:
            starts.append(start)
        day += timedelta(days=1)
    return starts


def _bucket_start(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def elapsed_days(q: ReportQuery, now: datetime) -> float:
    """Days of the period that have passed by `now` (the whole period once it is over)."""
    elapsed = min(max(now, q.period.start), q.period.end) - q.period.start
    return elapsed.total_seconds() / 86400


def bucket_period(q: ReportQuery, start: date, bucket: str) -> Period:
    """The part of the report's period that one bucket (local dates) covers."""
    zone = q.period.zone
    if bucket == "month":
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    else:
        end = start + timedelta(days=7 if bucket == "week" else 1)
    begin = datetime.combine(start, time(), zone).astimezone(UTC)
    finish = datetime.combine(end, time(), zone).astimezone(UTC)
    return Period(max(begin, q.period.start), min(finish, q.period.end), q.period.tz)
