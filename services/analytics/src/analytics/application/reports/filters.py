"""SQL conditions for the report filters. Channel, source and campaign are those of the lead
that opened the deal (its own touch)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql

LEAD_FIELDS = {"channel": "channel", "source": "utm_source", "campaign": "utm_campaign"}
TOUCH_FIELDS = ("channel", "source", "campaign")


def _prefix(alias: str) -> str:
    return alias + "." if alias else ""


# A lead's own touch as its `leads` row keeps it (the same values as its touchpoint).
OWN_TOUCH_COLUMNS = {"channel": "channel", "source": "touch_source", "campaign": "utm_campaign"}


def touch_conditions(q: ReportQuery, alias: str = "") -> Sql:
    """Conditions on a touch for the channel / source / campaign filters, compared as stored:
    how attribution reads the touches of a path. An empty filter is no filter (as in
    `ReportQuery.filters`)."""
    return Sql.all(
        Sql.equals(_prefix(alias) + name, "t_" + name, value)
        for name in TOUCH_FIELDS
        if (value := getattr(q, name))
    )


def own_touch_conditions(
    q: ReportQuery, alias: str = "", columns: Mapping[str, str] = OWN_TOUCH_COLUMNS
) -> Sql:
    """`touch_conditions` on a lead's own touch, read from its `leads` row: how the lead
    funnel, attribution's lead counts and the leads drill-down filter leads (`columns`: where
    another table keeps the same values)."""
    return Sql.all(
        Sql.equals(_prefix(alias) + columns[name], "t_" + name, value)
        for name in TOUCH_FIELDS
        if (value := getattr(q, name))
    )


def touch_selected(q: ReportQuery, row: Mapping[str, Any]) -> bool:
    """`touch_conditions` for a row read into Python (attribution's leads, deals and spend by
    channel). An empty filter, like a missing one, selects everything."""
    return all(not (value := getattr(q, name)) or row[name] == value for name in TOUCH_FIELDS)


def lead_conditions(q: ReportQuery, alias: str = "") -> Sql:
    """Conditions on a `leads` row: its utm_source lower-cased as stored, the rest as given."""
    return Sql.all(
        Sql.equals(
            _prefix(alias) + column, "f_" + name, value.lower() if name != "campaign" else value
        )
        for name, column in LEAD_FIELDS.items()
        if (value := getattr(q, name))
    )


def deal_conditions(q: ReportQuery, alias: str = "") -> Sql:
    """Conditions on a `deals` row (aliased or not) for every filter of the query."""
    prefix = _prefix(alias)
    conditions = []
    if q.pipeline:
        conditions.append(Sql.equals(prefix + "pipeline_id", "f_pipeline", q.pipeline))
    if q.manager:
        conditions.append(Sql.equals(prefix + "manager_id", "f_manager", q.manager))
    leads = lead_conditions(q)
    if leads.params:
        conditions.append(
            Sql("{lead_id} IN (SELECT lead_id FROM {db}.leads FINAL WHERE {leads})").fill(
                lead_id=prefix + "lead_id", leads=leads
            )
        )
    return Sql.all(conditions)


def deals_only(q: ReportQuery) -> ReportQuery:
    """The query with only the filters that select deals themselves (pipeline, manager): for
    reports where channel, source and campaign select touches instead (attribution, the lead
    funnel's leads)."""
    return replace(q, channel=None, source=None, campaign=None)
