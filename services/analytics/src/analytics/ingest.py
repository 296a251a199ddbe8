"""Writes a batch of events into ClickHouse."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from pydantic import ValidationError

from analytics.adapters.clickhouse import ClickHouse
from analytics.domain.hashing import scrub
from analytics.projection.config import ProjectionConfig
from analytics.projection.folds import FOLDS, fold, pseudonymise
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


FOLD_COLUMNS = ("stream", "key", "version", "event_id", "payload")


def load_history(ch: ClickHouse, stream: str, keys: set[str]) -> list[Event]:
    """Every stored event of the given keys of one folded table, oldest version first."""
    if not keys:
        return []
    rows = ch.rows(
        "SELECT payload FROM {db}.fold_events FINAL "
        "WHERE stream = {stream:String} AND key IN {keys:Array(String)} ORDER BY key, version",
        {"stream": stream, "keys": sorted(keys)},
    )
    return [ANY_EVENT.validate_json(r["payload"]) for r in rows]


def ingest(
    ch: ClickHouse, events: list[Event], payloads: list[str], config: ProjectionConfig
) -> None:
    """One INSERT per table per batch. Idempotent and order-proof: events and single-event rows
    collapse on their keys; latest-state rows are re-folded from each key's whole history (a
    row of the same version inserted later wins in ReplacingMergeTree, and it is the fuller)."""
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
    private = [pseudonymise(e, config.hash_salt) for e in events]
    history = [
        [row_type.TABLE, key, e.aggregate_version, e.event_id, e.model_dump_json()]
        for row_type, key_of, _ in FOLDS
        for e in private
        if (key := key_of(e))
    ]
    ch.insert("fold_events", history, FOLD_COLUMNS)
    for row_type, key_of, apply in FOLDS:
        keys = {k for k in map(key_of, private) if k}
        rows = fold(load_history(ch, row_type.TABLE, keys), {}, key_of, apply, config)
        ch.insert(row_type.TABLE, [r.values() for r in rows.values()], row_type.columns())
