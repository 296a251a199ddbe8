"""The version of the report data: it changes whenever anything the reports read may have.

Every write to a MergeTree table makes a new part, and a merge, a mutation or an exchange of
tables (a rebuild) replaces parts: the set of active parts of the database, as the engine
lists them, is the version. Read from the engine itself, it also sees what other replicas
and processes wrote to a shared server. A few milliseconds, against a report's hundreds."""

from __future__ import annotations

import logging

from analytics.adapters.clickhouse import ClickHouse

log = logging.getLogger(__name__)

PARTS_SQL = """
SELECT count() AS parts, sum(rows) AS rows, groupBitXor(sipHash64(table, name)) AS names
FROM system.parts WHERE database = {database:String} AND active
"""


class DataVersion:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch
        self._warned = False

    def read(self) -> str | None:
        """The version, or None when the engine would not say (then nothing is kept)."""
        try:
            [row] = self.ch.rows(PARTS_SQL, {"database": self.ch.db})
        except Exception as exc:  # e.g. a server user without access to `system.parts`
            if not self._warned:
                log.warning("report answers are not kept: no data version (%s)", exc)
                self._warned = True
            return None
        return f"{row['parts']}:{row['rows']}:{row['names']}"
