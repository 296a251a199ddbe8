"""The version of the report data: it changes whenever anything the reports read may have.

Every INSERT into a MergeTree table takes a new block number, every mutation (an UPDATE, a
DELETE, a column materialised) a new mutation number, and both show in the names of the
parts. So per partition of every table, the newest block and the newest mutation there,
with where the table's data lives (an exchange of tables, as a rebuild makes, moves it), are
the version; a partition dropped or truncated drops out of it. A merge changes none of them:
it joins parts under the blocks they had, and changes no answer (reports read `FINAL` or the
latest row). So a report kept while a stream of inserts is being merged in the background
stays kept until the next INSERT, where a version of the part names changed with every merge
as well. Read from the engine itself, it also sees what other replicas and processes wrote to
a shared server. A few milliseconds, against a report's tens to hundreds."""

from __future__ import annotations

import logging

from analytics.adapters.clickhouse import ClickHouse

log = logging.getLogger(__name__)

# A part's `data_version` is its first block, or the mutation last applied to it.
PARTS_SQL = """
SELECT count() AS partitions,
       groupBitXor(sipHash64(table, replaceRegexpOne(home, '[^/]+/?$', ''), partition_id,
                             newest_block, newest_mutation)) AS hash
FROM (
    SELECT table, partition_id, any(path) AS home, max(max_block_number) AS newest_block,
           max(if(data_version != min_block_number, data_version, 0)) AS newest_mutation
    FROM system.parts WHERE database = {database:String} AND active
    GROUP BY table, partition_id
)
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
        return f"{row['partitions']}:{row['hash']}"
