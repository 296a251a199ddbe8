"""`python -m bench.settle <chdb path>`: the report tables of a freshly loaded store merged as
the service's own merges leave them once the load is an hour old (schema.SETTLED_TABLES,
SETTLED_SINCE_CREATED, and `deals` per quarter), at once. A bulk load leaves dozens of parts
that `FINAL` merges on every read; a service running for an hour has one per partition. Run
with the service stopped (one process per chDB path)."""

from __future__ import annotations

import sys
import time

import clickhouse_connect

from analytics.adapters.clickhouse import SESSION
from analytics.adapters.schema import SETTLED_SINCE_CREATED, SETTLED_TABLES
from analytics.settings import AnalyticsSettings
from bench.record import note

DATABASE = AnalyticsSettings.model_fields["database"].default


def settle(path: str) -> float:
    """Seconds it took to merge every settled table (and `deals`) into one part a partition."""
    client = clickhouse_connect.get_client(interface="chdb", path=path, settings=SESSION)
    started = time.monotonic()
    for table in ("deals", *SETTLED_TABLES, *SETTLED_SINCE_CREATED):
        client.command(f"OPTIMIZE TABLE {DATABASE}.{table} FINAL")
    return time.monotonic() - started


if __name__ == "__main__":
    note(f"settled the report tables in {settle(sys.argv[1]):.0f} s")
