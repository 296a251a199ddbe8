"""Stable views for analysts (`v_leads`, `v_deals`, `v_stage_intervals`, `v_payments`,
`v_touches`, `v_ad_spend`, `v_managers`) in the analytics database, with a comment on every
column. Analysts query these, not the internal tables, whose layout may change.

Each view reads the latest state as the reports do (`FINAL` on the ReplacingMergeTree
tables: a deal's row with the highest version, a re-imported spend row once), so a row of a
view is one lead, one deal, one stay in a stage, one payment, ... Contacts appear only as the
salted hashes the projection stores, never raw. Money in another currency also comes
converted into the base currency, at the latest rate on or before the deal's closing (or
today) or the payment's date, as the reports convert it.

`create_views` (re)creates them all with `CREATE OR REPLACE VIEW`; run it at start, after
`migrate`, so that the views follow the tables of the running release. Column types are
read from the engine (`DESCRIBE` of each view's query), so only the names, the queries and
the comments are written here."""

from __future__ import annotations

import re
from dataclasses import dataclass

from analytics.adapters.clickhouse import ClickHouse

CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class View:
    name: str
    comment: str
    query: str  # `{db}` for the analytics database, `{base}` for the base currency literal
    columns: tuple[tuple[str, str], ...]  # (name, comment), in the query's order


def _in_base(amount: str, currency: str) -> str:
    """An amount in the base currency, as the reports compute it (`reports.common`)."""
    return (
        f"if({currency} = {{base}} OR r.rate = 0, {amount}, "
        f"toDecimal64(round({amount} * r.rate, 2), 2))"
    )


RATES = "(SELECT currency, date, rate FROM {db}.currency_rates FINAL)"

