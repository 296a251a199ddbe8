"""SQL pieces most reports share: filtered deals, payments in a period, buckets in a zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from analytics.reports.filters import deal_conditions, where
from analytics.reports.period import Period
from analytics.reports.query import ReportQuery

BUCKETS = {"day": "toStartOfDay", "week": "toMonday", "month": "toStartOfMonth"}


def filtered_deals(q: ReportQuery) -> tuple[str, dict[str, Any]]:
    """`SELECT ... FROM deals` with the query's filters: the deals a report may look at, with
    `amount_base`, the amount in the base currency: a closed deal's at the latest rate on or
    before its closing date, an open deal's at today's latest rate; a currency with no rate
    keeps its amount, as payments do. Every report and drill reads this one column, so a
    figure and its rows agree."""
    conditions, params = deal_conditions(q)
    return (
        f"""
        SELECT d.*, if(d.currency = {{base:String}} OR r.rate = 0, d.amount,
                       toDecimal64(round(d.amount * r.rate, 2), 2)) AS amount_base
        FROM (SELECT * FROM {{db}}.deals FINAL WHERE {where(conditions)}) AS d
        ASOF LEFT JOIN (SELECT currency, date, rate FROM {{db}}.currency_rates FINAL) AS r
            ON r.currency = d.currency AND r.date <= toDate(coalesce(d.closed_at, now64(3)))
        """,
        params,
    )


def payments_between(q: ReportQuery, start: str = "start", end: str = "end") -> str:
    """Payments in [start, end) of the filtered deals, with client and manager resolved and
    the amount in the base currency (at the latest rate on or before the payment's date; a
    payment in a currency with no rate yet keeps its amount)."""
    deals_sql, _ = filtered_deals(q)
    return f"""
        SELECT p.payment_id AS payment_id, p.deal_id AS deal_id,
               if(p.client_id != '', p.client_id, d.client_id) AS client_id,
               if(p.manager_id != '', p.manager_id, d.manager_id) AS manager_id,
               if(p.currency = {{base:String}} OR r.rate = 0, p.amount,
                  toDecimal64(round(p.amount * r.rate, 2), 2)) AS amount,
               p.paid_at AS paid_at
        FROM {{db}}.payments AS p FINAL
        INNER JOIN ({deals_sql}) AS d ON d.deal_id = p.deal_id
        ASOF LEFT JOIN (SELECT currency, date, rate FROM {{db}}.currency_rates FINAL) AS r
            ON r.currency = p.currency AND r.date <= toDate(p.paid_at)
        WHERE p.paid_at >= {{{start}:DateTime64(3)}} AND p.paid_at < {{{end}:DateTime64(3)}}
    """


def bucket_sql(column: str, bucket: str) -> str:
    """The bucket start (a Date) of a UTC timestamp column, in the report's zone."""
    return f"toDate({BUCKETS[bucket]}(toTimezone({column}, {{tz:String}})))"


def bucket_starts(q: ReportQuery, bucket: str) -> list[date]:
    """Every bucket the period touches, so that empty ones show as zero."""
    first = q.period.local(q.period.start).date()
    last = q.period.local(q.period.end - timedelta(microseconds=1)).date()
    starts, day = [], first
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


def base_params(q: ReportQuery) -> dict[str, Any]:
    _, params = filtered_deals(q)
    return {**q.period.params(), **params, "tz": q.period.tz, "base": q.base_currency}


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
