"""Writes a batch of events into ClickHouse."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from analytics.adapters.clickhouse import ClickHouse
from analytics.domain.hashing import scrub
from analytics.projection.config import ProjectionConfig
from analytics.projection.folds import FOLDS, fold
from analytics.projection.rows import Row
from analytics.projection.tables import COLUMNS, event_row, rows_of
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


def load_rows(ch: ClickHouse, row_type: type[Row], keys: set[str]) -> dict[str, Row]:
    """The current rows of a latest-state table for the keys a batch touches."""
    if not keys:
        return {}
    columns = row_type.columns()
    rows = ch.rows(
        f"SELECT {', '.join(columns)} FROM {{db}}.{row_type.TABLE} FINAL "
        f"WHERE {row_type.KEY} IN {{keys:Array(String)}}",
        {"keys": sorted(keys)},
    )
    current = {}
    for row in rows:
        for name, value in row.items():
            if isinstance(value, datetime) and value.tzinfo is None:
                row[name] = value.replace(tzinfo=UTC)  # DateTime64(3, 'UTC') comes back naive
        current[row[row_type.KEY]] = row_type(**row)
    return current


def ingest(
    ch: ClickHouse, events: list[Event], payloads: list[str], config: ProjectionConfig
) -> None:
    """One INSERT per table per batch. Idempotent: events and single-event rows collapse on
    their keys, and latest-state rows only move forward in version."""
    tables: dict[str, list[list[object]]] = defaultdict(list)
    tables["events"] = [
        event_row(e, json.dumps(scrub(json.loads(p), config.hash_salt), ensure_ascii=False))
        for e, p in zip(events, payloads, strict=True)
    ]
    for event in events:
        for table, row in rows_of(event, config):
            tables[table].append(row)
    for table, rows in tables.items():
        ch.insert(table, rows, COLUMNS[table])
    for row_type, key_of, apply in FOLDS:
        keys = {k for k in map(key_of, events) if k}
        changed = fold(events, load_rows(ch, row_type, keys), key_of, apply, config)
        ch.insert(row_type.TABLE, [r.values() for r in changed.values()], row_type.columns())
