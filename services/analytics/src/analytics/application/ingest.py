"""The projection's use case: a batch of bus messages into the analytics tables."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from analytics.domain.hashing import scrub
from analytics.projection.config import ProjectionConfig
from analytics.projection.folds import FOLDS, fold, pseudonymise
from analytics.projection.rows import EventRow, FoldEventRow, Row
from analytics.projection.tables import event_row, rows_of
from crm_contracts.envelope import Event
from crm_contracts.events import ANY_EVENT, BY_TYPE

log = logging.getLogger(__name__)


class ProjectionStore(Protocol):
    """Where projected rows go (adapters/projection_store.py)."""

    def write(self, rows: Sequence[Row]) -> None:
        """All the rows of one table in one INSERT (`rows` share one type)."""

    def history(self, stream: str, keys: set[str]) -> list[Event]:
        """Every stored event of the keys of one folded table, oldest version first."""


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


def ingest(
    store: ProjectionStore, events: list[Event], payloads: list[str], config: ProjectionConfig
) -> None:
    """One INSERT per table per batch. Idempotent and order-proof: events and single-event rows
    collapse on their keys; latest-state rows are re-folded from each key's whole history (a
    row of the same version inserted later wins in ReplacingMergeTree, and it is the fuller)."""
    tables: dict[type[Row], list[Row]] = defaultdict(list)
    tables[EventRow] = [
        event_row(e, json.dumps(scrub(json.loads(p), config.hash_salt), ensure_ascii=False))
        for e, p in zip(events, payloads, strict=True)
    ]
    for event in events:
        for row in rows_of(event, config):
            tables[type(row)].append(row)
    for rows in tables.values():
        store.write(rows)
    private = [pseudonymise(e, config.hash_salt) for e in events]
    store.write(
        [
            FoldEventRow(row_type.TABLE, key, e.aggregate_version, e.event_id, e.model_dump_json())
            for row_type, key_of, _ in FOLDS
            for e in private
            if (key := key_of(e))
        ]
    )
    for row_type, key_of, apply in FOLDS:
        keys = {k for k in map(key_of, private) if k}
        rows = fold(store.history(row_type.TABLE, keys), {}, key_of, apply, config)
        store.write(list(rows.values()))
