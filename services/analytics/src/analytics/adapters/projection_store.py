"""The projection's writes to ClickHouse: rows by table, one INSERT each, and the history
and keys of folded tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from analytics.adapters.clickhouse import ClickHouse
from analytics.application.reports.sql import Sql
from analytics.domain.projection.lead_facts import LeadFacts
from analytics.domain.projection.paths import TouchKey, touch_key
from analytics.domain.projection.rows import Row
from crm_contracts.envelope import Event
from crm_contracts.events import ANY_EVENT


class ClickHouseProjectionStore:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch.for_writer()  # its look-ups never queue behind a report

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        row_type = type(rows[0])
        # orjson writes the dataclasses as they are (their fields are the columns), in C.
        body = orjson.dumps(rows, default=_decimal)
        self.ch.insert_json(row_type.TABLE, body, row_type.columns())

    def history(self, stream: str, keys: set[str]) -> list[Event]:
        if not keys:
            return []
        # No FINAL: a row stored twice is the same event twice, which the fold skips.
        rows = self.ch.rows(
            "SELECT payload FROM {db}.fold_events "
            "WHERE stream = {stream:String} AND key IN {keys:Array(String)}",
            {"stream": stream, "keys": sorted(keys)},
        )
        return [ANY_EVENT.validate_json(r["payload"]) for r in rows]

    def linked_leads(self) -> list[str]:
        return self.ch.columns(Sql("SELECT lead_id FROM {db}.lead_owners"), 1)[0]

    def owners_of(self, leads: set[str]) -> list[tuple[str, str]]:
        rows = self.ch.rows(
            "SELECT DISTINCT lead_id, owner FROM {db}.lead_owners "
            "WHERE lead_id IN {leads:Array(String)}",
            {"leads": sorted(leads)},
        )
        return [(r["lead_id"], r["owner"]) for r in rows]

    def touches_of(self, leads: set[str]) -> dict[str, list[TouchKey]]:
        rows = self.ch.rows(
            "SELECT DISTINCT lead_id, touch_at, channel, source, campaign FROM {db}.touchpoints "
            "WHERE lead_id IN {leads:Array(String)}",
            {"leads": sorted(leads)},
        )
        out: dict[str, list[TouchKey]] = defaultdict(list)
        for r in rows:
            touch = (r["touch_at"], r["channel"], r["source"], r["campaign"])
            out[r["lead_id"]].append(touch_key(*touch))
        return out

    def lead_facts_of(self, deals: set[str]) -> dict[str, LeadFacts]:
        # By the sort key: a look-up of the batch's few deals, not a pass over all of them.
        rows = self.ch.rows(
            "SELECT deal_id, lead_received_at, lead_channel, lead_touch_source, lead_campaign "
            "FROM {db}.deals WHERE deal_id IN {deals:Array(String)} "
            "AND lead_received_at IS NOT NULL LIMIT 1 BY deal_id",
            {"deals": sorted(deals)},
        )
        return {
            r["deal_id"]: (
                r["lead_received_at"],
                r["lead_channel"],
                r["lead_touch_source"],
                r["lead_campaign"],
            )
            for r in rows
        }

    def keys(self, stream: str) -> list[str]:
        statement = Sql(
            "SELECT DISTINCT key FROM {db}.fold_events WHERE stream = {stream:String}",
            {"stream": stream},
        )
        return self.ch.columns(statement, 1)[0]  # millions at 10 M events: read as a column


def _decimal(value: Any) -> str:
    """Amounts as their exact text (a float would round them)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not serialisable: {type(value).__name__}")
