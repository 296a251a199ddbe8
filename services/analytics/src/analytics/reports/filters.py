"""SQL conditions for the report filters. Channel, source and campaign are those of the lead
that opened the deal (its own touch)."""

from __future__ import annotations

from typing import Any

from analytics.reports.query import ReportQuery

LEAD_FIELDS = {"channel": "channel", "source": "utm_source", "campaign": "utm_campaign"}
TOUCH_FIELDS = ("channel", "source", "campaign")


def touch_conditions(q: ReportQuery, alias: str = "") -> tuple[list[str], dict[str, Any]]:
    """Conditions on a lead's own touch (`touchpoints`) for the channel / source / campaign
    filters, compared as stored: how the lead funnel and the leads drill-down read them."""
    prefix = f"{alias}." if alias else ""
    conditions, params = [], {}
    for name in TOUCH_FIELDS:
        if getattr(q, name):
            conditions.append(f"{prefix}{name} = {{t_{name}:String}}")
            params[f"t_{name}"] = getattr(q, name)
    return conditions, params


def lead_conditions(q: ReportQuery, alias: str = "") -> tuple[list[str], dict[str, Any]]:
    prefix = f"{alias}." if alias else ""
    conditions, params = [], {}
    for name, column in LEAD_FIELDS.items():
        value = getattr(q, name)
        if value:
            conditions.append(f"{prefix}{column} = {{f_{name}:String}}")
            params[f"f_{name}"] = value.lower() if name != "campaign" else value
    return conditions, params


def deal_conditions(q: ReportQuery, alias: str = "") -> tuple[list[str], dict[str, Any]]:
    """Conditions on a `deals` row (aliased or not) for every filter of the query."""
    prefix = f"{alias}." if alias else ""
    conditions, params = [], {}
    if q.pipeline:
        conditions.append(f"{prefix}pipeline_id = {{f_pipeline:String}}")
        params["f_pipeline"] = q.pipeline
    if q.manager:
        conditions.append(f"{prefix}manager_id = {{f_manager:String}}")
        params["f_manager"] = q.manager
    lead_where, lead_params = lead_conditions(q)
    if lead_where:
        conditions.append(
            f"{prefix}lead_id IN (SELECT lead_id FROM {{db}}.leads FINAL "
            f"WHERE {' AND '.join(lead_where)})"
        )
        params |= lead_params
    return conditions, params


def where(conditions: list[str]) -> str:
    return " AND ".join(conditions) if conditions else "1"
