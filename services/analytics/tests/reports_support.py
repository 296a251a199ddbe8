"""Running a report the way the API does (comparison, JSON money) over hand-built events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from analytics.adapters import schema
from analytics.adapters.clickhouse import ClickHouse
from analytics.adapters.projection_store import ClickHouseProjectionStore
from analytics.application.ingest import ingest
from analytics.application.reports.compare import compared
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.serialize import report_json
from analytics.domain.projection.config import ProjectionConfig
from analytics.domain.projection.rows import DealRow
from crm_contracts.envelope import Event

Compute = Callable[[ClickHouse, ReportQuery], dict[str, Any]]


def load(ch: ClickHouse, events: list[Event]) -> None:
    ingest(
        ClickHouseProjectionStore(ch),
        events,
        [e.model_dump_json() for e in events],
        ProjectionConfig(),
    )


def run(
    ch: ClickHouse, compute: Compute, start: str, end: str, tz: str = "UTC", **query: Any
) -> Any:
    q = ReportQuery(Period.parse(start, end, tz), **query)
    return report_json(compared(q, lambda qq: compute(ch, qq)))


def by(rows: list[dict], key: str) -> dict[str, dict]:
    return {r[key]: r for r in rows}


def merged(ch: ClickHouse, tables: tuple[str, ...]) -> None:
    """Every key of `tables` down to its one latest row, as a report should see it."""
    for table in tables:
        ch.command(f"OPTIMIZE TABLE {{db}}.{table} FINAL")


def awaiting_merge(ch: ClickHouse, tables: tuple[str, ...], redelivered: bool) -> None:
    """Merges held, so that rows added now stay beside the latest ones; `redelivered`: every
    row of `tables` once more, as it was."""
    for table in tables:
        ch.command(f"SYSTEM STOP MERGES {{db}}.{table}")
        if redelivered:
            ch.command(f"INSERT INTO {{db}}.{table} SELECT * FROM {{db}}.{table}")


def late_stay_openings(ch: ClickHouse) -> None:
    """Each completed stay's opening row (its lower version, no `left_at`) once more, as if it
    arrived after the closing one."""
    ch.command(
        "INSERT INTO {db}.deal_stage_intervals SELECT deal_id, pipeline_id, stage, "
        "entered_version, entered_at, NULL, entered_version "
        "FROM {db}.deal_stage_intervals WHERE left_at IS NOT NULL"
    )


@contextmanager
def schema_at(client: Any, monkeypatch: Any, version: int) -> Iterator[ClickHouse]:
    """A fresh database as the schema stood after migration `version` (an install of an
    earlier release, to upgrade in place); dropped afterwards."""
    ch = ClickHouse(client, f"t_{uuid.uuid4().hex[:12]}")
    monkeypatch.setattr(schema, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] <= version])
    schema.migrate(ch)
    monkeypatch.undo()
    try:
        yield ch
    finally:
        ch.command("DROP DATABASE IF EXISTS {db}")


# The deal row's columns that came with migration 9 (DealRow's `lead_*`).
LEAD_FACTS = ("lead_received_at", "lead_channel", "lead_touch_source", "lead_campaign")


def without_lead_facts(store: ClickHouseProjectionStore) -> ClickHouseProjectionStore:
    """The store as a release before migration 9 used it: its deal rows have no lead facts,
    and it never reads any."""
    write = store.write

    def old_write(rows: Any) -> None:
        if not rows or not isinstance(rows[0], DealRow):
            return write(rows)
        columns = [c for c in DealRow.columns() if c not in LEAD_FACTS]
        body = orjson.dumps([{c: getattr(r, c) for c in columns} for r in rows], default=str)
        store.ch.insert_json(DealRow.TABLE, body, columns)

    store.write = old_write  # type: ignore[method-assign]
    store.lead_facts_of = lambda deals: {}  # type: ignore[method-assign]
    return store
