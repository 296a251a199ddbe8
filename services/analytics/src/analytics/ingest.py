"""Writes a batch of events into ClickHouse: one INSERT per table per batch."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC

from pydantic import ValidationError

from analytics.adapters.clickhouse import ClickHouse
from analytics.projection import (
    EVENT_COLUMNS,
    INTERVAL_COLUMNS,
    DealRow,
    apply_deal_events,
    event_row,
)
from crm_contracts.envelope import Event
from crm_contracts.events import ANY_EVENT, BY_TYPE

log = logging.getLogger(__name__)


class GenericEvent(Event):
    """An event type this version does not know yet: kept raw in `events`."""


@dataclass
class Parsed:
    events: list[Event] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in batch, reason)


def parse_batch(bodies: list[bytes]) -> Parsed:
    parsed = Parsed()
    for index, body in enumerate(bodies):
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("event_type") in BY_TYPE:
                event = ANY_EVENT.validate_python(data)
            else:
                event = GenericEvent.model_validate(data)
        except (ValidationError, ValueError) as exc:
            parsed.rejected.append((index, str(exc)[:500]))
            continue
        parsed.events.append(event)
        parsed.payloads.append(json.dumps(data, separators=(",", ":"), ensure_ascii=False))
    return parsed


def load_deals(ch: ClickHouse, deal_ids: set[str]) -> dict[str, DealRow]:
    if not deal_ids:
        return {}
    rows = ch.rows(
        f"SELECT {', '.join(DealRow.COLUMNS)} FROM {{db}}.deals FINAL "
        "WHERE deal_id IN {ids:Array(String)}",
        {"ids": sorted(deal_ids)},
    )
    current = {}
    for row in rows:
        for key in ("opened_at", "updated_at", "closed_at"):
            if row[key] is not None:
                row[key] = row[key].replace(tzinfo=UTC)
        current[row["deal_id"]] = DealRow(**row)
    return current


def ingest(ch: ClickHouse, events: list[Event], payloads: list[str]) -> None:
    """Idempotent: events collapse on their id, intervals on (deal, entry version), and deal
    rows only move forward in version."""
    ch.insert(
        "events", [event_row(e, p) for e, p in zip(events, payloads, strict=True)], EVENT_COLUMNS
    )
    deal_ids = {e.deal_id for e in events if hasattr(e, "deal_id")}
    changes = apply_deal_events(events, load_deals(ch, deal_ids))
    ch.insert("deal_stage_intervals", changes.intervals, INTERVAL_COLUMNS)
    ch.insert("deals", [row.values() for row in changes.deals.values()], DealRow.COLUMNS)
