"""One deal with its history, for the drill-down's deal card: the row, the stays in each
stage, the amount as it changed, invoices, payments, tasks and the touches that led to it.

Only ids, hashes and business fields. The amount changes and invoices come from the deal's
event history as the projection keeps it (`fold_events`, contacts pseudonymised), read for
named safe fields only (an invoice's requisites never leave). Not from the raw `events`
table: there, free text that looks like a phone number is masked, and events stored by older
versions had dates and long amounts masked with it."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.drill import DEAL_FIELDS

CARD_FIELDS = (*DEAL_FIELDS, "lost_at_stage", "updated_at", "version")

# Every read is of one deal's rows under FINAL, so each first narrows the table by its sort
# key: in PREWHERE, before FINAL merges (all versions of a row share their sort key, so the
# rows FINAL picks do not change), and the wide columns are read for the matching rows only.
# `payments` and `tasks` are not sorted by deal: their keys are first looked up among the
# deal's rows of any version; the deal's condition then applies to the latest rows.
DEAL_SQL = (
    "SELECT " + ", ".join(CARD_FIELDS) + " FROM {db}.deals FINAL "
    "PREWHERE deal_id = {deal_id:String}"
)

STAGES_SQL = """
SELECT stage, entered_at, left_at,
       dateDiff('millisecond', entered_at, left_at) / 1000 AS duration_seconds
FROM {db}.deal_stage_intervals FINAL PREWHERE deal_id = {deal_id:String}
ORDER BY entered_at, entered_version
"""

EVENTS_SQL = """
SELECT payload FROM {db}.fold_events FINAL
PREWHERE stream = 'deals' AND key = {deal_id:String}
ORDER BY version, event_id
"""

PAYMENTS_SQL = """
SELECT payment_id, invoice_id, amount, currency, paid_at FROM {db}.payments FINAL
PREWHERE (paid_at, payment_id) IN (
    SELECT paid_at, payment_id FROM {db}.payments WHERE deal_id = {deal_id:String}
)
WHERE deal_id = {deal_id:String} ORDER BY paid_at, payment_id
"""

TASKS_SQL = """
SELECT task_id, title, kind, status, manager_id, due_at, scheduled_at, closed_at
FROM {db}.tasks FINAL
PREWHERE task_id IN (SELECT task_id FROM {db}.tasks WHERE deal_id = {deal_id:String})
WHERE deal_id = {deal_id:String} ORDER BY due_at, task_id
"""

# The attribution path (reports/attribution_query.py PATHS) of one deal: the touches of every
# lead of its client (of its own lead without a client) up to its opening, within the
# lookback window; one row per distinct touch, as the models count them. The owner's deals
# are those whose latest row names it, found among the deals with any row naming it.
TOUCHES_SQL = """
WITH deal AS (
    SELECT opened_at, if(client_id != '', client_id, concat('lead:', lead_id)) AS owner
    FROM {db}.deals FINAL PREWHERE deal_id = {deal_id:String}
),
owners AS (
    SELECT lead_id, if(client_id != '', client_id, concat('lead:', lead_id)) AS owner
    FROM {db}.deals FINAL
    PREWHERE deal_id IN (
        SELECT deal_id FROM {db}.deals
        WHERE client_id = (SELECT owner FROM deal)
           OR (client_id = '' AND concat('lead:', lead_id) = (SELECT owner FROM deal))
    )
    WHERE lead_id != ''
)
SELECT t.touch_at AS touch_at, t.channel AS channel, t.source AS source,
       t.campaign AS campaign, arraySort(groupUniqArray(t.lead_id)) AS lead_ids,
       arraySort(groupUniqArray(t.kind)) AS kinds
FROM {db}.touchpoints AS t FINAL
PREWHERE t.lead_id IN (SELECT lead_id FROM owners WHERE owner = (SELECT owner FROM deal))
WHERE t.touch_at <= (SELECT opened_at FROM deal)
  AND t.touch_at >= (SELECT opened_at FROM deal) - toIntervalDay({lookback:UInt32})
GROUP BY touch_at, channel, source, campaign
ORDER BY touch_at, channel, source, campaign
"""

AMOUNT_EVENTS = ("deal.opened", "deal.amount_changed", "deal.won")
INVOICE_EVENT = "deal.invoice_issued"


def deal_card(ch: ClickHouse, deal_id: str, lookback_days: int = 90) -> dict[str, Any] | None:
    """The card of a deal, None when there is no such deal."""
    params = {"deal_id": deal_id, "lookback": lookback_days}
    with ch.consistent():
        found = ch.rows(DEAL_SQL, params)
        if not found:
            return None
        events = [json.loads(r["payload"]) for r in ch.rows(EVENTS_SQL, params)]
        card = {
            "deal": found[0],
            "stages": ch.rows(STAGES_SQL, params),
            "amounts": [_amount(e) for e in events if e.get("event_type") in AMOUNT_EVENTS],
            "invoices": [_invoice(e) for e in events if e.get("event_type") == INVOICE_EVENT],
            "payments": ch.rows(PAYMENTS_SQL, params),
            "tasks": ch.rows(TASKS_SQL, params),
            "touches": ch.rows(TOUCHES_SQL, params),
        }
    return card


def _money(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _amount(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "occurred_at": _moment(event.get("occurred_at")),
        "event_type": event["event_type"],
        "amount": _money(event.get("amount")),
        "currency": str(event.get("currency") or ""),
    }


def _invoice(event: dict[str, Any]) -> dict[str, Any]:
    """The invoice without its requisites (a client's legal and bank details)."""
    return {
        "invoice_id": str(event.get("invoice_id") or ""),
        "number": str(event.get("number") or ""),
        "issued_at": _moment(event.get("occurred_at")),
        "amount": _money(event.get("amount")),
        "currency": str(event.get("currency") or ""),
        "due_date": _day(event.get("due_date")),
    }
