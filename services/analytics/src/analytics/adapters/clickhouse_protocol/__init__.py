"""ClickHouse's own HTTP protocol for analysts over the embedded engine: read-only sessions
on chDB (`engine`) and the checks a statement passes before it runs (`guard`)."""

from analytics.adapters.clickhouse_protocol.engine import (
    ClickHouseException,
    EmbeddedEngine,
    Outcome,
    Session,
)
from analytics.adapters.clickhouse_protocol.guard import (
    check_read_only,
    output_format,
    split_settings,
)

__all__ = [
    "ClickHouseException",
    "EmbeddedEngine",
    "Outcome",
    "Session",
    "check_read_only",
    "output_format",
    "split_settings",
]
