"""The store's own id, kept in the store: an own-mode replica names its consumer after it.

In the store rather than derived from a path or a host name: two containers may mount their
data at the same path, and a wiped store must not resume a consumer whose position belongs to
the data that is gone (the new id starts a new consumer from the first event)."""

from __future__ import annotations

import uuid

from analytics.adapters.clickhouse import ClickHouse


def store_id(ch: ClickHouse) -> str:
    ch.command(
        """CREATE TABLE IF NOT EXISTS {db}.replica_identity (
            id String,
            created_at DateTime64(3, 'UTC') DEFAULT now64(3)
        ) ENGINE = MergeTree ORDER BY tuple()
        COMMENT 'This store''s id: its own-mode consumer is analytics_projection_<id>'"""
    )
    if not (found := _first(ch)):
        ch.command(
            "INSERT INTO {db}.replica_identity (id) VALUES ({id:String})",
            {"id": uuid.uuid4().hex[:12]},
        )
        found = _first(ch)  # two processes on one server at once: both keep the first
    return found


def _first(ch: ClickHouse) -> str:
    rows = ch.rows("SELECT id FROM {db}.replica_identity ORDER BY created_at, id LIMIT 1")
    return str(rows[0]["id"]) if rows else ""
