"""Versioned schema migrations, applied in order at start (to chDB and a server alike).

A migration is never edited once released: add a new one instead."""

from __future__ import annotations

import logging

from analytics.adapters.clickhouse import ClickHouse

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "events, deals, deal stage intervals",
        [
            # Every event as received; a redelivered event collapses on its key.
            """CREATE TABLE IF NOT EXISTS {db}.events (
                event_id UUID,
                event_type LowCardinality(String),
                schema_version UInt16,
                occurred_at DateTime64(3, 'UTC'),
                aggregate_id String,
                aggregate_version UInt32,
                correlation_id String,
                producer LowCardinality(String),
                payload String,
                ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
            ) ENGINE = ReplacingMergeTree
            PARTITION BY toYYYYMM(occurred_at)
            ORDER BY (event_type, occurred_at, event_id)""",
            # Latest state of each deal: the row with the highest version wins.
            """CREATE TABLE IF NOT EXISTS {db}.deals (
                deal_id String,
                lead_id String,
                pipeline_id LowCardinality(String),
                title String,
                stage LowCardinality(String),
                status LowCardinality(String),
                lost_reason String,
                lost_at_stage LowCardinality(String),
                manager_id LowCardinality(String),
                amount Decimal(18, 2),
                currency LowCardinality(String),
                opened_at DateTime64(3, 'UTC'),
                closed_at Nullable(DateTime64(3, 'UTC')),
                updated_at DateTime64(3, 'UTC'),
                version UInt32
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY deal_id""",
            # One row per stay of a deal in a stage; the row closing a stay has a higher version.
            """CREATE TABLE IF NOT EXISTS {db}.deal_stage_intervals (
                deal_id String,
                pipeline_id LowCardinality(String),
                stage LowCardinality(String),
                entered_version UInt32,
                entered_at DateTime64(3, 'UTC'),
                left_at Nullable(DateTime64(3, 'UTC')),
                version UInt32
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (deal_id, entered_version)""",
        ],
    ),
]


def migrate(ch: ClickHouse) -> int:
    """Apply the migrations not yet recorded; returns the schema version now in force."""
    ch.command("CREATE DATABASE IF NOT EXISTS {db}")
    ch.command(
        """CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
            version UInt32, description String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
        ) ENGINE = ReplacingMergeTree ORDER BY version"""
    )
    applied = {r["version"] for r in ch.rows("SELECT version FROM {db}.schema_migrations FINAL")}
    for version, description, statements in MIGRATIONS:
        if version in applied:
            continue
        for statement in statements:
            ch.command(statement)
        ch.insert("schema_migrations", [[version, description]], ["version", "description"])
        log.info("applied migration %s: %s", version, description)
    return max(v for v, _, _ in MIGRATIONS)