VIEWS: tuple[View, ...] = (
    View(
        "v_leads",
        "One row per lead received, with its own marketing touch and hashed contacts.",
        """
        SELECT l.lead_id AS lead_id, l.received_at AS received_at, l.form_id AS form_id,
               l.source AS lead_source, l.channel AS channel, l.utm_source AS utm_source,
               l.utm_medium AS utm_medium, l.utm_campaign AS utm_campaign,
               l.utm_content AS utm_content, l.utm_term AS utm_term,
               l.referrer_host AS referrer_host, l.visitor_id AS visitor_id,
               l.consent = 1 AS consent, l.phone_hash AS phone_hash,
               l.email_hash AS email_hash, ifNull(d.deal_id, '') AS deal_id
        FROM {db}.leads AS l FINAL
        LEFT JOIN (
            SELECT lead_id, argMin(deal_id, opened_at) AS deal_id
            FROM {db}.deals FINAL WHERE lead_id != '' GROUP BY lead_id
        ) AS d ON d.lead_id = l.lead_id
        """,
        (
            ("lead_id", "Lead id (from lead-intake)."),
            ("received_at", "When the lead was received, UTC."),
            ("form_id", "Web form or integration that sent the lead."),
            ("lead_source", "Source system of the lead (form, api, ...)."),
            ("channel", "Marketing channel of the lead's own touch (organic, cpc, ...)."),
            ("utm_source", "utm_source of the lead's own touch, lower-cased."),
            ("utm_medium", "utm_medium of the lead's own touch, lower-cased."),
            ("utm_campaign", "utm_campaign of the lead's own touch."),
            ("utm_content", "utm_content of the lead's own touch."),
            ("utm_term", "utm_term of the lead's own touch."),
            ("referrer_host", "Host of the referring page, if any."),
            ("visitor_id", "Site visitor id set by the embed script, if any."),
            ("consent", "Whether the person consented to being contacted."),
            ("phone_hash", "Salted hash of the normalised phone (E.164); empty if none."),
            ("email_hash", "Salted hash of the lower-cased e-mail; empty if none."),
            ("deal_id", "The deal opened from this lead (the first one); empty if none yet."),
        ),
    ),
    View(
        "v_deals",
        "Latest state of every deal (its highest version).",
        f"""
        SELECT d.deal_id AS deal_id, d.lead_id AS lead_id, d.client_id AS client_id,
               d.pipeline_id AS pipeline_id, d.title AS title, d.source AS source,
               d.stage AS stage, d.status AS status, d.lost_reason AS lost_reason,
               d.lost_at_stage AS lost_at_stage, d.manager_id AS manager_id,
               d.amount AS amount, d.cost AS cost, d.currency AS currency,
               {_in_base("d.amount", "d.currency")} AS amount_base,
               d.paid_total AS paid_total, d.opened_at AS opened_at,
               d.closed_at AS closed_at, d.updated_at AS updated_at, d.version AS version
        FROM (SELECT * FROM {{db}}.deals FINAL) AS d
        ASOF LEFT JOIN {RATES} AS r
            ON r.currency = d.currency AND r.date <= toDate(coalesce(d.closed_at, now64(3)))
        """,
        (
            ("deal_id", "Deal id."),
            ("lead_id", "Lead the deal was opened from; empty for a deal opened by hand."),
            ("client_id", "Client of the deal; empty if not known yet."),
            ("pipeline_id", "Sales pipeline of the deal."),
            ("title", "Deal title, with any contact in it masked."),
            ("source", "Source of the deal (form, api, manual, ...)."),
            ("stage", "Current stage."),
            ("status", "open, won or lost."),
            ("lost_reason", "Why the deal was lost; empty unless lost."),
            ("lost_at_stage", "Stage the deal was in when lost; empty unless lost."),
            ("manager_id", "Manager in charge."),
            ("amount", "Deal amount in the deal's currency."),
            ("cost", "Cost of the deal (cost of goods etc.) in the deal's currency."),
            ("currency", "Currency of amount and cost (ISO 4217)."),
            (
                "amount_base",
                "Amount in the base currency: at the latest rate on or before the closing "
                "date (open deals: today); unchanged when there is no rate.",
            ),
            ("paid_total", "Sum of the payments received so far, in the deal's currency."),
            ("opened_at", "When the deal was opened, UTC."),
            ("closed_at", "When the deal was won or lost, UTC; NULL while open."),
            ("updated_at", "Time of the deal's latest event, UTC."),
            ("version", "Version of the deal's latest event (grows with every change)."),
        ),
    ),
    View(
        "v_stage_intervals",
        "One row per stay of a deal in a stage; an open stay has no left_at.",
        """
        SELECT deal_id, pipeline_id, stage, entered_version, entered_at, left_at,
               if(isNull(left_at), NULL,
                  dateDiff('millisecond', entered_at, assumeNotNull(left_at)) / 1000)
                   AS duration_seconds
        FROM {db}.deal_stage_intervals FINAL
        """,
        (
            ("deal_id", "Deal id."),
            ("pipeline_id", "Pipeline of the deal."),
            ("stage", "The stage."),
            ("entered_version", "Deal version at which the stay began (orders a deal's stays)."),
            ("entered_at", "When the deal entered the stage, UTC."),
            ("left_at", "When the deal left the stage, UTC; NULL while it is still there."),
            ("duration_seconds", "Seconds in the stage; NULL while the stay is open."),
        ),
    ),
    View(
        "v_payments",
        "One row per payment received, with the deal's client, manager and pipeline.",
        f"""
        SELECT p.payment_id AS payment_id, p.deal_id AS deal_id, p.invoice_id AS invoice_id,
               if(p.client_id != '', p.client_id, d.client_id) AS client_id,
               if(p.manager_id != '', p.manager_id, d.manager_id) AS manager_id,
               if(p.pipeline_id != '', p.pipeline_id, d.pipeline_id) AS pipeline_id,
               p.amount AS amount, p.currency AS currency,
               {_in_base("p.amount", "p.currency")} AS amount_base, p.paid_at AS paid_at
        FROM {{db}}.payments AS p FINAL
        LEFT JOIN (SELECT deal_id, client_id, manager_id, pipeline_id FROM {{db}}.deals FINAL)
            AS d ON d.deal_id = p.deal_id
        ASOF LEFT JOIN {RATES} AS r ON r.currency = p.currency AND r.date <= toDate(p.paid_at)
        """,
        (
            ("payment_id", "Payment id."),
            ("deal_id", "Deal paid."),
            ("invoice_id", "Invoice paid; empty if the payment was not against an invoice."),
            ("client_id", "Client who paid (the deal's client if the payment names none)."),
            ("manager_id", "Manager of the deal."),
            ("pipeline_id", "Pipeline of the deal."),
            ("amount", "Amount paid, in the payment's currency."),
            ("currency", "Currency of the payment (ISO 4217)."),
            (
                "amount_base",
                "Amount in the base currency at the latest rate on or before the payment "
                "date; unchanged when there is no rate.",
            ),
            ("paid_at", "When the payment was received, UTC."),
        ),
    ),
    View(
        "v_touches",
        "Marketing touches of leads: the lead's own ('lead') and the visitor's first ('first').",
        """
        SELECT lead_id, kind, touch_at, channel, source, medium, campaign, visitor_id
        FROM {db}.touchpoints FINAL
        """,
        (
            ("lead_id", "Lead id."),
            ("kind", "'lead': the touch that brought the lead; 'first': the visitor's first."),
            ("touch_at", "When the touch happened, UTC."),
            ("channel", "Marketing channel (organic, cpc, referral, direct, ...)."),
            ("source", "Source (utm_source or the referring host), lower-cased."),
            ("medium", "utm_medium, lower-cased."),
            ("campaign", "utm_campaign."),
            ("visitor_id", "Site visitor id set by the embed script, if any."),
        ),
    ),
    View(
        "v_ad_spend",
        "Imported ad spend: one row per date, source, medium and campaign (latest import).",
        """
        SELECT date, source, medium, campaign, cost, currency, cost_base, clicks,
               impressions, updated_at
        FROM {db}.ad_spend FINAL
        """,
        (
            ("date", "Day of the spend."),
            ("source", "Ad source, lower-cased (matches v_touches.source)."),
            ("medium", "Ad medium, lower-cased (matches v_touches.medium)."),
            ("campaign", "Campaign (matches v_touches.campaign)."),
            ("cost", "Cost in the imported currency."),
            ("currency", "Currency of cost (ISO 4217)."),
            ("cost_base", "Cost in the base currency at the rate of the spend date."),
            ("clicks", "Clicks."),
            ("impressions", "Impressions."),
            ("updated_at", "When this row was last imported, UTC."),
        ),
    ),
    View(
        "v_managers",
        "Managers as last updated.",
        """
        SELECT manager_id, name, role, active = 1 AS active, updated_at
        FROM {db}.managers FINAL
        """,
        (
            ("manager_id", "Manager id (as in v_deals.manager_id)."),
            ("name", "Manager's display name."),
            ("role", "Role (manager, head, ...)."),
            ("active", "Whether the manager currently takes deals."),
            ("updated_at", "When the manager was last updated, UTC."),
        ),
    ),
)
NAMES = tuple(v.name for v in VIEWS)


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def create_views(ch: ClickHouse, base_currency: str = "RUB") -> None:
    """(Re)create every analyst view in `ch`'s database (after `migrate`)."""
    if not CURRENCY.fullmatch(base_currency):
        raise ValueError(f"base currency must be a 3-letter code, not {base_currency!r}")
    for view in VIEWS:
        query = view.query.replace("{base}", _literal(base_currency)).strip()
        described = ch.rows(f"DESCRIBE TABLE ({query})")
        names = [row["name"] for row in described]
        expected = [name for name, _ in view.columns]
        if names != expected:
            raise RuntimeError(f"{view.name}: its query gives {names}, its comments {expected}")
        comments = dict(view.columns)
        columns = ",\n    ".join(
            f"{_identifier(row['name'])} {row['type']} COMMENT {_literal(comments[row['name']])}"
            for row in described
        )
        ch.command(
            f"CREATE OR REPLACE VIEW {{db}}.{view.name} (\n    {columns}\n) AS {query}\n"
            f"COMMENT {_literal(view.comment)}"
        )
